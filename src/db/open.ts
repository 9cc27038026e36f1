import { open, type Database } from 'sqlite';
import sqlite3 from 'sqlite3';
import { DbError } from './errors.js';
import { errorMessage } from '../log/index.js';
import { unwritable, writeAccessProblem } from './writable.js';

export type Db = Database<sqlite3.Database, sqlite3.Statement>;

export interface OpenOptions {
  busyTimeoutMs: number;
}

/**
 * Opens the batch system's SQLite file. We share it with the batch system, so: a busy timeout
 * (writers wait instead of failing) and WAL where the file allows it (readers never block writers).
 */
export async function openDatabase(path: string, opts: OpenOptions): Promise<Db> {
  let db: Db;
  try {
    db = await open({
      filename: path,
      driver: sqlite3.Database,
      mode: sqlite3.OPEN_READWRITE,
    });
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'error';
    throw new DbError(`database.path ${path}: cannot open it (${code}); expected an existing SQLite file of the batch system`, {
      permanent: true,
      cause: e,
    });
  }
  try {
    await db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs))}`);
    // Fail fast on a file that is not a database at all.
    await db.get('SELECT count(*) AS n FROM sqlite_schema');
    // WAL is persistent and shared by every user of the file; it can fail (e.g. on network
    // file systems) and then the default rollback journal is kept.
    await db.get('PRAGMA journal_mode = WAL').catch(() => undefined);
    await db.exec('PRAGMA synchronous = NORMAL');
  } catch (e) {
    await db.close().catch(() => undefined);
    // A WAL file whose -shm cannot be made fails its first read: say why instead of "not usable".
    const denied = await writeAccessProblem(path);
    if (denied) throw unwritable(path, denied, e);
    const msg = errorMessage(e);
    throw new DbError(`database.path ${path}: not a usable SQLite database (${msg})`, { permanent: true, cause: e });
  }
  return db;
}

/** Runs `fn` in a BEGIN IMMEDIATE transaction: takes the write lock up front so WAL readers never deadlock on upgrade. */
export async function withTransaction<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  await db.exec('BEGIN IMMEDIATE');
  try {
    const out = await fn();
    await db.exec('COMMIT');
    return out;
  } catch (e) {
    await db.exec('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
