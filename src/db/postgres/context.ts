import { DbError } from '../errors.js';
import { enabledCondition, enabledJobIds } from '../enabled.js';
import type { StoreOptions } from '../store.js';
import type { Now } from '../types.js';
import type { PgConn, PgQ } from './connect.js';
import { empty, list, raw, sql, type Raw, type Sql } from './sql.js';

/** What every PostgreSQL store part shares: the pool, the clock and facts about batch_jobs. */
export interface PgCtx {
  conn: PgConn;
  q: PgQ;
  now: Now;
  hasStatusColumn: boolean;
  /** "This batch_jobs row is finished". */
  finished: Sql;
  nodeName: string | null;
  /** The claim filter of watch.shared_storage: false (only rows this node found); empty otherwise. */
  ownRows: Sql;
}

export const ENABLED: Raw = raw(enabledCondition('postgres'));
export const ENABLED_JOB_IDS: Raw = raw(enabledJobIds('postgres'));

/** The text SQLite's CURRENT_TIMESTAMP gives, so updated_at reads the same on both backends. */
export function sqlTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

export async function pgCtx(conn: PgConn, opts: StoreOptions): Promise<PgCtx> {
  const cols = await conn.q.rows<{ name: string }>(
    sql`SELECT attname AS name FROM pg_attribute WHERE attrelid = to_regclass('batch_jobs') AND attnum > 0 AND NOT attisdropped`,
  );
  if (cols.length === 0)
    throw new DbError(`database ${conn.target} has no table batch_jobs; expected the batch system's database (check database.url)`, { permanent: true });
  const hasStatusColumn = cols.some((c) => c.name === 'status');
  const finals = [...opts.finalJobStatuses];
  const nodeName = opts.nodeName ?? null;
  const ownOnly = opts.sharedStorage === false;
  if (ownOnly && !nodeName) throw new DbError("watch.shared_storage false needs a node name to tell this daemon's rows", { permanent: true });
  return {
    conn,
    q: conn.q,
    now: opts.now,
    hasStatusColumn,
    finished: hasStatusColumn && finals.length ? sql`status IN (${list(finals)})` : sql`TRUE`,
    nodeName,
    ownRows: ownOnly ? sql`AND found_by_node = ${nodeName}` : sql`${empty}`,
  };
}
