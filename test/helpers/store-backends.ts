/**
 * The two store backends behind one test interface, so one contract suite (test/db/
 * store-contract.ts) runs against both: a migrated database with a batch_jobs table of either
 * kind, seeded jobs, a store on a controllable clock, and plain SQL for setup and assertions
 * (written with `?` placeholders; the PostgreSQL side numbers them).
 */
import type { ExecutionContext } from 'ava';
import pg from 'pg';
import { connectPostgres, createPgStore, pgMigrate, type PgConn } from '../../src/db/postgres/index.js';
import type { StoreOptions, UploadStore } from '../../src/db/index.js';
import { makeClock, makeTestStore as makeSqliteStore, seedJobRow, seedJobs, type BatchJobsKind, type SeedJob, type TestClock } from './db.js';
import { makePgDatabase, pgClient } from './postgres.js';

/** Plain SQL on the test database (fixtures and assertions), shaped like the sqlite package's Database. */
export interface TestSql {
  get<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T | undefined>;
  all<T = Record<string, unknown>[]>(sql: string, ...params: unknown[]): Promise<T>;
  run(sql: string, ...params: unknown[]): Promise<unknown>;
  exec(sql: string): Promise<unknown>;
}

export interface TestStore {
  store: UploadStore;
  clock: TestClock;
  db: TestSql;
  /** Inserts batch_jobs rows as the batch system would. */
  seed(jobs: readonly (SeedJob | string)[]): Promise<void>;
  /** Another store on the same database (another daemon), e.g. with another node name. */
  newStore(opts?: Partial<StoreOptions>): Promise<UploadStore>;
}

export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  /** drive_integration_enabled as the store writes it. */
  TRUE: unknown;
  FALSE: unknown;
  make(
    t: ExecutionContext,
    kind: BatchJobsKind,
    jobs?: readonly (SeedJob | string)[],
    opts?: { finalJobStatuses?: readonly string[]; clock?: TestClock } & Partial<StoreOptions>,
  ): Promise<TestStore>;
}

export const sqliteStoreBackend: StoreBackend = {
  name: 'sqlite',
  TRUE: 1,
  FALSE: 0,
  async make(t, kind, jobs = [], opts = {}) {
    const s = await makeSqliteStore(t, kind, jobs, opts);
    const { createStore } = await import('../../src/db/index.js');
    const storeOpts = (o: Partial<StoreOptions> = {}): StoreOptions => ({
      now: s.clock.now,
      finalJobStatuses: opts.finalJobStatuses ?? ['completed', 'failed'],
      nodeName: opts.nodeName,
      sharedStorage: opts.sharedStorage,
      ...o,
    });
    const store = opts.nodeName !== undefined || opts.sharedStorage !== undefined ? await createStore(s.db, storeOpts()) : s.store;
    return {
      store,
      clock: s.clock,
      db: s.db,
      seed: (j) => seedJobs(s.db, j),
      newStore: (o) => createStore(s.db, storeOpts(o)),
    };
  },
};

/** batch_jobs as the batch system keeps it in PostgreSQL (`real`), and a job_id-only table. */
export const PG_BATCH_JOBS_DDL: Record<BatchJobsKind, string> = {
  real: `CREATE TABLE batch_jobs (
    id SERIAL PRIMARY KEY,
    job_id VARCHAR(255) NOT NULL UNIQUE,
    status VARCHAR(50) NOT NULL,
    total_files INTEGER NOT NULL,
    created_at TIMESTAMP,
    updated_at TIMESTAMP
  )`,
  minimal: 'CREATE TABLE batch_jobs (job_id VARCHAR(255))',
};

/** `?` placeholders → `$1…` (tests only: no `?` inside their string literals). */
const numbered = (sql: string) => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

export function pgTestSql(c: pg.ClientBase | pg.Pool): TestSql {
  return {
    async get<T>(sql: string, ...params: unknown[]) {
      return (await c.query(numbered(sql), params)).rows[0] as T | undefined;
    },
    async all<T>(sql: string, ...params: unknown[]) {
      return (await c.query(numbered(sql), params)).rows as T;
    },
    run: (sql, ...params) => c.query(numbered(sql), params),
    exec: (sql) => c.query(sql),
  };
}

/** Inserts jobs into a PostgreSQL batch_jobs, skipping the columns the table lacks. */
export async function pgSeedJobs(db: TestSql, jobs: readonly (SeedJob | string)[]): Promise<void> {
  const cols = new Set(
    (
      await db.all<{ name: string }[]>(
        "SELECT attname AS name FROM pg_attribute WHERE attrelid = to_regclass('batch_jobs') AND attnum > 0 AND NOT attisdropped",
      )
    ).map((c) => c.name),
  );
  if (cols.size === 0) throw new Error('pgSeedJobs: the database has no batch_jobs table');
  for (const j0 of jobs) {
    const values = seedJobRow(j0, cols, 'pgSeedJobs', (on) => on);
    const keys = Object.keys(values);
    await db.run(`INSERT INTO batch_jobs (${keys.join(', ')}) VALUES (${keys.map(() => '?').join(', ')})`, ...Object.values(values));
  }
}

/** A fresh PostgreSQL database with batch_jobs of `kind`, migrated; a pool on it closed at teardown. */
export async function makePgTestDb(t: ExecutionContext, kind: BatchJobsKind | null, opts: { migrate?: boolean } = {}) {
  const { url, server, name } = await makePgDatabase(t);
  const client = await pgClient(t, url);
  if (kind) await client.query(PG_BATCH_JOBS_DDL[kind]);
  else await client.query('CREATE TABLE unrelated (x INTEGER)');
  const conn: PgConn = await connectPostgres({ url, env: {}, poolSize: 4, connectTimeoutMs: 10_000 });
  t.teardown(() => conn.close().catch(() => undefined));
  if (opts.migrate ?? true) await pgMigrate(conn);
  return { url, server, name, client, conn, db: pgTestSql(client) };
}

export const pgStoreBackend: StoreBackend = {
  name: 'postgres',
  TRUE: true,
  FALSE: false,
  async make(t, kind, jobs = [], opts = {}) {
    const { conn, db } = await makePgTestDb(t, kind);
    await pgSeedJobs(db, jobs);
    const clock = opts.clock ?? makeClock();
    const storeOpts = (o: Partial<StoreOptions> = {}): StoreOptions => ({
      now: clock.now,
      finalJobStatuses: opts.finalJobStatuses ?? ['completed', 'failed'],
      nodeName: opts.nodeName,
      sharedStorage: opts.sharedStorage,
      ...o,
    });
    return {
      store: await createPgStore(conn, storeOpts()),
      clock,
      db,
      seed: (j) => pgSeedJobs(db, j),
      newStore: (o) => createPgStore(conn, storeOpts(o)),
    };
  },
};
