import type { IncomingMessage } from 'node:http';
/**
 * End-to-end harness: the real CLI (`node dist/src/cli/main.js`) as a child process, the real
 * Drive emulator (in this process, on 127.0.0.1:0), a real SQLite file shaped like the batch
 * system's database, real files and real chokidar.
 *
 * The CLI is built with the tests themselves: `npm test -- dist/test/e2e/` builds, then runs
 * these. ava.config.js refuses a dist/ older than the sources before any test runs.
 *
 * Every test gets its own temp dir and emulator; child processes are killed and the dir removed
 * at teardown, and every byte the children wrote is checked for the configured secrets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { migrate, openDatabase } from '../../src/db/index.js';
import { createEmulator, type Emulator, type EmulatorFaults, type EmulatorFile } from '../../src/emulator/index.js';
import { BATCH_JOBS_DDL, makeTempDir, withRawDb, type RawDb } from './db.js';
import { makePgDatabase, PG_TEST_PASSWORD, pgPool, type PgServer } from './postgres.js';
import { PG_BATCH_JOBS_DDL, pgTestSql } from './store-backends.js';
import { connectPostgres, pgMigrate } from '../../src/db/postgres/index.js';
import { repoRoot } from './paths.js';

export const REPO = repoRoot();
export const CLI = join(REPO, 'dist', 'src', 'cli', 'main.js');
export const FOLDER_MIME = 'application/vnd.google-apps.folder';
export const ROOT_FOLDER_ID = 'root-e2e-folder';

export interface E2EOptions {
  faults?: Partial<EmulatorFaults>;
  /** The emulator over HTTPS with a private CA; the CLI's children trust it through NODE_EXTRA_CA_CERTS. */
  tls?: boolean;
  /** Apply the daemon's migrations to the fresh database (default true). */
  migrate?: boolean;
  /** Create batch_jobs (default true). */
  batchJobs?: boolean;
  stabilityMs?: number;
  scanCron?: string;
  fullScanCron?: string;
  concurrency?: number;
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  leaseMs?: number;
  drainTimeoutMs?: number;
  folderPattern?: string;
  logLevel?: 'error' | 'warning' | 'notice' | 'info' | 'debug';
  logFormat?: 'text' | 'json';
  watch?: boolean;
  resumableThresholdBytes?: number;
  chunkSizeBytes?: number;
  /** Extra YAML appended verbatim (for bad-config tests). */
  extraYaml?: string;
  /** PostgreSQL instead of SQLite: a fresh database on the test process's server (or on `pgServer`). */
  postgres?: boolean;
  pgServer?: PgServer;
  /** Overrides for a second daemon (another "host"): its own output directory, node name, storage mode. */
  outputDir?: string;
  nodeName?: string;
  sharedStorage?: boolean;
  metricsListen?: string;
  /** database.url written into the config instead of the test database's (wrong credentials etc.). */
  databaseUrl?: string;
  /** Extra keys of the database section (YAML flow items, e.g. "connect_timeout_ms: 500"). */
  databaseExtra?: string;
  /** Where the emulator keeps metadata and file contents (to search every stored byte); default a temp dir. */
  emulatorDataDir?: string;
  /** Sees every request as it reaches the emulator (headers parsed, before it is handled): a test acts at an exact point of an upload. */
  onEmulatorRequest?: (req: IncomingMessage) => void;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface LogLine {
  text: string;
  /** Parsed when the line is JSON (log.format json). */
  json: Record<string, unknown> | null;
  /** performance.now() when the line arrived. */
  at: number;
}

export type LogMatcher = RegExp | ((l: LogLine) => boolean);

export interface DaemonHandle {
  readonly child: ChildProcess;
  readonly lines: LogLine[];
  /** Resolves, once the process is gone and all its output read, with the exit code (or null when killed by a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Index to pass as `from` to only look at lines after now. */
  mark(): number;
  waitForLog(m: LogMatcher, timeoutMs?: number, from?: number): Promise<LogLine>;
  kill(signal?: NodeJS.Signals): void;
  output(): string;
}

export interface JobOptions {
  enabled?: boolean;
  status?: string;
  pattern?: string | null;
  totalFiles?: number;
}

export interface E2E {
  dir: string;
  dbPath: string;
  /** The PostgreSQL URL (with the test password) in postgres mode; null on SQLite. */
  dbUrl: string | null;
  outputDir: string;
  configPath: string;
  emu: Emulator;
  secrets: { refreshToken: string; clientSecret: string };
  /** Everything every child wrote, for secret checks. */
  allOutput(): string;
  /** Writes the config (to `path`, default the test's config file). */
  writeConfig(opts?: E2EOptions, path?: string): void;
  /** Runs the CLI to completion; `prefix` runs it through another program (e.g. setpriv to drop privileges). */
  cli(args: readonly string[], o?: { timeoutMs?: number; config?: string | null; prefix?: readonly string[] }): Promise<CliResult>;
  startDaemon(o?: { config?: string; prefix?: readonly string[] }): DaemonHandle;
  /** startDaemon + wait for "daemon started". */
  startedDaemon(o?: { config?: string; timeoutMs?: number }): Promise<DaemonHandle>;
  addJob(id: string, o?: JobOptions): Promise<void>;
  sql<T = Record<string, unknown>>(q: string, ...params: unknown[]): Promise<T[]>;
  writeFile(job: string, rel: string, content: string | Buffer): string;
  rows(job?: string): Promise<FileRowE2E[]>;
  jobRow(id: string): Promise<Record<string, unknown> | undefined>;
  folderRow(id: string): Promise<Record<string, unknown> | undefined>;
  driveFiles(): EmulatorFile[];
  folderPath(fileId: string): string;
}

export interface FileRowE2E {
  id: number;
  batch_job_id: string;
  original_filename: string;
  drive_file_id: string | null;
  drive_file_url: string | null;
  preview_url: string | null;
  upload_status: string;
  upload_error: string | null;
  attempts: number;
  local_md5: string | null;
  local_size: number | null;
  reserved_drive_id: string | null;
  lease_owner: string | null;
}

export const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('hex');
export { sleep, waitUntil } from './poll.js';

/** UTC date folder name as the default pattern renders it. */
export function utcDate(d = new Date()): string {
  return d.toISOString().slice(0, 10);
}

const SECRET_MARKERS = ['ya29.', 'BEGIN PRIVATE KEY', 'Bearer '];

/** Substrings of `text` that must never be printed; [] when clean. */
export function findSecrets(text: string, secrets: readonly string[]): string[] {
  return [...secrets, ...SECRET_MARKERS].filter((s) => s && text.includes(s));
}

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NOTIFY_SOCKET;
  delete env.JOURNAL_STREAM;
  delete env.WATCHDOG_USEC;
  delete env.NODE_OPTIONS;
  return env;
}

export async function setupE2E(t: ExecutionContext, opts: E2EOptions = {}): Promise<E2E> {
  const dir = makeTempDir(t, 'bds-e2e-');
  const dbPath = join(dir, 'batch.db');
  const outputDir = join(dir, 'output');
  const configPath = join(dir, 'config.yaml');
  mkdirSync(outputDir);
  const secrets = { refreshToken: `1//e2e-refresh-${randomBytes(12).toString('hex')}`, clientSecret: `e2e-client-secret-${randomBytes(12).toString('hex')}` };
  const tokenFile = join(dir, 'refresh-token');
  writeFileSync(tokenFile, secrets.refreshToken + '\n', { mode: 0o600 });

  let dbUrl: string | null = null;
  let pgSql: ReturnType<typeof pgTestSql> | null = null;
  if (opts.postgres) {
    dbUrl = (await makePgDatabase(t, opts.pgServer)).url;
    const client = pgPool(t, dbUrl);
    pgSql = pgTestSql(client);
    await client.query(opts.batchJobs !== false ? PG_BATCH_JOBS_DDL.real : 'CREATE TABLE unrelated (x INTEGER)');
    if (opts.migrate !== false && opts.batchJobs !== false) {
      const conn = await connectPostgres({ url: dbUrl, env: {}, poolSize: 1, connectTimeoutMs: 10_000 });
      try {
        await pgMigrate(conn);
      } finally {
        await conn.close();
      }
    }
  } else
    await withRawDb(dbPath, async (raw) => {
      if (opts.batchJobs !== false) await raw.exec(BATCH_JOBS_DDL.real);
      else await raw.exec('CREATE TABLE unrelated (x INTEGER)');
    });
  if (!opts.postgres && opts.migrate !== false && opts.batchJobs !== false) {
    const db = await openDatabase(dbPath, { busyTimeoutMs: 5000 });
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
  }

  const made = createEmulator({
    host: '127.0.0.1',
    port: 0,
    rootFolderId: ROOT_FOLDER_ID,
    ...(opts.faults ? { faults: opts.faults } : {}),
    ...(opts.emulatorDataDir ? { dataDir: opts.emulatorDataDir } : {}),
    ...(opts.tls ? { tls: { selfSignedDir: join(dir, 'emulator-tls') } } : {}),
  });
  const onRequest = opts.onEmulatorRequest;
  if (onRequest) made.server.prependListener('request', (req: IncomingMessage) => onRequest(req));
  const emu = await made.listen();
  const trust: Record<string, string> = emu.caFile ? { NODE_EXTRA_CA_CERTS: emu.caFile } : {};
  const children = new Set<ChildProcess>();
  const outputs: string[] = [];
  // LIFO: children die first, then the emulator closes, then the secret check, then the dir goes.
  t.teardown(() => {
    const leaks = findSecrets(outputs.join('\n'), [secrets.refreshToken, secrets.clientSecret, ...(opts.postgres ? [PG_TEST_PASSWORD] : [])]);
    if (leaks.length) throw new Error(`secret(s) printed by the CLI/daemon: ${leaks.map((l) => JSON.stringify(l.slice(0, 12) + '…')).join(', ')}`);
  });
  t.teardown(() => emu.close());
  t.teardown(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        const gone = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        await gone;
      }
    }
  });

  const writeConfig = (o: E2EOptions = opts, path = configPath) => {
    const dbExtra = o.databaseExtra ? `, ${o.databaseExtra}` : '';
    const yaml = [
      dbUrl !== null || o.databaseUrl
        ? `database: { url: ${JSON.stringify(o.databaseUrl ?? dbUrl)}${dbExtra} }`
        : `database: { path: ${JSON.stringify(dbPath)}, busy_timeout_ms: 10000${dbExtra} }`,
      `watch: { output_dir: ${JSON.stringify(o.outputDir ?? outputDir)}, enabled: ${o.watch ?? true}, stability_ms: ${o.stabilityMs ?? 200}${
        o.sharedStorage === undefined ? '' : `, shared_storage: ${o.sharedStorage}`
      } }`,
      ...(o.nodeName ? [`daemon: { node_name: ${JSON.stringify(o.nodeName)} }`] : []),
      ...(o.metricsListen ? [`metrics: { listen: ${JSON.stringify(o.metricsListen)} }`] : []),
      `schedule: { scan_cron: ${JSON.stringify(o.scanCron ?? '*/1 * * * *')}${o.fullScanCron ? `, full_scan_cron: ${JSON.stringify(o.fullScanCron)}` : ''} }`,
      'drive:',
      `  api_endpoint: ${JSON.stringify(emu.url)}`,
      `  root_folder_id: ${ROOT_FOLDER_ID}`,
      `  folder_pattern: ${JSON.stringify(o.folderPattern ?? 'batch/{yyyy}-{mm}-{dd}/{job_id}')}`,
      'auth:',
      '  type: oauth',
      '  client_id: e2e-client.apps.googleusercontent.com',
      `  client_secret: ${JSON.stringify(secrets.clientSecret)}`,
      `  refresh_token_file: ${JSON.stringify(tokenFile)}`,
      'upload:',
      `  concurrency: ${o.concurrency ?? 4}`,
      `  max_attempts: ${o.maxAttempts ?? 8}`,
      `  backoff_base_ms: ${o.backoffBaseMs ?? 50}`,
      `  backoff_max_ms: ${o.backoffMaxMs ?? 500}`,
      `  lease_ms: ${o.leaseMs ?? 120000}`,
      `  drain_timeout_ms: ${o.drainTimeoutMs ?? 10000}`,
      ...(o.resumableThresholdBytes ? [`  resumable_threshold_bytes: ${o.resumableThresholdBytes}`] : []),
      ...(o.chunkSizeBytes ? [`  chunk_size_bytes: ${o.chunkSizeBytes}`] : []),
      `log: { level: ${o.logLevel ?? 'info'}, format: ${o.logFormat ?? 'json'} }`,
      o.extraYaml ?? '',
      '',
    ].join('\n');
    writeFileSync(path, yaml);
  };
  writeConfig(opts);

  const spawnCli = (args: readonly string[], config: string | null, prefix: readonly string[] = []) => {
    const full = [process.execPath, CLI, ...args, ...(config === null ? [] : ['--config', config])];
    const [file, ...rest] = [...prefix, ...full] as [string, ...string[]];
    const c = spawn(file, rest, { cwd: dir, env: childEnv(trust), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(c);
    c.once('exit', () => children.delete(c));
    return c;
  };

  const cli = (args: readonly string[], o: { timeoutMs?: number; config?: string | null; prefix?: readonly string[] } = {}) =>
    new Promise<CliResult>((res, rej) => {
      const c = spawnCli(args, o.config === undefined ? configPath : o.config, o.prefix);
      let stdout = '';
      let stderr = '';
      c.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
      c.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      const timeoutMs = o.timeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        c.kill('SIGKILL');
        rej(new Error(`batch-drive-sync ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr.slice(-4000)}`));
      }, timeoutMs);
      c.once('error', rej);
      c.once('close', (code, signal) => {
        clearTimeout(timer);
        outputs.push(stdout, stderr);
        res({ code, signal, stdout, stderr });
      });
    });

  const startDaemon = (o: { config?: string; prefix?: readonly string[] } = {}): DaemonHandle => {
    const c = spawnCli(['run'], o.config ?? configPath, o.prefix);
    const lines: LogLine[] = [];
    const waiters = new Set<() => void>();
    const feed = (stream: NodeJS.ReadableStream | null) => {
      let buf = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (s: string) => {
        buf += s;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const text = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          outputs.push(text);
          let json: Record<string, unknown> | null = null;
          if (text.startsWith('{')) {
            try {
              json = JSON.parse(text) as Record<string, unknown>;
            } catch {
              json = null;
            }
          }
          lines.push({ text, json, at: performance.now() });
        }
        for (const w of waiters) w();
      });
    };
    feed(c.stdout);
    feed(c.stderr);
    let closed = false;
    // 'close', not 'exit': it comes after stdout and stderr are drained, so every line the
    // daemon wrote is in `lines` once `exited` resolves.
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      c.once('close', (code, signal) => {
        closed = true;
        for (const w of waiters) w();
        r({ code, signal });
      }),
    );
    const match = (m: LogMatcher, l: LogLine) => (m instanceof RegExp ? m.test(l.text) : m(l));
    const handle: DaemonHandle = {
      child: c,
      lines,
      exited,
      mark: () => lines.length,
      output: () => lines.map((l) => l.text).join('\n'),
      kill: (signal = 'SIGTERM') => {
        if (c.exitCode === null && c.signalCode === null) c.kill(signal);
      },
      waitForLog: (m, timeoutMs = 30_000, from = 0) =>
        new Promise<LogLine>((res, rej) => {
          let i = from;
          const check = () => {
            for (; i < lines.length; i++) {
              const l = lines[i] as LogLine;
              if (match(m, l)) {
                done();
                res(l);
                return;
              }
            }
            if (closed) {
              done();
              rej(new Error(`daemon exited (${c.exitCode ?? c.signalCode}) before a log line matching ${String(m)}\n${handle.output().slice(-4000)}`));
            }
          };
          const timer = setTimeout(() => {
            done();
            rej(new Error(`no log line matching ${String(m)} within ${timeoutMs} ms\n${handle.output().slice(-4000)}`));
          }, timeoutMs);
          const done = () => {
            clearTimeout(timer);
            waiters.delete(check);
          };
          waiters.add(check);
          check();
        }),
    };
    return handle;
  };

  const withDb = <T>(fn: (raw: RawDb) => Promise<T>) =>
    pgSql
      ? fn({
          ...pgSql,
          all: <R>(q: string, ...p: unknown[]) => pgSql.all<R[]>(q, ...p),
          run: async (q: string, ...p: unknown[]) => {
            await pgSql.run(q, ...p);
            return { changes: 0, lastID: 0 };
          },
          exec: async (q: string) => void (await pgSql.exec(q)),
          close: async () => undefined,
        })
      : withRawDb(dbPath, async (raw) => {
          // The daemon writes concurrently: wait for its short transactions instead of failing with SQLITE_BUSY.
          await raw.exec('PRAGMA busy_timeout = 10000');
          return fn(raw);
        });

  const env: E2E = {
    dir,
    dbPath,
    dbUrl,
    outputDir,
    configPath,
    emu,
    secrets,
    allOutput: () => outputs.join('\n'),
    writeConfig,
    cli,
    startDaemon,
    async startedDaemon(o = {}) {
      const d = startDaemon(o);
      await d.waitForLog(/daemon started/, o.timeoutMs ?? 60_000);
      return d;
    },
    async addJob(id, o = {}) {
      await withDb(async (raw) => {
        await raw.run(
          `INSERT INTO batch_jobs (job_id, status, total_files, created_at, updated_at, drive_integration_enabled, drive_folder_pattern)
           VALUES (?, ?, ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, ?, ?)`,
          id,
          o.status ?? 'completed',
          o.totalFiles ?? 0,
          pgSql ? o.enabled !== false : o.enabled === false ? 0 : 1,
          o.pattern ?? null,
        );
        // What the batch system does when it asks for Drive upload (the column default is not_requested).
        if (o.enabled !== false) await raw.run("UPDATE batch_jobs SET drive_upload_status = 'pending' WHERE job_id = ?", id);
      });
    },
    sql: (q, ...params) => withDb((raw) => raw.all(q, ...params)),
    writeFile(job, rel, content) {
      const p = join(outputDir, job, ...rel.split('/'));
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content);
      return p;
    },
    rows: (job) =>
      withDb((raw) =>
        job === undefined
          ? raw.all<FileRowE2E>('SELECT * FROM batch_file_drive_metadata ORDER BY id')
          : raw.all<FileRowE2E>('SELECT * FROM batch_file_drive_metadata WHERE batch_job_id = ? ORDER BY id', job),
      ),
    jobRow: async (id) => (await withDb((raw) => raw.all('SELECT * FROM batch_jobs WHERE job_id = ?', id)))[0],
    folderRow: async (id) => (await withDb((raw) => raw.all('SELECT * FROM batch_drive_metadata WHERE batch_job_id = ?', id)))[0],
    driveFiles: () => emu.listFiles().filter((f) => f.mimeType !== FOLDER_MIME && !f.trashed),
    folderPath(fileId) {
      const byId = new Map(emu.listFiles().map((f) => [f.id, f]));
      const names: string[] = [];
      let cur = byId.get(fileId)?.parents[0];
      while (cur && cur !== ROOT_FOLDER_ID) {
        const f = byId.get(cur);
        if (!f) return `<orphan ${cur}>/${names.join('/')}`;
        names.unshift(f.name);
        cur = f.parents[0];
      }
      return names.join('/');
    },
  };
  return env;
}

/** Reads a local file's md5. */
export function fileMd5(path: string): string {
  return md5(readFileSync(path));
}

/** Drive files grouped by folder path + name: every value must be 1 for "exactly once". */
export function countByPath(e: E2E): Map<string, number> {
  const m = new Map<string, number>();
  for (const f of e.driveFiles()) {
    const k = `${e.folderPath(f.id)}/${f.name}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

/** Asserts every local file of `jobs` is in Drive exactly once with the same md5, and every row uploaded. */
export async function assertExactlyOnce(
  t: ExecutionContext,
  e: E2E,
  expected: { job: string; rel: string; content: string | Buffer }[],
  folderOf: (job: string) => string,
): Promise<void> {
  const counts = countByPath(e);
  const dupes = [...counts].filter(([, n]) => n > 1);
  t.deepEqual(dupes, [], 'no file twice in one folder');
  const files = e.driveFiles();
  t.is(files.length, expected.length, 'one Drive file per local file');
  const rows = await e.rows();
  const byKey = new Map(rows.map((r) => [`${r.batch_job_id}\0${r.original_filename}`, r]));
  const byId = new Map(files.map((f) => [f.id, f]));
  const problems: string[] = [];
  for (const x of expected) {
    const r = byKey.get(`${x.job}\0${x.rel}`);
    if (!r) {
      problems.push(`${x.job}/${x.rel}: no row`);
      continue;
    }
    if (r.upload_status !== 'uploaded') problems.push(`${x.job}/${x.rel}: ${r.upload_status} (${r.upload_error ?? ''})`);
    const f = r.drive_file_id ? byId.get(r.drive_file_id) : undefined;
    if (!f) {
      problems.push(`${x.job}/${x.rel}: Drive file ${r.drive_file_id} missing`);
      continue;
    }
    if (f.md5Checksum !== md5(x.content)) problems.push(`${x.job}/${x.rel}: md5 differs`);
    const dirs = x.rel.split('/').slice(0, -1);
    const want = [folderOf(x.job), ...dirs].join('/');
    if (e.folderPath(f.id) !== want) problems.push(`${x.job}/${x.rel}: in ${e.folderPath(f.id)}, expected ${want}`);
    if (f.name !== x.rel.split('/').pop()) problems.push(`${x.job}/${x.rel}: named ${f.name}`);
  }
  t.deepEqual(problems.slice(0, 20), [], `${problems.length} problem(s)`);
}

/** True once the job's (or every) rows number `n` and are all uploaded: a condition for waitUntil. */
export async function allUploaded(e: E2E, n: number, job?: string): Promise<boolean> {
  const rows = await e.rows(job);
  return rows.length === n && rows.every((r) => r.upload_status === 'uploaded');
}
