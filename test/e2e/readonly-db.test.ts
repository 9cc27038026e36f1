// A database the daemon cannot write: refused at start (exit 78) naming the user, the file and its
// directory, before anything says "started". And the WAL switch is reported, not done silently.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';
import { setupE2E } from '../helpers/e2e.js';
import { withRawDb } from '../helpers/db.js';
import { hasBinary, startNotifyListener } from '../ops/notify-listener.js';

/**
 * Who runs the CLI so that mode bits bind. Root writes through them only by CAP_DAC_OVERRIDE:
 * as root (CI), the CLI runs as root without it (setpriv drops it from the bounding set), so a
 * read-only file or directory stops it as it would the service user, while it still reads the
 * checkout wherever that is (CI clones into a mode-700 directory). Anyone else runs as themselves.
 */
function unprivileged(): { prefix: string[]; user: string } {
  const user = userInfo().username;
  if (process.getuid?.() !== 0) return { prefix: [], user };
  return { prefix: ['setpriv', '--bounding-set=-dac_override', '--inh-caps=-dac_override', '--'], user };
}

test('a database file or directory the daemon cannot write: run, sync --once and check-config exit 78 naming user, file and directory; nothing says started', async (t) => {
  const e = await setupE2E(t);
  const who = unprivileged();
  // The unprivileged user must be able to read everything else: the temp dir, config, token.
  chmodSync(e.dir, 0o755);
  chmodSync(join(e.dir, 'refresh-token'), 0o644);
  // A stand-in for systemd's notify socket, which the daemon (as that user) may send to.
  t.true(hasBinary('python3') && hasBinary('systemd-notify'), 'python3 and systemd-notify are needed for the notify listener');
  const notify = await startNotifyListener();
  t.teardown(() => notify.close());
  chmodSync(dirname(notify.socketPath), 0o755);
  chmodSync(notify.socketPath, 0o777);
  const underSystemd = ['env', `NOTIFY_SOCKET=${notify.socketPath}`, ...who.prefix];
  await e.addJob('ro');
  e.writeFile('ro', 'a.txt', 'a');
  const baseConfig = readFileSync(e.configPath, 'utf8');
  const cases = [
    { name: 'file', fileMode: 0o444, dirMode: 0o777, journal: 'wal' },
    { name: 'directory', fileMode: 0o666, dirMode: 0o555, journal: 'wal' },
    { name: 'directory-rollback-journal', fileMode: 0o666, dirMode: 0o555, journal: 'delete' },
    { name: 'both', fileMode: 0o444, dirMode: 0o555, journal: 'wal' },
    { name: 'writable', fileMode: 0o666, dirMode: 0o777, journal: 'wal' },
  ];
  for (const c of cases) {
    const dir = join(e.dir, `db-${c.name}`);
    mkdirSync(dir);
    const db = join(dir, 'batch.db');
    copyFileSync(e.dbPath, db);
    await withRawDb(db, (raw) => raw.all(`PRAGMA journal_mode = ${c.journal}`));
    chmodSync(db, c.fileMode);
    chmodSync(dir, c.dirMode);
    t.teardown(() => chmodSync(dir, 0o755)); // so the temp dir can be removed
    const cfg = join(e.dir, `config-${c.name}.yaml`);
    writeFileSync(cfg, baseConfig.replace(e.dbPath, db), { mode: 0o644 });
    const expected = `user ${who.user} cannot write ${db} (and its -wal/-shm directory): `;

    const check = await e.cli(['check-config'], { config: cfg, prefix: who.prefix });
    if (c.name === 'writable') {
      // The control: the same user, the same way of running, a writable database: all is well,
      // and the daemon's READY reaches the listener (so its absence above means something).
      t.is(check.code, 0, `${c.name}: ${check.stderr}`);
      t.false(check.stderr.includes('cannot write'), check.stderr);
      t.deepEqual(notify.messages(), [], 'no notification from the refused runs');
      t.deepEqual(e.driveFiles(), [], 'nothing was uploaded from an unwritable database');
      const d = e.startDaemon({ config: cfg, prefix: underSystemd });
      await d.waitForLog(/daemon started/, 60_000);
      const got = await notify.waitFor(1);
      t.true(
        got.some((m) => m.split('\n').includes('READY=1')),
        JSON.stringify(got),
      );
      d.kill('SIGTERM');
      t.is((await d.exited).code, 0);
      continue;
    }
    t.is(check.code, 78, `check-config, ${c.name}: ${check.stdout}${check.stderr}`);
    t.true(check.stderr.includes(`problem: database.path ${db}: ${expected}`), `check-config, ${c.name}: ${check.stderr}`);
    for (const cmd of [['run'], ['sync', '--once']]) {
      const r = await e.cli(cmd, { config: cfg, prefix: underSystemd });
      const out = r.stdout + r.stderr;
      t.is(r.code, 78, `${cmd.join(' ')}, ${c.name}: ${out}`);
      t.true(r.stderr.includes(expected), `${cmd.join(' ')}, ${c.name}: ${r.stderr}`);
      t.regex(
        r.stderr,
        c.name === 'file' ? /: file: E[A-Z]+;/ : new RegExp(`directory ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: E[A-Z]+;`),
        `names what is not writable: ${r.stderr}`,
      );
      t.notRegex(out, /daemon started|reconcile pass failed|scan done/, `${cmd.join(' ')}, ${c.name}: started anyway`);
    }
  }
  t.is(e.driveFiles().length, 1, 'the control daemon uploaded a.txt');
});

test('check-config says the daemon switches the batch database to WAL for good, and the file is WAL afterwards', async (t) => {
  const e = await setupE2E(t);
  await withRawDb(e.dbPath, (raw) => raw.all('PRAGMA journal_mode = delete'));
  const r = await e.cli(['check-config']);
  t.is(r.code, 0, r.stderr);
  t.true(r.stdout.includes(`database ${e.dbPath}: journal_mode=wal (the daemon switches the batch database to WAL for good`), r.stdout);
  const [mode] = await withRawDb(e.dbPath, (raw) => raw.all<{ journal_mode: string }>('PRAGMA journal_mode'));
  t.is(mode?.journal_mode, 'wal');
});
