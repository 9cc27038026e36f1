// A database the daemon cannot write would otherwise start fine ("daemon started", READY) and
// then fail every pass forever. SQLite opens such a file read-only without a word, and it needs
// the directory too: it creates the -wal and -shm files (or a rollback journal) beside the file.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import type { Db } from './open.js';
import { DbError } from './errors.js';

/** SQLite answers that mean "this process may not write here" (as opposed to busy or corrupt). */
const UNWRITABLE_CODES = new Set(['SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_PERM', 'SQLITE_AUTH', 'SQLITE_IOERR']);

/** The name of the user this process runs as (what the operator must grant the rights to). */
export function processUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`; // a uid without a passwd entry (DynamicUser, containers)
  }
}

async function denied(path: string, mode: number): Promise<string | null> {
  try {
    await access(path, mode);
    return null;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'error';
  }
}

/** The error for a database this process cannot write (exit 78: a restart will not fix it). */
export function unwritable(path: string, detail: string, cause?: unknown): DbError {
  return new DbError(
    `database.path ${path}: user ${processUser()} cannot write ${path} (and its -wal/-shm directory): ${detail}; ` +
      "expected both writable by the daemon's user (it records every upload there)",
    { permanent: true, cause },
  );
}

/** What the file system says about writing `path` and creating files beside it; null when both are allowed. */
export async function writeAccessProblem(path: string): Promise<string | null> {
  const file = await denied(path, constants.W_OK);
  const dir = await denied(dirname(path), constants.W_OK | constants.X_OK);
  if (!file && !dir) return null;
  return [file ? `file: ${file}` : null, dir ? `directory ${dirname(path)}: ${dir}` : null].filter(Boolean).join(', ');
}

/**
 * Throws a permanent DbError naming the user, the file and its directory unless this process can
 * write the database. Checks the file system first (read-only mounts, immutable files and
 * permissions), then makes SQLite itself write a page in a transaction it rolls back.
 */
export async function assertWritable(db: Db, path: string): Promise<void> {
  const fsProblem = await writeAccessProblem(path);
  if (fsProblem) throw unwritable(path, fsProblem);
  try {
    await db.exec('BEGIN IMMEDIATE');
  } catch (e) {
    throw probeError(path, e);
  }
  try {
    await db.exec('CREATE TABLE bds_write_probe (x INTEGER)');
  } catch (e) {
    throw probeError(path, e);
  } finally {
    await db.exec('ROLLBACK').catch(() => undefined);
  }
}

/** Maps an error met while opening or probing to the writability error when it is one. */
export function probeError(path: string, e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNWRITABLE_CODES.has(code)) return unwritable(path, `SQLite: ${(e as Error).message} (directory ${dirname(path)})`, e);
  return e;
}
