import { join } from 'node:path';
import type pg from 'pg';
import { DbError, NotMigratedError } from '../errors.js';
import { defaultMigrationsDir, readMigrations, type MigrationState } from '../migrate.js';
import { errorMessage } from '../../log/index.js';
import type { PgConn } from './connect.js';

/** migrations/postgres/: the same numbered steps as the SQLite files, in PostgreSQL's dialect. */
export function postgresMigrationsDir(): string {
  return join(defaultMigrationsDir(), 'postgres');
}

// Any fixed 64-bit number: every `migrate` of this program takes the same advisory lock.
const LOCK_KEY = '7351920466128804661';

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

type Applied = Map<number, { name: string; checksum: string; applied_at: string }>;

async function hasTable(c: pg.ClientBase, name: string): Promise<boolean> {
  // to_regclass follows search_path, as the daemon's own statements do.
  return (await c.query('SELECT to_regclass($1) IS NOT NULL AS ok', [name])).rows[0].ok === true;
}

async function appliedRows(c: pg.ClientBase): Promise<Applied> {
  if (!(await hasTable(c, 'schema_migrations'))) return new Map();
  const r = await c.query<{ version: number; name: string; checksum: string; applied_at: string }>(
    'SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version',
  );
  return new Map(r.rows.map((x) => [x.version, x]));
}

function states(dir: string, applied: Applied): MigrationState[] {
  return readMigrations(dir).map((m) => {
    const a = applied.get(m.version);
    return {
      version: m.version,
      name: m.name,
      state: !a ? 'pending' : a.checksum === m.checksum ? 'applied' : 'changed',
      appliedAt: a?.applied_at ?? null,
    };
  });
}

/** Runs `fn` on a connection of its own (closed afterwards), errors named with the target. */
async function withClient<T>(conn: PgConn, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await conn.connectClient();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function pgMigrationStatus(conn: PgConn, dir = postgresMigrationsDir()): Promise<MigrationState[]> {
  return withClient(conn, async (c) => states(dir, await appliedRows(c)));
}

/**
 * Applies pending migrations in order, each in its own transaction (Postgres DDL is
 * transactional: a failed step leaves nothing behind). A session advisory lock makes a second
 * `migrate` wait for the first and then find nothing to do.
 */
export async function pgMigrate(conn: PgConn, opts: { dir?: string; now?: () => Date } = {}): Promise<string[]> {
  const dir = opts.dir ?? postgresMigrationsDir();
  const now = opts.now ?? (() => new Date());
  return withClient(conn, async (c) => {
    await c.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    try {
      const st = states(dir, await appliedRows(c));
      const changed = st.filter((s) => s.state === 'changed');
      if (changed.length > 0) {
        throw new DbError(
          `migration file(s) ${changed.map((x) => x.name).join(', ')} changed after being applied (checksum differs); restore the original file and add a new migration instead`,
          { permanent: true },
        );
      }
      if (!(await hasTable(c, 'batch_jobs'))) {
        throw new DbError(`database ${conn.target} has no table batch_jobs; expected the batch system's database (check database.url) — nothing was changed`, {
          permanent: true,
        });
      }
      const done: string[] = [];
      for (const m of readMigrations(dir).filter((f) => st.find((s) => s.version === f.version)?.state === 'pending')) {
        try {
          await c.query('BEGIN');
          await c.query(CREATE_TABLE);
          await c.query(m.sql);
          await c.query('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)', [
            m.version,
            m.name,
            m.checksum,
            now().toISOString(),
          ]);
          await c.query('COMMIT');
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw new DbError(`migration postgres/${m.name} failed and was rolled back: ${errorMessage(e)}`, { permanent: true, cause: e });
        }
        done.push(m.name);
      }
      return done;
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    }
  });
}

/** Refuses to run on a database that lacks migrations; names the command that fixes it. */
export async function pgAssertMigrated(conn: PgConn, dir = postgresMigrationsDir()): Promise<void> {
  await withClient(conn, async (c) => {
    if (!(await hasTable(c, 'batch_jobs'))) {
      throw new DbError(`database ${conn.target} has no table batch_jobs; expected the batch system's database (check database.url)`, { permanent: true });
    }
    const st = states(dir, await appliedRows(c));
    const changed = st.filter((s) => s.state === 'changed');
    if (changed.length)
      throw new NotMigratedError(`applied migration(s) ${changed.map((x) => x.name).join(', ')} changed since; the database and this version disagree`);
    const pending = st.filter((s) => s.state === 'pending');
    if (pending.length) {
      throw new NotMigratedError(
        `database is not migrated (pending: ${pending.map((p) => p.name).join(', ')}); run "batch-drive-sync migrate --config <file>" first`,
      );
    }
  });
}
