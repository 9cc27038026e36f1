import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const NAME = 'batch-drive-sync';

// A small stand-in for a built source tree (real systemd/ files, fake build output), so the test
// neither depends on a build nor copies the real node_modules.
async function fakeSource(t: ExecutionContext): Promise<{ src: string; dest: string }> {
  const base = await mkdtemp(join(tmpdir(), 'bds-install-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const src = join(base, 'src');
  const dest = join(base, 'root');
  await mkdir(join(src, 'dist', 'src', 'cli'), { recursive: true });
  await mkdir(join(src, 'migrations'));
  await mkdir(join(src, 'config'));
  await mkdir(join(src, 'node_modules', 'runtime-dep'), { recursive: true });
  await mkdir(join(src, 'node_modules', 'dev-only'), { recursive: true });
  await cp(join(ROOT, 'systemd'), join(src, 'systemd'), { recursive: true });
  await writeFile(join(src, 'dist', 'src', 'cli', 'main.js'), 'export {};\n');
  await writeFile(join(src, 'migrations', '001_seed.sql'), 'SELECT 1;\n');
  await writeFile(join(src, 'config', `${NAME}.example.yaml`), 'database: { path: /var/lib/batch/batch.db }\n');
  const pkg = { name: 'fake', version: '1.0.0', dependencies: { 'runtime-dep': '1.0.0' }, devDependencies: { 'dev-only': '1.0.0' } };
  await writeFile(join(src, 'package.json'), JSON.stringify(pkg));
  await writeFile(
    join(src, 'package-lock.json'),
    JSON.stringify({
      name: 'fake',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': pkg,
        'node_modules/runtime-dep': { version: '1.0.0' },
        'node_modules/dev-only': { version: '1.0.0', dev: true },
      },
    }),
  );
  await writeFile(join(src, 'node_modules', 'runtime-dep', 'package.json'), '{"name":"runtime-dep","version":"1.0.0"}');
  await writeFile(join(src, 'node_modules', 'dev-only', 'package.json'), '{"name":"dev-only","version":"1.0.0"}');
  return { src, dest };
}

function install(src: string, dest: string, args: string[] = []) {
  return run('bash', [join(src, 'systemd', 'install.sh'), ...args], {
    env: { ...process.env, DESTDIR: dest, SRC: src },
  });
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;

test('--dry-run prints the plan and changes nothing', async (t) => {
  const { src, dest } = await fakeSource(t);
  const r = await install(src, dest, ['--dry-run']);
  t.regex(r.stdout, new RegExp(`^\\+ install -m 0644 \\S+/${NAME}.service ${dest}/etc/systemd/system/${NAME}.service$`, 'm'));
  t.regex(r.stdout, /^\+ npm prune --omit=dev/m);
  t.regex(r.stdout, /systemctl enable --now batch-drive-sync/);
  t.false(existsSync(dest), 'nothing written under DESTDIR');
});

test('installs app, unit, sysusers, config and credstore into DESTDIR', async (t) => {
  const { src, dest } = await fakeSource(t);
  const r = await install(src, dest);
  const app = join(dest, 'opt', NAME);
  t.true(existsSync(join(app, 'dist', 'src', 'cli', 'main.js')));
  t.true(existsSync(join(app, 'migrations', '001_seed.sql')));
  t.true(existsSync(join(app, 'package-lock.json')));
  t.deepEqual((await readdir(join(app, 'node_modules'))).filter((n) => !n.startsWith('.')), ['runtime-dep'], 'devDependencies pruned');
  t.is(
    await readFile(join(dest, 'etc', 'systemd', 'system', `${NAME}.service`), 'utf8'),
    await readFile(join(ROOT, 'systemd', `${NAME}.service`), 'utf8'),
  );
  t.is(
    await readFile(join(dest, 'etc', 'sysusers.d', `${NAME}.conf`), 'utf8'),
    await readFile(join(ROOT, 'systemd', `${NAME}.sysusers`), 'utf8'),
  );
  const config = join(dest, 'etc', NAME, 'config.yaml');
  t.is(await readFile(config, 'utf8'), 'database: { path: /var/lib/batch/batch.db }\n');
  t.is(await mode(config), 0o640);
  t.is(await mode(join(dest, 'etc', 'credstore')), 0o700);
  const wrapper = join(dest, 'usr', 'local', 'bin', NAME);
  t.is(await readFile(wrapper, 'utf8'), `#!/bin/sh\nexec /usr/bin/node /opt/${NAME}/dist/src/cli/main.js "$@"\n`);
  t.is(await mode(wrapper), 0o755);
  // systemd-sysusers --root= created the user inside DESTDIR, and the config belongs to its group.
  const passwd = await readFile(join(dest, 'etc', 'passwd'), 'utf8');
  t.regex(passwd, new RegExp(`^${NAME}:x:\\d+:\\d+:[^:]*:/var/lib/${NAME}:/usr/sbin/nologin$`, 'm'));
  const gid = Number(new RegExp(`^${NAME}:x:(\\d+):`, 'm').exec(await readFile(join(dest, 'etc', 'group'), 'utf8'))?.[1]);
  t.is((await stat(config)).gid, gid);
  t.regex(r.stdout, /not calling systemctl daemon-reload/);
  t.regex(r.stdout, /journalctl -u batch-drive-sync -p warning/);
  t.regex(r.stdout, /batch-drive-sync migrate/);
  t.regex(r.stdout, /\/etc\/credstore\/batch-drive-sync\.gdrive-sa\.json/);
});

test('running it again keeps the edited config and drops stale build files', async (t) => {
  const { src, dest } = await fakeSource(t);
  await install(src, dest);
  const config = join(dest, 'etc', NAME, 'config.yaml');
  await writeFile(config, 'edited: true\n');
  const stale = join(dest, 'opt', NAME, 'dist', 'old-module.js');
  await writeFile(stale, '');
  const r = await install(src, dest);
  t.is(await readFile(config, 'utf8'), 'edited: true\n');
  t.regex(r.stdout, /keeping existing .*config\.yaml/);
  t.false(existsSync(stale));
  t.true(existsSync(join(dest, 'opt', NAME, 'dist', 'src', 'cli', 'main.js')));
});

test('refuses to install without a build, and rejects unknown options', async (t) => {
  const { src, dest } = await fakeSource(t);
  await rm(join(src, 'dist'), { recursive: true });
  const e = await t.throwsAsync(install(src, dest));
  t.like(e, { code: 1 });
  t.regex((e as Error & { stderr: string }).stderr, /npm ci && npm run build/);
  const u = await t.throwsAsync(install(src, dest, ['--bogus']));
  t.like(u, { code: 64 });
  t.false(existsSync(dest));
});
