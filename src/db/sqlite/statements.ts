import type { ISqlite, Statement } from 'sqlite';
import type { Db } from '../open.js';

/**
 * The per-upload statements (claim, reserved id, outcome, lease, job folder) prepared once and
 * run again. `db.run(sql)` costs three thread-pool round trips (prepare, run, finalize) and a
 * fresh parse of the SQL; a prepared statement costs one. Only `run` (a statement that returns
 * no rows) and `all` (every row read): both step the statement to its end, so no read
 * transaction is left open between calls.
 */
export interface Statements {
  run(sql: string, ...params: unknown[]): Promise<ISqlite.RunResult>;
  all<T>(sql: string, ...params: unknown[]): Promise<T[]>;
}

/** Statements that are prepared afresh for every call (no cache to finalize: for a store on a bare connection). */
export function unpreparedStatements(db: Db): Statements {
  return {
    run: (sql, ...params) => db.run(sql, ...params),
    all: <T>(sql: string, ...params: unknown[]) => db.all<T[]>(sql, ...params),
  };
}

/** A statement cache on one connection; `close()` finalizes them all (SQLite refuses to close a connection with statements open). */
export interface StatementCache extends Statements {
  close(): Promise<void>;
}

export function createStatementCache(db: Db, maxEntries = 32): StatementCache {
  const cache = new Map<string, Promise<Statement>>();
  let closed = false;
  const prepared = (sql: string): Promise<Statement> => {
    let p = cache.get(sql);
    if (!p) {
      p = db.prepare(sql);
      // A statement that failed to prepare (e.g. a table not there yet) is tried again next time.
      p.catch(() => {
        if (cache.get(sql) === p) cache.delete(sql);
      });
      if (cache.size >= maxEntries) {
        const [oldSql, old] = cache.entries().next().value as [string, Promise<Statement>];
        cache.delete(oldSql);
        void old.then((s) => s.finalize()).catch(() => undefined);
      }
      cache.set(sql, p);
    }
    return p;
  };
  return {
    async run(sql, ...params) {
      if (closed) return db.run(sql, ...params);
      return (await prepared(sql)).run(...params);
    },
    async all<T>(sql: string, ...params: unknown[]) {
      if (closed) return db.all<T[]>(sql, ...params);
      return (await prepared(sql)).all<T[]>(...params);
    },
    async close() {
      closed = true;
      const all = [...cache.values()];
      cache.clear();
      await Promise.all(all.map((p) => p.then((s) => s.finalize()).catch(() => undefined)));
    },
  };
}
