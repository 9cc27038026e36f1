// Process harness for the chaos tests, `npm run chaos` and `npm run bench`: a temp workspace (batch database,
// output dir, credentials, config), the in-process emulator with a request log, the daemon/CLI
// as child processes (killed on exit) and /proc sampling. Polling is ./poll.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { createEmulator, mulberry32, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import { migrate, openDatabase, type Db } from '../../src/db/index.js';

export { repoRoot };
export const CLI = () => join(repoRoot(), 'dist', 'src', 'cli', 'main.js');

// ---------------------------------------------------------------------------------------------
// Children: every process we spawn is registered and killed when we exit, however we exit.

const children = new Set<ChildProcess>();
let hooksInstalled = false;
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** Everything the child wrote to stdout+stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the child is gone. */
  exited: Promise<number | string>;
  /** Resolves when a line matching `re` appears (or has already appeared); rejects at the deadline or on exit. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<string>;
  kill(sig?: NodeJS.Signals): void;
}

export function spawnNode(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; onLine?: (line: string, at: number) => void } = {}): Child {
  installExitHooks();
  const proc = spawn(process.execPath, args, {
    cwd: opts.cwd ?? repoRoot(),
    env: { ...process.env, NOTIFY_SOCKET: '', JOURNAL_STREAM: '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let out = '';
  let partial = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const onData = (b: Buffer) => {
    const at = Date.now();
    const s = b.toString('utf8');
    out += s;
    // Keep the memory of long runs bounded: the log is only needed for failures and waits.
    if (out.length > 4_000_000) out = out.slice(-2_000_000);
    partial += s;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      opts.onLine?.(l, at);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i];
        if (w && w.re.test(l)) {
          waiters.splice(i, 1);
          w.resolve(l);
        }
      }
    }
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<number | string>((resolve) => {
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return {
    proc,
    pid: proc.pid ?? -1,
    output: () => out,
    exited,
    kill: (sig = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    },
    waitForLine(re, timeoutMs) {
      const hit = out.split('\n').find((l) => re.test(l));
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} in the child's output:\n${out.slice(-3000)}`)),
          timeoutMs,
        );
        const w = {
          re,
          resolve: (l: string) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(w);
        void exited.then((code) => {
          if (!waiters.includes(w)) return;
          clearTimeout(timer);
          reject(new Error(`child exited (${code}) before printing ${re}:\n${out.slice(-3000)}`));
        });
      });
    },
  };
}

/** Runs a CLI command to completion. */
export async function runCli(args: string[], opts: { timeoutMs?: number } = {}): Promise<{ code: number | string; output: string; ms: number; pid: number }> {
  const t0 = performance.now();
  const c = spawnNode([CLI(), ...args]);
  const timer = setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
  const code = await c.exited;
  clearTimeout(timer);
  return { code, output: c.output(), ms: performance.now() - t0, pid: c.pid };
}

/** Stops a daemon gracefully (SIGTERM), SIGKILL after `graceMs`. */
export async function stopChild(c: Child, graceMs = 20_000): Promise<number | string> {
  c.kill('SIGTERM');
  const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
  const code = await c.exited;
  clearTimeout(timer);
  return code;
}

// ---------------------------------------------------------------------------------------------
// /proc

export interface ProcMem {
  rssKb: number;
  hwmKb: number;
}

export function procMem(pid: number): ProcMem | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(s);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(s);
    if (!rss || !hwm) return null;
    return { rssKb: Number(rss[1]), hwmKb: Number(hwm[1]) };
  } catch {
    return null;
  }
}

/** utime + stime of a process in clock ticks (USER_HZ = 100 on Linux). */
export function procCpuTicks(pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces: fields start after the last ')'.
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return null;
  }
}
export const USER_HZ = 100;

// ---------------------------------------------------------------------------------------------
// Emulator with a request log

export interface LoggedRequest {
  at: number;
  method: string;
  url: string;
  /** Set when the response finished (or the socket closed). */
  doneAt?: number;
  status?: number;
  /** False when the socket closed before the response was complete (reset, client gone). */
  finished?: boolean;
  contentRange?: string;
}

export interface BenchEmulator extends Emulator {
  /** Every request that reached the server, in arrival order (arrival = headers parsed). */
  requests: LoggedRequest[];
  /** Called for every request as it arrives. */
  onRequest: ((r: LoggedRequest, req: IncomingMessage) => void) | null;
  /** Accepted writes (the emulator counts them; the public type does not declare it yet). */
  writesAccepted(): number;
  /** The listening server: a tunnel can hand it a client's socket (`emit('connection', socket)`). */
  server: Server;
}

export async function startBenchEmulator(opts: EmulatorOptions & { logRequests?: boolean } = {}): Promise<BenchEmulator> {
  const { server, listen } = createEmulator(opts);
  const requests: LoggedRequest[] = [];
  const log = opts.logRequests ?? true;
  let emu: BenchEmulator | null = null;
  server.prependListener('request', (req: IncomingMessage, res) => {
    const r: LoggedRequest = { at: Date.now(), method: req.method ?? '', url: req.url ?? '' };
    const cr = req.headers['content-range'];
    if (cr) r.contentRange = cr;
    if (log) requests.push(r);
    res.on('close', () => {
      r.doneAt = Date.now();
      r.status = res.statusCode;
      r.finished = res.writableFinished;
    });
    emu?.onRequest?.(r, req);
  });
  const e = await listen();
  emu = Object.assign(Object.create(null) as object, e, {
    requests,
    server,
    onRequest: null,
    writesAccepted: () => {
      const s = e.stats() as unknown as { writesAccepted?: number };
      if (typeof s.writesAccepted === 'number') return s.writesAccepted;
      // Fallback: write routes answered with anything but a rate limit.
      let n = 0;
      for (const [k, byStatus] of Object.entries(e.stats().requests)) {
        if (!/^(POST|PATCH|DELETE) \/(upload\/)?drive\/v3\/files/.test(k)) continue;
        for (const [st, c] of Object.entries(byStatus)) if (st !== '403' && st !== '429') n += c;
      }
      return n;
    },
  }) as BenchEmulator;
  return emu;
}

// ---------------------------------------------------------------------------------------------
// Workspace: batch database + output dir + credentials + config

export const ROOT_FOLDER = 'bench-root-folder';

const BATCH_JOBS = `CREATE TABLE batch_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, job_id VARCHAR(255) NOT NULL UNIQUE,
  status VARCHAR(50) NOT NULL, total_files INTEGER NOT NULL, created_at TIMESTAMP, updated_at TIMESTAMP)`;

export interface Workspace {
  dir: string;
  dbPath: string;
  outputDir: string;
  configPath: string;
  /** Rewrites the config (same paths) with other settings. */
  writeConfig(over: ConfigOverrides): void;
  remove(): void;
}

export interface ConfigOverrides {
  watch?: Record<string, unknown>;
  upload?: Record<string, unknown>;
  schedule?: Record<string, unknown>;
  drive?: Record<string, unknown>;
  log?: Record<string, unknown>;
  database?: Record<string, unknown>;
}

/** Creates the batch system's database (real batch_jobs), migrates it and inserts `jobIds` as Drive-enabled jobs. */
export async function makeWorkspace(o: {
  prefix: string;
  emulatorUrl: string;
  jobIds: string[];
  jobStatus?: string;
  config?: ConfigOverrides;
  /** A PostgreSQL database (migrated, jobs inserted by the caller) instead of a new SQLite file. */
  databaseUrl?: string;
}): Promise<Workspace> {
  const dir = mkdtempSync(join(tmpdir(), o.prefix));
  const dbPath = join(dir, 'batch.db');
  const outputDir = join(dir, 'output');
  mkdirSync(outputDir, { recursive: true });
  if (o.databaseUrl) for (const id of o.jobIds) mkdirSync(join(outputDir, id), { recursive: true });
  else writeFileSync(dbPath, '');
  const db = o.databaseUrl ? null : await openDatabase(dbPath, { busyTimeoutMs: 5000 });
  if (db)
    try {
      await db.exec(BATCH_JOBS);
      await migrate(db);
      await db.exec('BEGIN');
      for (const id of o.jobIds) {
        await db.run(
          `INSERT INTO batch_jobs (job_id, status, total_files, created_at, updated_at, drive_integration_enabled, drive_upload_status)
         VALUES (?, ?, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, 'pending')`,
          id,
          o.jobStatus ?? 'processing',
        );
        mkdirSync(join(outputDir, id), { recursive: true });
      }
      await db.exec('COMMIT');
    } finally {
      await db.close();
    }
  const refreshTokenFile = join(dir, 'refresh-token');
  writeFileSync(refreshTokenFile, 'bench-refresh-token\n', { mode: 0o600 });
  const configPath = join(dir, 'config.yaml');
  const writeConfig = (over: ConfigOverrides) => {
    // JSON is YAML: no quoting surprises.
    const cfg = {
      database: { ...(o.databaseUrl ? { url: o.databaseUrl } : { path: dbPath }), ...over.database },
      watch: { output_dir: outputDir, stability_ms: 250, ...over.watch },
      schedule: { scan_cron: '*/1 * * * *', ...over.schedule },
      drive: { api_endpoint: o.emulatorUrl, root_folder_id: ROOT_FOLDER, folder_pattern: 'bench/{job_id}', ...over.drive },
      auth: { type: 'oauth', client_id: 'bench-client', client_secret: 'bench-secret', refresh_token_file: refreshTokenFile },
      upload: { concurrency: 4, ...over.upload },
      log: { level: 'info', format: 'json', ...over.log },
    };
    writeFileSync(configPath, JSON.stringify(cfg, null, 2) + '\n');
  };
  writeConfig(o.config ?? {});
  return { dir, dbPath, outputDir, configPath, writeConfig, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function withDb<T>(path: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDatabase(path, { busyTimeoutMs: 10_000 });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export async function statusCounts(dbPath: string): Promise<Record<string, number>> {
  return withDb(dbPath, async (db) => {
    const rows = await db.all<{ s: string; n: number }[]>('SELECT upload_status AS s, count(*) AS n FROM batch_file_drive_metadata GROUP BY upload_status');
    const out: Record<string, number> = { pending: 0, uploading: 0, uploaded: 0, failed: 0 };
    for (const r of rows) out[r.s] = r.n;
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Small things

/** Seeded PRNG: the emulator's own mulberry32, so a seed means the same thing everywhere. */
export const rng = mulberry32;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
