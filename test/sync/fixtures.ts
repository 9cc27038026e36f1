/**
 * In-process sync fixtures: a migrated temp batch database, the real Drive emulator on
 * 127.0.0.1:0, a config from parseConfig and `openRuntime` with an injected clock. The clock runs
 * with real time plus a movable offset: the Drive write pacer waits on it, so it must advance.
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import type { ExecutionContext } from 'ava';
import { parseConfig, type Config } from '../../src/config/index.js';
import { openRuntime, type Runtime } from '../../src/daemon/index.js';
import { migrate, openDatabase, type Db } from '../../src/db/index.js';
import type { EmulatorFaults } from '../../src/emulator/index.js';
import { createLogger, createSilentLogger, type Logger } from '../../src/log/index.js';
import type { Emulator } from '../../src/emulator/index.js';
import { makeTempDb, seedJobs, type SeedJob } from '../helpers/db.js';
import { withEmulator } from '../helpers/emulator.js';

export const ROOT = 'root-sync-folder';

export interface SyncSetup {
  dir: string;
  dbPath: string;
  outputDir: string;
  cfg: Readonly<Config>;
  emu: Emulator;
  rt: Runtime & { db: Db };
  /** Epoch ms the runtime sees: real time + offset. */
  now: () => number;
  /** Moves the runtime's clock forward. */
  advance(ms: number): void;
  /** Log lines as JSON objects (when `captureLogs`). */
  logs: Record<string, unknown>[];
  writeFile(job: string, rel: string, content: string | Buffer, mtimeMs?: number): string;
  row(id: number): Promise<Record<string, unknown>>;
  rows(): Promise<Record<string, unknown>[]>;
}

export interface SyncSetupOptions {
  jobs?: readonly (SeedJob | string)[];
  faults?: Partial<EmulatorFaults>;
  upload?: Record<string, unknown>;
  watch?: Record<string, unknown>;
  captureLogs?: boolean;
}

export async function setupSync(t: ExecutionContext, o: SyncSetupOptions = {}): Promise<SyncSetup> {
  const { dir, path: dbPath } = await makeTempDb(t, 'real');
  const db = await openDatabase(dbPath, { busyTimeoutMs: 5000 });
  try {
    await migrate(db);
    await seedJobs(db, o.jobs ?? []);
  } finally {
    await db.close();
  }
  const outputDir = join(dir, 'output');
  mkdirSync(outputDir);
  const tokenFile = join(dir, 'refresh-token');
  writeFileSync(tokenFile, 'rt-sync-test\n');
  const emu = await withEmulator(t, { rootFolderId: ROOT, ...(o.faults ? { faults: o.faults } : {}) });
  const cfg = parseConfig(
    {
      database: { path: dbPath, busy_timeout_ms: 5000 },
      watch: { output_dir: outputDir, stability_ms: 0, ...o.watch },
      drive: { api_endpoint: emu.url, root_folder_id: ROOT, folder_pattern: 'batch/{job_id}' },
      auth: { type: 'oauth', client_id: 'c.apps.googleusercontent.com', client_secret: 's', refresh_token_file: tokenFile },
      upload: { concurrency: 4, max_attempts: 5, backoff_base_ms: 1000, backoff_max_ms: 60_000, ...o.upload },
      log: { level: 'debug', format: 'json' },
    },
    dir,
  );
  let offset = 0;
  const now = () => Date.now() + offset;
  const logs: Record<string, unknown>[] = [];
  let log: Logger = createSilentLogger();
  if (o.captureLogs) {
    let buf = '';
    const stream = new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        buf += String(chunk);
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
        }
        cb();
      },
    });
    log = createLogger({ level: 'debug', format: 'json', stream });
  }
  const opened = await openRuntime(cfg, log, { env: {}, now, random: () => 0.5 });
  t.teardown(() => opened.close());
  const sqlite = opened.database.sqlite;
  if (!sqlite) throw new Error('setupSync expects a SQLite runtime');
  const rt = { ...opened, db: sqlite };
  return {
    dir,
    dbPath,
    outputDir,
    cfg,
    emu,
    rt,
    now,
    advance: (ms) => {
      offset += ms;
    },
    logs,
    writeFile(job, rel, content, mtimeMs) {
      const p = join(outputDir, job, ...rel.split('/'));
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content);
      if (mtimeMs !== undefined) utimesSync(p, mtimeMs / 1000, mtimeMs / 1000);
      return p;
    },
    async row(id) {
      const r = await rt.db.get<Record<string, unknown>>('SELECT * FROM batch_file_drive_metadata WHERE id = ?', id);
      if (!r) throw new Error(`no row ${id}`);
      return r;
    },
    rows: () => rt.db.all<Record<string, unknown>[]>('SELECT * FROM batch_file_drive_metadata ORDER BY id'),
  };
}

/** Drive files (not folders, not trashed) in the emulator. */
export function driveFiles(emu: Emulator) {
  return emu.listFiles().filter((f) => f.mimeType !== 'application/vnd.google-apps.folder' && !f.trashed);
}

/** A signal that never aborts. */
export const never = new AbortController().signal;
