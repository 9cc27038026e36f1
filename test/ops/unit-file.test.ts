import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../helpers/paths.js';

const run = promisify(execFile);
const ROOT = repoRoot();
const UNIT = join(ROOT, 'systemd', 'batch-drive-sync.service');
const SYSUSERS = join(ROOT, 'systemd', 'batch-drive-sync.sysusers');
const MAX_EXPOSURE = 2.0;

/** `Key=value` lines of one section, in order (repeated keys kept). */
function section(unit: string, name: string): [string, string][] {
  const out: [string, string][] = [];
  let current = '';
  for (const raw of unit.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) current = header[1] ?? '';
    else if (current === name) {
      const eq = line.indexOf('=');
      out.push([line.slice(0, eq), line.slice(eq + 1)]);
    }
  }
  return out;
}

function value(entries: [string, string][], key: string): string | undefined {
  return entries
    .filter(([k]) => k === key)
    .map(([, v]) => v)
    .at(-1);
}

async function requireSystemdAnalyze(t: ExecutionContext): Promise<void> {
  try {
    await run('systemd-analyze', ['--version']);
  } catch {
    t.fail('systemd-analyze not found: install the `systemd` Debian package (apt-get install -y systemd); .ci/run does this');
    throw new Error('systemd-analyze missing');
  }
}

// verify fails when ExecStart's binary is missing, so check a copy that runs this node on a real file.
async function testableCopy(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bds-unit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const unit = await readFile(UNIT, 'utf8');
  const script = join(dir, 'main.js');
  await writeFile(script, '');
  const copy = unit.replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} ${script} run --config /etc/batch-drive-sync/config.yaml`);
  t.not(copy, unit);
  const path = join(dir, 'batch-drive-sync.service');
  await writeFile(path, copy);
  return path;
}

test('the unit passes systemd-analyze verify with nothing on stderr', async (t) => {
  await requireSystemdAnalyze(t);
  const path = await testableCopy(t);
  const r = await run('systemd-analyze', ['verify', path], { cwd: join(path, '..') }).catch(
    (e: unknown) => e as { code: number; stderr: string; stdout: string },
  );
  t.is('code' in r ? r.code : 0, 0, r.stderr);
  t.is(r.stderr, '', 'warnings such as "Unknown key … ignoring" also fail');
});

test(`the unit's offline security exposure is at most ${MAX_EXPOSURE}`, async (t) => {
  await requireSystemdAnalyze(t);
  const path = await testableCopy(t);
  const r = await run('systemd-analyze', ['security', '--offline=yes', '--threshold=20', path]);
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?) (\S+)/.exec(r.stdout);
  t.truthy(m, r.stdout);
  const score = Number(m?.[1]);
  t.log(`exposure ${score} ${m?.[2] ?? ''}`);
  t.true(score <= MAX_EXPOSURE, `exposure ${score} > ${MAX_EXPOSURE}:\n${r.stdout}`);
  // The accepted trade-offs show up as ✗: the JIT needs W+X memory, the notify helper needs NotifyAccess=all.
  t.regex(r.stdout, /^✗ MemoryDenyWriteExecute=/m);
  t.regex(r.stdout, /^✗ NotifyAccess=/m);
});

test('the unit says what the daemon and the operators rely on', async (t) => {
  const unit = await readFile(UNIT, 'utf8');
  const s = section(unit, 'Service');
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  t.is(value(s, 'ExecStart'), `/usr/bin/node /opt/batch-drive-sync/${pkg.bin['batch-drive-sync'] ?? '?'} run --config /etc/batch-drive-sync/config.yaml`);
  t.like(Object.fromEntries(s), {
    Type: 'notify',
    NotifyAccess: 'all',
    WatchdogSec: '60s',
    ExecReload: '/bin/kill -HUP $MAINPID',
    Restart: 'on-failure',
    RestartPreventExitStatus: '64 78',
    TimeoutStopSec: '90s',
    User: 'batch-drive-sync',
    Group: 'batch-drive-sync',
    StateDirectory: 'batch-drive-sync',
    ConfigurationDirectory: 'batch-drive-sync',
    ReadWritePaths: '-/var/lib/batch',
    LoadCredential: 'gdrive-sa.json:/etc/credstore/batch-drive-sync.gdrive-sa.json',
    ProtectSystem: 'strict',
    NoNewPrivileges: 'yes',
    CapabilityBoundingSet: '',
  });
  t.is(value(s, 'MemoryDenyWriteExecute'), undefined, 'V8 JIT aborts under MemoryDenyWriteExecute');
  t.is(value(s, 'ProcSubset'), undefined, 'os.cpus() is empty under ProcSubset=pid');
  t.deepEqual(section(unit, 'Install'), [['WantedBy', 'multi-user.target']]);
});

test('ReadWritePaths covers the example config database and output dir', async (t) => {
  const unit = await readFile(UNIT, 'utf8');
  const rw = (value(section(unit, 'Service'), 'ReadWritePaths') ?? '').replace(/^-/, '');
  const example = join(ROOT, 'config', 'batch-drive-sync.example.yaml');
  // The README's documented defaults stand in until the example config exists.
  let dbPath = '/var/lib/batch/batch.db';
  let outputDir = '/var/lib/batch/output';
  if (existsSync(example)) {
    const cfg = parseYaml(await readFile(example, 'utf8')) as { database?: { path?: string }; watch?: { output_dir?: string } };
    dbPath = cfg.database?.path ?? '';
    outputDir = cfg.watch?.output_dir ?? '';
  }
  t.true(dbPath.startsWith(`${rw}/`), `${dbPath} not under ${rw}`);
  t.true(outputDir.startsWith(`${rw}/`), `${outputDir} not under ${rw}`);
});

test('the sysusers.d line creates the static system user the unit runs as', async (t) => {
  const lines = (await readFile(SYSUSERS, 'utf8')).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  t.is(lines.length, 1);
  t.regex(lines[0] ?? '', /^u batch-drive-sync - "[^"]+" \/var\/lib\/batch-drive-sync \/usr\/sbin\/nologin$/);
});
