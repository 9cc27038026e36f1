// The install from a clone (systemd/install.sh → install-service) into a throwaway root, and
// the npm tarball's contents. The real build is installed: tests, benchmarks and source maps
// must stay behind, and the check must say exactly what is missing until nothing is.
import { execFile, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile, cp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { REPO } from '../helpers/e2e.js';

const run = promisify(execFile);
const NAME = 'batch-drive-sync';

async function tempRoot(t: ExecutionContext): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'bds-install-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  // The service user must be able to walk down to the root's files, as on a real /.
  await chmod(base, 0o755);
  return base;
}

function install(dest: string, args: string[] = [], src = REPO) {
  return run('bash', [join(src, 'systemd', 'install.sh'), ...args], { env: { ...process.env, DESTDIR: dest, SRC: src }, maxBuffer: 16 << 20 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;
const asUser = (uid: number, flag: string, p: string) =>
  spawnSync('setpriv', ['--reuid', String(uid), '--regid', String(uid), '--clear-groups', '--', 'test', flag, p]).status === 0;

test('install.sh from a clone into a throwaway root: app without tests or maps, user, unit at the installed CLI, grants; the check lists what is missing until nothing is', async (t) => {
  const dest = await tempRoot(t);
  const first = await install(dest, ['--no-start']);
  t.is(first.code, 78, first.stdout + first.stderr);
  const app = join(dest, 'opt', NAME);
  t.true(existsSync(join(app, 'dist', 'src', 'cli', 'main.js')));
  t.false(existsSync(join(app, 'dist', 'test')), 'no tests');
  t.false(existsSync(join(app, 'dist', 'bench')), 'no benchmarks');
  const maps = spawnSync('find', [app, '-name', '*.map', '-not', '-path', '*/node_modules/*'], { encoding: 'utf8' }).stdout.trim();
  t.is(maps, '', 'no source maps');
  t.true(existsSync(join(app, 'docs', 'operations.md')) && existsSync(join(app, 'LICENSE')));
  t.false((await readdir(join(app, 'node_modules'))).includes('ava'), 'devDependencies pruned');

  const unit = await readFile(join(dest, 'etc', 'systemd', 'system', `${NAME}.service`), 'utf8');
  t.regex(unit, new RegExp(`^ExecStart=\\S+/node /opt/${NAME}/dist/src/cli/main\\.js run --config /etc/${NAME}/config\\.yaml$`, 'm'));
  t.regex(unit, new RegExp(`^Documentation=file:/opt/${NAME}/docs/operations\\.md$`, 'm'));
  t.regex(unit, /^ReadWritePaths=-\/var\/lib\/batch$/m);
  const passwd = await readFile(join(dest, 'etc', 'passwd'), 'utf8');
  const m = new RegExp(`^${NAME}:x:(\\d+):(\\d+):[^:]*:/var/lib/${NAME}:/usr/sbin/nologin$`, 'm').exec(passwd);
  t.truthy(m, 'the system user exists in the root');
  const uid = Number(m![1]);
  const config = join(dest, 'etc', NAME, 'config.yaml');
  t.is(await mode(config), 0o640);
  t.is((await stat(config)).gid, Number(m![2]));
  t.is(await mode(join(dest, 'etc', 'credstore')), 0o700);
  t.is(await mode(join(dest, 'var', 'lib', NAME)), 0o750, 'state dir from tmpfiles.d');
  const tmpfiles = await readFile(join(dest, 'etc', 'tmpfiles.d', `${NAME}.conf`), 'utf8');
  t.true(tmpfiles.includes(`a+ /var/lib/batch - - - - u:${uid}:rwx,d:u:${uid}:rw\n`));
  t.true(tmpfiles.includes(`a+ /var/lib/batch/output - - - - u:${uid}:rx,d:u:${uid}:rx\n`));
  const wrapper = await readFile(join(dest, 'usr', 'local', 'bin', NAME), 'utf8');
  t.regex(wrapper, new RegExp(`^#!/bin/sh\\nexec \\S+/node /opt/${NAME}/dist/src/cli/main\\.js "\\$@"\\n$`));

  // What is missing, in words an operator can act on.
  t.regex(first.stdout, /not ready yet; missing \(\d+\):/);
  t.regex(first.stdout, /drive\.root_folder_id is still the example placeholder/);
  t.regex(first.stdout, new RegExp(`/etc/credstore/${NAME}\\.gdrive-sa\\.json: the service-account key is missing; install -m 0600`));
  t.regex(first.stdout, /\/var\/lib\/batch\/batch\.db: does not exist/);
  t.regex(first.stdout, /\/var\/lib\/batch\/output: does not exist/);

  // The batch system's files appear (root-owned, a database not group-writable), the operator edits the config.
  await mkdir(join(dest, 'var', 'lib', 'batch', 'output', 'job-1'), { recursive: true, mode: 0o750 });
  await chmod(join(dest, 'var', 'lib', 'batch'), 0o750);
  await writeFile(join(dest, 'var', 'lib', 'batch', 'batch.db'), '', { mode: 0o640 });
  await writeFile(config, (await readFile(config, 'utf8')).replace('REPLACE-WITH-FOLDER-ID', '1AbCdEfG'));
  await writeFile(join(dest, 'etc', 'credstore', `${NAME}.gdrive-sa.json`), '{}', { mode: 0o600 });
  // The node ExecStart names (the one on PATH: /usr/bin/node, or CI's Node 26 from the registry), inside the root.
  const nodeInUnit = /^ExecStart=(\S+) /m.exec(unit)?.[1] ?? '/usr/bin/node';
  await mkdir(join(dest, dirname(nodeInUnit)), { recursive: true });
  if (!existsSync(join(dest, nodeInUnit))) await symlink(process.execPath, join(dest, nodeInUnit));
  t.false(asUser(uid, '-w', join(dest, 'var', 'lib', 'batch', 'batch.db')), 'no access before the grants are applied');
  const second = await install(dest, ['--no-start']);
  t.is(second.code, 0, second.stdout + second.stderr);
  t.regex(second.stdout, /everything the service needs is in place/);
  t.regex(second.stdout, /keep .*config\.yaml \(never overwritten\)/);
  t.regex(await readFile(config, 'utf8'), /1AbCdEfG/);
  t.true(asUser(uid, '-w', join(dest, 'var', 'lib', 'batch')), 'write access to the database directory (ACL)');
  t.true(asUser(uid, '-w', join(dest, 'var', 'lib', 'batch', 'batch.db')), 'write access to the database (ACL)');
  t.true(asUser(uid, '-r', join(dest, 'var', 'lib', 'batch', 'output')) && asUser(uid, '-x', join(dest, 'var', 'lib', 'batch', 'output')));
});

test('install.sh --dry-run prints the plan and changes nothing; refuses without a build; rejects unknown options', async (t) => {
  const dest = join(await tempRoot(t), 'root');
  const r = await install(dest, ['--dry-run']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^\+ npm prune --omit=dev/m);
  t.regex(r.stdout, /install-service --root /);
  t.false(existsSync(dest), 'nothing written under DESTDIR');

  const src = join(await tempRoot(t), 'src');
  await mkdir(src);
  await cp(join(REPO, 'systemd'), join(src, 'systemd'), { recursive: true });
  const nobuild = await install(dest, [], src);
  t.is(nobuild.code, 1);
  t.regex(nobuild.stderr, /npm ci && npm run build/);
  const u = await install(dest, ['--bogus']);
  t.is(u.code, 64);
  t.false(existsSync(dest));
});

test('npm tarball: lean (no tests, benchmarks, source maps or build info) and complete (LICENSE, docs, monitoring, migrations, unit)', async (t) => {
  const r = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, maxBuffer: 16 << 20 });
  const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  t.deepEqual(
    files.filter((f) => /^dist\/(test|bench)\/|\.map$|tsbuildinfo/.test(f)),
    [],
  );
  t.deepEqual(
    files.filter((f) => !/^(dist\/src\/|migrations\/|config\/|systemd\/|docs\/|monitoring\/|LICENSE$|README\.md$|package\.json$)/.test(f)),
    [],
  );
  for (const need of [
    'LICENSE',
    'README.md',
    'docs/operations.md',
    'dist/src/cli/main.js',
    'migrations/006_progress.sql',
    `systemd/${NAME}.service`,
    `systemd/${NAME}.sysusers`,
    `config/${NAME}.example.yaml`,
    'monitoring/prometheus/batch-drive-sync.rules.yml',
    'monitoring/grafana/batch-drive-sync.json',
  ]) {
    t.true(files.includes(need), need);
  }
  // The unit's Documentation= names a file the package carries.
  const doc = /^Documentation=file:\/opt\/batch-drive-sync\/(\S+)$/m.exec(await readFile(join(REPO, 'systemd', `${NAME}.service`), 'utf8'))?.[1];
  t.true(doc !== undefined && files.includes(doc), `Documentation= ${doc}`);
});
