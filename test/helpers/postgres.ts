/**
 * A real, throwaway PostgreSQL server for the tests (and benchmarks): the server binaries of
 * the machine (`pg_config --bindir`, Debian's `postgresql` package), a temp data directory, a
 * free port on 127.0.0.1. One server per process, started on first use and stopped at exit;
 * every test gets a database of its own on it.
 *
 * PostgreSQL refuses to run as root, which CI is: as root the server runs as the `postgres`
 * user (runuser) with a data directory that user owns. `initdb` runs once per machine and
 * user into a cached template that each server copies (a copy takes milliseconds, initdb
 * seconds). Durability is off (fsync, synchronous_commit): these databases are thrown away.
 *
 * Nothing here skips: a server that cannot start fails the test with the reason.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import pg from 'pg';
import { PG_TYPES } from '../../src/db/postgres/index.js';

/** The superuser's password on test servers (tests check it never shows up in output). */
export const PG_TEST_PASSWORD = 'bds-pg-test-Pw-7e1c';

export interface PgServer {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** postgres://postgres:<password>@127.0.0.1:<port>/<db> */
  url(db: string, opts?: { user?: string; password?: string | null }): string;
  /** A query on the server's `postgres` database as superuser. */
  admin<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Stops the server (fast shutdown: sessions are cut, as a restart by an operator does). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  close(): Promise<void>;
}

function bindir(): string {
  const tried: string[] = [];
  try {
    const d = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    if (existsSync(join(d, 'initdb'))) return d;
    tried.push(`pg_config --bindir → ${d} (no initdb there)`);
  } catch (e) {
    tried.push(`pg_config: ${(e as Error).message.split('\n')[0]}`);
  }
  for (const v of ['17', '16', '15', '14', '13']) {
    const d = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(join(d, 'initdb'))) return d;
  }
  throw new Error(
    `PostgreSQL server binaries not found (${tried.join('; ')}; nor /usr/lib/postgresql/*/bin/initdb): install Debian's "postgresql" package (.ci/run does)`,
  );
}

/** As root: the postgres user's uid/gid and a command prefix running as it. */
function runAs(): { prefix: string[]; uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  let uid: number, gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    throw new Error(
      'running as root, and there is no "postgres" user to run the PostgreSQL server as (PostgreSQL refuses root); install Debian\'s "postgresql" package',
    );
  }
  return { prefix: ['runuser', '-u', 'postgres', '--'], uid, gid };
}

function run(cmd: string[], what: string): void {
  try {
    execFileSync(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${what} failed: ${(err.stderr || err.message).trim().split('\n').slice(-5).join(' | ')}`, { cause: e });
  }
}

function chownTree(path: string, who: { uid: number; gid: number } | null): void {
  if (!who) return;
  run(['chown', '-R', `${who.uid}:${who.gid}`, path], `chown ${path}`);
}

/** initdb once per machine/user/version into a cached template (other processes wait for it). */
async function template(bin: string, who: ReturnType<typeof runAs>): Promise<string> {
  const tag = bin.replace(/[^A-Za-z0-9]+/g, '_');
  const final = join(tmpdir(), `bds-pg-template-${process.getuid?.() ?? 'u'}-${tag}`);
  if (existsSync(join(final, 'PG_VERSION'))) return final;
  const lock = `${final}.lock`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(join(final, 'PG_VERSION'))) return final;
      if (Date.now() > deadline) throw new Error(`waited 2 minutes for another process to initdb ${final} (remove ${lock} if it is stale)`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (existsSync(join(final, 'PG_VERSION'))) return final;
    const work = `${final}.tmp-${process.pid}`;
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { mode: 0o700 });
    const pwfile = join(work, '..', `bds-pg-pw-${process.pid}`);
    writeFileSync(pwfile, PG_TEST_PASSWORD + '\n', { mode: 0o644 });
    chownTree(work, who);
    try {
      run(
        [
          ...(who?.prefix ?? []),
          join(bin, 'initdb'),
          '-D',
          work,
          '-U',
          'postgres',
          `--pwfile=${pwfile}`,
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          '-E',
          'UTF8',
          '--locale=C',
          '--no-sync',
        ],
        'initdb',
      );
    } finally {
      rmSync(pwfile, { force: true });
    }
    renameSync(work, final);
    return final;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitReady(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`PostgreSQL exited (${child.exitCode ?? child.signalCode}) while starting: ${log().trim().split('\n').slice(-5).join(' | ')}`);
    }
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: PG_TEST_PASSWORD, database: 'postgres', connectionTimeoutMillis: 2000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      return;
    } catch (e) {
      await c.end().catch(() => undefined);
      if (Date.now() > deadline)
        throw new Error(`PostgreSQL on port ${port} not ready after 60 s: ${(e as Error).message}; server log: ${log().slice(-500)}`, { cause: e });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Starts a new server (callers usually want the per-process one: `pgServer()`). */
export async function startPgServer(): Promise<PgServer> {
  const bin = bindir();
  const who = runAs();
  const tpl = await template(bin, who);
  const dataDir = mkdtempSync(join(tmpdir(), 'bds-pg-'));
  run(['cp', '-a', `${tpl}/.`, dataDir], 'copying the initdb template');
  chownTree(dataDir, who);
  chmodSync(dataDir, 0o700);
  if (who) chownSync(dataDir, who.uid, who.gid);
  const port = await freePort();
  let child: ChildProcess | null = null;
  let serverLog = '';

  const start = async () => {
    serverLog = '';
    const args = [
      join(bin, 'postgres'),
      '-D',
      dataDir,
      '-p',
      String(port),
      '-k',
      dataDir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=300',
      '-c',
      'shared_buffers=64MB',
      '-c',
      'logging_collector=off',
    ];
    const cmd = [...(who?.prefix ?? []), ...args];
    const c = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout?.on('data', (d: Buffer) => (serverLog = (serverLog + String(d)).slice(-20_000)));
    c.stderr?.on('data', (d: Buffer) => (serverLog = (serverLog + String(d)).slice(-20_000)));
    // The server must not keep the test process alive: it is stopped at exit.
    c.unref();
    for (const st of [c.stdout, c.stderr]) (st as unknown as { unref?: () => void } | null)?.unref?.();
    child = c;
    await waitReady(port, c, () => serverLog);
    // A watchdog stops the server when this process is gone, even after a SIGKILL (a test
    // worker killed by a timeout would otherwise leave a server running).
    const pid = postmasterPid();
    if (pid) {
      const script = `while [ -d /proc/${process.pid} ] && [ -d /proc/${pid} ]; do sleep 1; done; kill -QUIT ${pid} 2>/dev/null`;
      spawn('sh', ['-c', script], { stdio: 'ignore', detached: true }).unref();
    }
  };

  /** The postmaster's own pid (runuser may sit in between). */
  const postmasterPid = (): number | null => {
    try {
      return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return null;
    }
  };

  const stop = async () => {
    const c = child;
    if (!c) return;
    const pid = postmasterPid();
    if (pid) process.kill(pid, 'SIGINT');
    else c.kill('SIGINT');
    // Held while waiting: an unref'd child alone would let the process end before its exit.
    c.ref();
    if (c.exitCode === null && c.signalCode === null) await new Promise((r) => c.once('exit', r));
    child = null;
  };

  const onExit = () => {
    const pid = postmasterPid();
    try {
      if (pid) process.kill(pid, 'SIGQUIT');
    } catch {
      // already gone
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  await start();

  const admin = async <T>(q: string, params: unknown[] = []): Promise<T[]> => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: PG_TEST_PASSWORD, database: 'postgres' });
    c.on('error', () => undefined);
    await c.connect();
    try {
      return (await c.query(q, params)).rows as T[];
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  return {
    host: '127.0.0.1',
    port,
    dataDir,
    url(db, opts = {}) {
      const user = opts.user ?? 'postgres';
      const pw = opts.password === undefined ? PG_TEST_PASSWORD : opts.password;
      return `postgres://${encodeURIComponent(user)}${pw === null ? '' : `:${encodeURIComponent(pw)}`}@127.0.0.1:${port}/${encodeURIComponent(db)}`;
    },
    admin,
    stop,
    start,
    async close() {
      await stop();
      process.removeListener('exit', onExit);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let shared: Promise<PgServer> | null = null;

/** The server of this test process, started on first use. */
export function pgServer(): Promise<PgServer> {
  shared ??= startPgServer();
  return shared;
}

/** A fresh, empty database on the process's server; its URL. Dropped at teardown. */
export async function makePgDatabase(t: ExecutionContext, server?: PgServer): Promise<{ server: PgServer; name: string; url: string }> {
  const s = server ?? (await pgServer());
  const name = `t_${randomBytes(6).toString('hex')}`;
  await s.admin(`CREATE DATABASE ${name}`);
  t.teardown(async () => {
    await s.admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
  });
  return { server: s, name, url: s.url(name) };
}

/** A server of the test's own (for a test that stops or shuts it down) and one fresh database on it; closed at teardown. */
export async function ownPgDatabase(t: ExecutionContext): Promise<{ server: PgServer; url: string }> {
  const server = await startPgServer();
  t.teardown(() => server.close());
  const { url } = await makePgDatabase(t, server);
  return { server, url };
}

/** A pool on one test database (survives a server restart), closed at teardown. */
export function pgPool(t: ExecutionContext, url: string): pg.Pool {
  const p = new pg.Pool({ connectionString: url, types: PG_TYPES, max: 2 });
  p.on('error', () => undefined);
  t.teardown(() => p.end().catch(() => undefined));
  return p;
}

/** A plain client to one test database (fixtures, assertions), closed at teardown. */
export async function pgClient(t: ExecutionContext, url: string): Promise<pg.Client> {
  // The daemon's own type parsers: bigint as number, timestamps as text (as SQLite gives them).
  const c = new pg.Client({ connectionString: url, types: PG_TYPES });
  c.on('error', () => undefined);
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  return c;
}
