// `install-service`: makes this installation (a clone's build, `npm install -g`, or the .deb's
// files) a systemd service in one idempotent step, then checks what the service will need and
// says exactly what is missing. Run it again after editing the config: once nothing is missing
// it applies the migrations as the service user and starts the service.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig, packageRoot, type Config } from '../config/index.js';
import { errorMessage } from '../log/index.js';
import type { Io } from './commands.js';
import { EXIT, UsageError } from './errors.js';

export const SERVICE = 'batch-drive-sync';
const TEMPLATE_EXEC = '/usr/bin/node /opt/batch-drive-sync/dist/src/cli/main.js';
const TEMPLATE_PREFIX = '/opt/batch-drive-sync';
const MIN_NODE: readonly [number, number] = [20, 19];
// ProtectHome=yes hides these from the service: an installation there cannot start.
const HIDDEN = ['/home', '/root', '/run/user'];
const CREDENTIAL = 'gdrive-sa.json';

export interface InstallOptions {
  /** Install into this root (a throwaway root, packaging): no systemctl, no migrate, users and files created there. */
  root: string;
  configPath: string;
  dryRun: boolean;
  /** Only check; change nothing. */
  checkOnly: boolean;
  /** Do not apply migrations or start the service even when everything checks out. */
  noStart: boolean;
  io: Io;
  /** The node binary the unit runs (default: the one running this). */
  nodePath?: string;
}

interface Plan {
  /** This installation as seen inside the root (ExecStart path). */
  appDir: string;
  node: string;
  uid: number | null;
  gid: number | null;
}

export async function installService(o: InstallOptions): Promise<number> {
  const say = (s: string) => o.io.stdout.write(`${s}\n`);
  const root = resolve(o.root);
  const inRoot = (p: string) => join(root, p);
  const onHost = root === '/';
  const app = packageRoot();
  const appDir = onHost ? app : '/' + relative(root, app);
  if (!onHost && appDir.startsWith('/..'))
    throw new UsageError(`--root ${root}: this installation (${app}) is not inside it; install the package into the root first`);
  const plan: Plan = { appDir, node: o.nodePath ?? process.execPath, uid: null, gid: null };
  const changing = !o.checkOnly;
  const act = (what: string, fn: () => void) => {
    say(`${o.dryRun ? 'would ' : ''}${what}`);
    if (!o.dryRun) fn();
  };

  if (changing) {
    if (onHost && process.getuid?.() !== 0 && !o.dryRun)
      throw new UsageError('install-service changes /etc: run it as root (or with --root DIR, or --dry-run)');
    if (HIDDEN.some((h) => appDir === h || appDir.startsWith(h + '/'))) {
      throw new UsageError(
        `this installation is in ${appDir}, which the unit's ProtectHome=yes hides from the service; install it elsewhere (npm install -g with a system prefix, or a clone under /opt)`,
      );
    }
    // 1. The user (sysusers.d), so later steps can give it files and grants.
    const sysusers = inRoot(`/etc/sysusers.d/${SERVICE}.conf`);
    act(`write ${sysusers}`, () => writeFile(sysusers, readFileSync(join(app, 'systemd', `${SERVICE}.sysusers`), 'utf8'), 0o644));
    act(`run systemd-sysusers${onHost ? '' : ` --root=${root}`}`, () => run('systemd-sysusers', [...(onHost ? [] : [`--root=${root}`]), sysusers]));
  }
  const ids = userIds(root);
  plan.uid = ids?.uid ?? null;
  plan.gid = ids?.gid ?? null;

  // 2. The config: the example, once; never overwritten.
  const configFile = inRoot(o.configPath);
  if (changing && !existsSync(configFile)) {
    act(`write ${configFile} from the example (root:${SERVICE} 0640: it may hold an OAuth client secret)`, () => {
      writeFile(configFile, readFileSync(join(app, 'config', `${SERVICE}.example.yaml`), 'utf8'), 0o640);
      if (plan.gid !== null) chownSync(configFile, 0, plan.gid);
    });
  } else if (changing) say(`keep ${configFile} (never overwritten)`);
  let cfg: Readonly<Config> | null = null;
  let configProblem: string | null = null;
  try {
    cfg = existsSync(configFile) ? loadConfig(configFile, { CREDENTIALS_DIRECTORY: inRoot('/etc/credstore') }) : null;
  } catch (e) {
    configProblem = e instanceof ConfigError ? e.problems.join('; ') : errorMessage(e);
  }
  // Paths from the config are the service's view; under --root they live inside the root.
  // With database.url (PostgreSQL) there is no local database file to grant access to.
  const dbPath = cfg ? (cfg.database.path ?? null) : '/var/lib/batch/batch.db';
  const outputDir = cfg ? cfg.watch.output_dir : '/var/lib/batch/output';

  if (changing) {
    // 3. The unit, pointed at this installation and at the database's directory.
    const unit = inRoot(`/etc/systemd/system/${SERVICE}.service`);
    const dbDir = dbPath === null ? null : dirname(dbPath);
    act(`write ${unit} (ExecStart=${plan.node} ${appDir}/dist/src/cli/main.js${dbDir ? `; ReadWritePaths=-${dbDir}` : ''})`, () =>
      writeFile(unit, renderUnit(readFileSync(join(app, 'systemd', `${SERVICE}.service`), 'utf8'), plan, o.configPath, dbDir), 0o644),
    );
    // 4. State directory and grants (tmpfiles.d, so they are re-applied at boot).
    const tmpfiles = inRoot(`/etc/tmpfiles.d/${SERVICE}.conf`);
    act(`write ${tmpfiles} (state dir; ${dbPath ? `write access to ${dirname(dbPath)}, ` : ''}read access to ${outputDir})`, () =>
      writeFile(tmpfiles, renderTmpfiles(plan.uid, dbPath, outputDir, o.configPath), 0o644),
    );
    act(`run systemd-tmpfiles --create${onHost ? '' : ` --root=${root}`}`, () =>
      run('systemd-tmpfiles', ['--create', ...(onHost ? [] : [`--root=${root}`]), tmpfiles]),
    );
    const credstore = inRoot('/etc/credstore');
    act(`make ${credstore} (root 0700: LoadCredential= reads the key from there)`, () => {
      mkdirSync(credstore, { recursive: true, mode: 0o700 });
      chmodSync(credstore, 0o700);
    });
    if (onHost && existsSync('/run/systemd/system')) act('run systemctl daemon-reload', () => run('systemctl', ['daemon-reload']));
  }
  if (o.dryRun) return EXIT.ok;

  // 5. The check: everything the service needs, each missing piece named with its fix.
  const missing = check({ root, onHost, plan, cfg, configProblem, configFile, dbPath, outputDir });
  say('');
  if (missing.length) {
    say(`not ready yet; missing (${missing.length}):`);
    for (const m of missing) say(`  - ${m}`);
    say(`then run "batch-drive-sync install-service" again (it is idempotent).`);
    return EXIT.config;
  }
  say('everything the service needs is in place');
  if (!onHost || o.checkOnly || o.noStart) return EXIT.ok;
  // 6. Migrate as the service user (so -wal/-shm are its own), then start.
  const cli = join(app, 'dist', 'src', 'cli', 'main.js');
  say(`run batch-drive-sync migrate as ${SERVICE}`);
  const m = spawnSync('setpriv', ['--reuid', SERVICE, '--regid', SERVICE, '--init-groups', '--', plan.node, cli, 'migrate', '--config', o.configPath], {
    encoding: 'utf8',
  });
  o.io.stdout.write(m.stdout);
  if (m.status !== 0) {
    o.io.stderr.write(m.stderr);
    return m.status ?? EXIT.failure;
  }
  if (existsSync('/run/systemd/system')) {
    say(`run systemctl enable --now ${SERVICE}`);
    run('systemctl', ['enable', '--now', SERVICE]);
    say(`done: systemctl status ${SERVICE}; journalctl -u ${SERVICE} -p warning`);
  } else say(`systemd is not running here: start it with "systemctl enable --now ${SERVICE}" on the target machine`);
  return EXIT.ok;
}

/** The shipped unit with ExecStart, Documentation, WorkingDirectory and ReadWritePaths for this installation. */
export function renderUnit(template: string, plan: Pick<Plan, 'appDir' | 'node'>, configPath: string, dbDir: string | null): string {
  const unit = template
    .replace(/^# Installed by .*$/m, `# Written by \`batch-drive-sync install-service\` for ${plan.appDir}; run it again after an upgrade.`)
    .replace(
      `ExecStart=${TEMPLATE_EXEC} run --config ${DEFAULT_CONFIG_PATH}`,
      `ExecStart=${plan.node} ${plan.appDir}/dist/src/cli/main.js run --config ${configPath}`,
    )
    .replaceAll(TEMPLATE_PREFIX, plan.appDir);
  // PostgreSQL (database.url): no local database directory to open up.
  return dbDir === null ? unit : unit.replace(/^ReadWritePaths=.*$/m, `ReadWritePaths=-${dbDir}`);
}

/**
 * tmpfiles.d lines: the state directory, and ACLs giving the service user write access to the
 * database's directory and files (SQLite makes -wal/-shm there) and read access to the output
 * directory, with default ACLs so what the batch system creates later is covered too (SQLite
 * gives a new -wal/-shm the database file's mode, whose group bits are the ACL mask, so the
 * grant carries over to them). ACL
 * entries name the uid: tmpfiles parses them with the host's user database.
 */
export function renderTmpfiles(uid: number | null, dbPath: string | null, outputDir: string, configPath: string): string {
  const u = uid ?? SERVICE;
  return [
    `# Written by "batch-drive-sync install-service" from ${configPath}; run it again when`,
    '# database.path or watch.output_dir change. Applied at boot and by `systemd-tmpfiles --create`.',
    `d /var/lib/${SERVICE} 0750 ${SERVICE} ${SERVICE} -`,
    ...(dbPath === null ? [] : [`a+ ${dirname(dbPath)} - - - - u:${u}:rwx,d:u:${u}:rw`, `a+ ${dbPath}* - - - - u:${u}:rw`]),
    `a+ ${outputDir} - - - - u:${u}:rx,d:u:${u}:rx`,
    '',
  ].join('\n');
}

function check(c: {
  root: string;
  onHost: boolean;
  plan: Plan;
  cfg: Readonly<Config> | null;
  configProblem: string | null;
  configFile: string;
  dbPath: string | null;
  outputDir: string;
}): string[] {
  const inRoot = (p: string) => join(c.root, p);
  const out: string[] = [];
  if (c.plan.uid === null) out.push(`user ${SERVICE}: does not exist (systemd-sysusers ${SERVICE}.conf did not create it)`);
  for (const f of [`/etc/systemd/system/${SERVICE}.service`, `/etc/tmpfiles.d/${SERVICE}.conf`, `/etc/sysusers.d/${SERVICE}.conf`]) {
    if (!existsSync(inRoot(f))) out.push(`${f}: not installed`);
  }
  const main = join(c.plan.appDir, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(inRoot(main))) out.push(`${main}: missing (ExecStart runs it)`);
  if (c.onHost) {
    const v = spawnSync(c.plan.node, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    const [maj = 0, min = 0] = (v.stdout ?? '').trim().split('.').map(Number);
    if (v.status !== 0) out.push(`${c.plan.node}: cannot run it (ExecStart needs Node.js >= ${MIN_NODE.join('.')})`);
    else if (maj < MIN_NODE[0] || (maj === MIN_NODE[0] && min < MIN_NODE[1]))
      out.push(`${c.plan.node} is Node.js ${v.stdout.trim()}; >= ${MIN_NODE.join('.')} is needed`);
  } else if (!existsSync(inRoot(c.plan.node))) out.push(`${c.plan.node}: not in the root (ExecStart runs it; install Node.js >= ${MIN_NODE.join('.')} there)`);

  if (c.configProblem) out.push(`config ${c.configFile}: ${c.configProblem}`);
  else if (!c.cfg) out.push(`config ${c.configFile}: missing`);
  else {
    if (/REPLACE|<folder id>/i.test(c.cfg.drive.root_folder_id))
      out.push(`config ${c.configFile}: drive.root_folder_id is still the example placeholder; set the id of the Drive folder the job folders go in`);
    const a = c.cfg.auth;
    if (a.type === 'service_account') {
      const cred = inRoot(`/etc/credstore/${SERVICE}.${CREDENTIAL}`);
      const bare = !a.key_file.startsWith(inRoot('/etc/credstore/')) ? null : a.key_file.slice(inRoot('/etc/credstore/').length);
      if (bare === CREDENTIAL && !existsSync(cred)) {
        out.push(`${cred}: the service-account key is missing; install -m 0600 -o root -g root KEY.json ${cred}`);
      } else if (bare !== null && bare !== CREDENTIAL) {
        out.push(`auth.key_file ${bare}: the unit loads only the credential ${CREDENTIAL} (LoadCredential=); use that name, or add a LoadCredential= drop-in`);
      } else if (bare === null && !existsSync(inRoot(a.key_file))) out.push(`auth.key_file ${a.key_file}: missing`);
    } else if (!existsSync(inRoot(a.refresh_token_file))) out.push(`auth.refresh_token_file ${a.refresh_token_file}: missing`);
  }
  if (c.plan.uid === null) return out;
  const db = c.dbPath === null ? null : inRoot(c.dbPath);
  const access = (p: string, m: string) =>
    spawnSync('setpriv', ['--reuid', String(c.plan.uid), '--regid', String(c.plan.gid), '--clear-groups', '--', 'test', `-${m}`, p]).status === 0;
  const need = (p: string, modes: string, why: string) => {
    if (!existsSync(p)) return out.push(`${p}: does not exist (${why})`);
    const lacking = [...modes].filter((m) => !access(p, m));
    if (lacking.length)
      out.push(
        `${p}: ${SERVICE} lacks ${lacking.map((m) => ({ r: 'read', w: 'write', x: 'search' })[m]).join('+')} access (${why}); check /etc/tmpfiles.d/${SERVICE}.conf and run systemd-tmpfiles --create`,
      );
    return 0;
  };
  if (db !== null) {
    need(dirname(db), 'rwx', 'SQLite creates -wal/-shm there');
    need(db, 'rw', "the batch system's database");
    for (const s of ['-wal', '-shm']) if (existsSync(db + s)) need(db + s, 'rw', 'SQLite writes it');
  }
  need(inRoot(c.outputDir), 'rx', "the jobs' files are read there");
  return out;
}

function userIds(root: string): { uid: number; gid: number } | null {
  const passwd = join(root, 'etc', 'passwd');
  if (!existsSync(passwd)) return null;
  const m = new RegExp(`^${SERVICE}:[^:]*:(\\d+):(\\d+):`, 'm').exec(readFileSync(passwd, 'utf8'));
  return m ? { uid: Number(m[1]), gid: Number(m[2]) } : null;
}

function writeFile(path: string, text: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd}: ${r.error.message} (is the systemd package installed?)`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  // tmpfiles reports an ACL it could not apply on stderr and still exits 0.
  if (/Failed to parse ACL|Ignoring/.test(r.stderr)) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
}
