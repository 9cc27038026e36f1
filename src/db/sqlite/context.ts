import type { Db } from '../open.js';
import { DbError } from '../errors.js';
import { enabledCondition, enabledJobIds } from '../enabled.js';
import type { StoreOptions } from '../store.js';
import type { Now } from '../types.js';
import { unpreparedStatements, type Statements } from './statements.js';

/** What every SQLite store part shares: the connection, the clock and facts about batch_jobs. */
export interface SqliteCtx {
  db: Db;
  /** The per-upload statements, prepared once where the connection's owner keeps a cache (statements.ts). */
  hot: Statements;
  now: Now;
  hasStatusColumn: boolean;
  /** SQL for "this batch_jobs row is finished" and its parameters. */
  finishedSql: string;
  finishedArgs: readonly string[];
  nodeName: string | null;
  /** The claim filter of watch.shared_storage: false (only rows this node found) and its argument; empty otherwise. */
  ownRows: string;
  ownArgs: readonly string[];
}

export const ENABLED = enabledCondition('sqlite');
export const ENABLED_JOB_IDS = enabledJobIds('sqlite');

/** SQLite's own CURRENT_TIMESTAMP format, so our updated_at matches the seed's defaults. */
export function sqlTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

export const changed = (r: { changes?: number | undefined }): boolean => (r.changes ?? 0) > 0;

export async function sqliteCtx(db: Db, opts: StoreOptions, hot: Statements = unpreparedStatements(db)): Promise<SqliteCtx> {
  const cols = await db.all<{ name: string }[]>("SELECT name FROM pragma_table_info('batch_jobs')");
  if (cols.length === 0) throw new DbError("database has no table batch_jobs; expected the batch system's database (check database.path)", { permanent: true });
  const hasStatusColumn = cols.some((c) => c.name === 'status');
  const finals = [...opts.finalJobStatuses];
  const nodeName = opts.nodeName ?? null;
  const ownOnly = opts.sharedStorage === false;
  if (ownOnly && !nodeName) throw new DbError("watch.shared_storage false needs a node name to tell this daemon's rows", { permanent: true });
  return {
    db,
    hot,
    now: opts.now,
    hasStatusColumn,
    finishedSql: hasStatusColumn && finals.length ? `status IN (${finals.map(() => '?').join(',')})` : '1',
    finishedArgs: hasStatusColumn ? finals : [],
    nodeName,
    ownRows: ownOnly ? 'AND found_by_node = ?' : '',
    ownArgs: ownOnly && nodeName ? [nodeName] : [],
  };
}
