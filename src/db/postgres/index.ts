import type { StoreOptions, UploadStore } from '../store.js';
import type { PgConn } from './connect.js';
import { pgCtx } from './context.js';
import { pgFileStore } from './files.js';
import { pgFolderStore } from './folders.js';
import { pgJobStore } from './jobs.js';
import { pgQueueStore } from './queue.js';
import { pgReportStore } from './report.js';

export { connectPostgres, parseTarget, PG_TYPES, type PgConn, type PgOptions } from './connect.js';
export { pgMigrate, pgMigrationStatus, pgAssertMigrated, postgresMigrationsDir } from './migrate.js';
export { listenForWakeups, WAKE_CHANNEL, type WakeEvent, type WakeListener } from './listen.js';

/**
 * The PostgreSQL store: the same parts as SQLite's on a small pool. Calls run concurrently
 * (each statement takes a pooled connection; a transaction holds one of its own).
 */
export async function createPgStore(conn: PgConn, opts: StoreOptions): Promise<UploadStore> {
  const ctx = await pgCtx(conn, opts);
  return {
    ...pgQueueStore(ctx),
    ...pgFileStore(ctx),
    ...pgJobStore(ctx),
    ...pgFolderStore(ctx),
    ...pgReportStore(ctx),
  };
}
