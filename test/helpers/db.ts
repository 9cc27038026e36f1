/**
 * Shared SQLite fixtures: a fresh batch system database in a temp dir, with either kind of
 * batch_jobs table the daemon has to live with (README "Decisions": foreign keys). Built with the plain
 * `sqlite3` package, not with src/db, so the fixtures do not depend on the code under test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import sqlite3 from 'sqlite3';
import { createStore, migrate, openDatabase, type Db, type UploadStore } from '../../src/db/index.js';

/** `real`: the batch system's own table (job_id UNIQUE, status, …); `minimal`: only a non-unique job_id. */
export type BatchJobsKind = 'real' | 'minimal';

export const BATCH_JOBS_DDL: Record<BatchJobsKind, string> = {
  real: `CREATE TABLE batch_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id VARCHAR(255) NOT NULL UNIQUE,
    status VARCHAR(50) NOT NULL,
    total_files INTEGER NOT NULL,
    created_at TIMESTAMP,
    updated_at TIMESTAMP
  )`,
  minimal: 'CREATE TABLE batch_jobs (job_id VARCHAR(255))',
};

/** A job to insert. Columns the table lacks (status on `minimal`, or the Drive columns before 001) are skipped. */
export interface SeedJob {
  job_id: string;
  /** Default 'processing' (a job whose output is still being written). */
  status?: 'pending' | 'processing' | 'completed' | 'failed' | string;
  total_files?: number;
  created_at?: string | null;
  updated_at?: string | null;
  /** drive_integration_enabled (needs migration 001). */
  enabled?: boolean;
  /** drive_folder_pattern (needs migration 001). */
  pattern?: string | null;
}

/** Fixed instant used by store tests (2023-11-14T22:13:20Z). */
export const T0 = 1_700_000_000_000;

/** Runs `fn` on a raw sqlite3 connection to `path` and closes it, whatever happens. */
export async function withRawDb<T>(path: string, fn: (raw: RawDb) => Promise<T>): Promise<T> {
  const raw = await openRaw(path);
  try {
    return await fn(raw);
  } finally {
    await raw.close();
  }
}

/** A promise wrapper over one plain sqlite3 connection (no WAL, no pragmas set by src/db). */
export interface RawDb {
  exec(sql: string): Promise<void>;
  run(sql: string, ...params: unknown[]): Promise<{ changes: number; lastID: number }>;
  all<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export function openRaw(path: string, mode = sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE): Promise<RawDb> {
  return new Promise((resolveOpen, rejectOpen) => {
    const d = new sqlite3.Database(path, mode, (err) => {
      if (err) return rejectOpen(err);
      resolveOpen({
        exec: (sql) => new Promise((res, rej) => d.exec(sql, (e) => (e ? rej(e) : res()))),
        run: (sql, ...params) =>
          new Promise((res, rej) =>
            d.run(sql, params, function (this: sqlite3.RunResult, e: Error | null) {
              if (e) rej(e);
              else res({ changes: this.changes, lastID: this.lastID });
            }),
          ),
        all: <T>(sql: string, ...params: unknown[]) => new Promise<T[]>((res, rej) => d.all(sql, params, (e, rows) => (e ? rej(e) : res(rows as T[])))),
        close: () => new Promise((res, rej) => d.close((e) => (e ? rej(e) : res()))),
      });
    });
  });
}

/** A temp dir removed at teardown. */
export function makeTempDir(t: ExecutionContext, prefix = 'bds-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A fresh SQLite file holding only a batch_jobs table of the given kind (`null`: no batch_jobs at
 * all, just an unrelated table — "the wrong database"). Removed at teardown.
 */
export async function makeTempDb(t: ExecutionContext, kind: BatchJobsKind | null): Promise<{ dir: string; path: string }> {
  const dir = makeTempDir(t);
  const path = join(dir, 'batch.db');
  await withRawDb(path, (raw) => raw.exec(kind ? BATCH_JOBS_DDL[kind] : 'CREATE TABLE unrelated (x INTEGER)'));
  return { dir, path };
}

/**
 * The batch_jobs column values of a seeded job, for the columns `cols` the table has (the
 * batch system's defaults where the job says nothing). `enabled` writes the flag in the
 * backend's own type. Shared by the SQLite and the PostgreSQL seeding.
 */
export function seedJobRow(j0: SeedJob | string, cols: ReadonlySet<string>, who: string, enabled: (on: boolean) => unknown): Record<string, unknown> {
  const j: SeedJob = typeof j0 === 'string' ? { job_id: j0 } : j0;
  const values: Record<string, unknown> = {
    job_id: j.job_id,
    status: j.status ?? 'processing',
    total_files: j.total_files ?? 0,
    created_at: j.created_at ?? '2025-09-12 08:00:00',
    updated_at: j.updated_at ?? '2025-09-12 08:00:00',
  };
  if (j.enabled !== undefined) values.drive_integration_enabled = enabled(j.enabled);
  if (j.pattern !== undefined) values.drive_folder_pattern = j.pattern;
  for (const k of Object.keys(values)) {
    if (cols.has(k)) continue;
    if (k === 'drive_integration_enabled' || k === 'drive_folder_pattern') throw new Error(`${who}: batch_jobs has no column ${k} (migrate first)`);
    delete values[k];
  }
  return values;
}

/** Inserts jobs through whatever connection fits: a path (own raw connection), a RawDb or a src/db Db. */
export async function seedJobs(target: string | RawDb | Db, jobs: readonly (SeedJob | string)[]): Promise<void> {
  if (typeof target === 'string') return withRawDb(target, (raw) => seedJobs(raw, jobs));
  const all = (sql: string) => target.all(sql) as Promise<{ name: string }[]>;
  const cols = new Set((await all("SELECT name FROM pragma_table_info('batch_jobs')")).map((c) => c.name));
  if (cols.size === 0) throw new Error('seedJobs: the database has no batch_jobs table');
  for (const j0 of jobs) {
    const values = seedJobRow(j0, cols, 'seedJobs', (on) => (on ? 1 : 0));
    const keys = Object.keys(values);
    await target.run(`INSERT INTO batch_jobs (${keys.join(', ')}) VALUES (${keys.map(() => '?').join(', ')})`, ...Object.values(values));
  }
}

/** Opens `path` through src/db (WAL, busy timeout) and closes it at teardown. */
export async function openTestDb(t: ExecutionContext, path: string, busyTimeoutMs = 5000): Promise<Db> {
  const db = await openDatabase(path, { busyTimeoutMs });
  t.teardown(() => db.close().catch(() => undefined));
  return db;
}

/** A controllable clock for createStore: `clock.now()` in ms, `clock.set()` / `clock.advance()`. */
export interface TestClock {
  now: () => number;
  set(ms: number): void;
  advance(ms: number): void;
}

export function makeClock(start = T0): TestClock {
  let t = start;
  return { now: () => t, set: (ms) => (t = ms), advance: (ms) => (t += ms) };
}

/**
 * Everything a store test needs: a migrated temp database of `kind` with `jobs`, the Db,
 * a store on a fixed clock and the clock. Closed and removed at teardown.
 */
export async function makeTestStore(
  t: ExecutionContext,
  kind: BatchJobsKind,
  jobs: readonly (SeedJob | string)[] = [],
  opts: { finalJobStatuses?: readonly string[]; clock?: TestClock } = {},
): Promise<{ dir: string; path: string; db: Db; store: UploadStore; clock: TestClock }> {
  const { dir, path } = await makeTempDb(t, kind);
  const db = await openTestDb(t, path);
  await migrate(db);
  await seedJobs(db, jobs);
  const clock = opts.clock ?? makeClock();
  const store = await createStore(db, { now: clock.now, finalJobStatuses: opts.finalJobStatuses ?? ['completed', 'failed'] });
  return { dir, path, db, store, clock };
}

/** Schema summary used to prove "nothing changed": every sqlite_schema entry (type, name, sql). */
export async function schemaSnapshot(db: Db | RawDb): Promise<{ type: string; name: string; sql: string | null }[]> {
  return (await db.all("SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")) as {
    type: string;
    name: string;
    sql: string | null;
  }[];
}
