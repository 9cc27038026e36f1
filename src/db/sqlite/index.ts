import type { Db } from '../open.js';
import type { StoreOptions, UploadStore } from '../store.js';
import { sqliteCtx } from './context.js';
import { sqliteFileStore } from './files.js';
import { sqliteFolderStore } from './folders.js';
import { sqliteJobStore } from './jobs.js';
import { sqliteQueueStore } from './queue.js';
import { sqliteReportStore } from './report.js';
import type { Statements } from './statements.js';

export { sqlTimestamp } from './context.js';
export { createStatementCache, type StatementCache } from './statements.js';

/**
 * The SQLite store: one part per concern on one shared connection, calls run one at a time.
 * `hot`: the connection owner's statement cache (finalized before it closes the connection).
 */
export async function createStore(db: Db, opts: StoreOptions, hot?: Statements): Promise<UploadStore> {
  const ctx = await sqliteCtx(db, opts, hot);
  return serialized({
    ...sqliteQueueStore(ctx),
    ...sqliteFileStore(ctx),
    ...sqliteJobStore(ctx),
    ...sqliteFolderStore(ctx),
    ...sqliteReportStore(ctx),
  });
}

/**
 * One connection is shared by every worker; a transaction on it would swallow (and on rollback
 * undo) statements other workers issue meanwhile. So store calls run one at a time: each is a
 * few hundred microseconds, far below the network time they sit between.
 */
function serialized(store: UploadStore): UploadStore {
  let tail: Promise<unknown> = Promise.resolve();
  const out: Record<string, unknown> = { hasStatusColumn: store.hasStatusColumn };
  for (const [k, v] of Object.entries(store)) {
    if (typeof v !== 'function') continue;
    out[k] = (...args: unknown[]) => {
      const run = tail.then(() => (v as (...a: unknown[]) => Promise<unknown>).apply(store, args));
      tail = run.catch(() => undefined);
      return run;
    };
  }
  return out as unknown as UploadStore;
}
