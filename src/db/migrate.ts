import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './open.js';
import { withTransaction } from './open.js';
import { DbError, NotMigratedError } from './errors.js';
import { errorMessage } from '../log/index.js';

export interface MigrationFile {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationState {
  version: number;
  name: string;
  state: 'applied' | 'pending' | 'changed';
  appliedAt: string | null;
}

/** The migrations/ folder of this package, found from this file whether run from src/ or dist/src/. */
export function defaultMigrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'migrations')) && existsSync(join(dir, 'package.json'))) return join(dir, 'migrations');
    dir = dirname(dir);
  }
  throw new DbError('cannot find the migrations/ folder next to package.json', { permanent: true });
}

export function readMigrations(dir: string): MigrationFile[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .map((f) => {
      const sql = readFileSync(join(dir, f), 'utf8');
      return {
        version: Number(f.split('_')[0]),
        name: f,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    })
    .sort((a, b) => a.version - b.version);
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

async function hasTable(db: Db, name: string): Promise<boolean> {
  const row = await db.get<{ n: number }>("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name = ?", name);
  return (row?.n ?? 0) > 0;
}

async function appliedRows(db: Db): Promise<Map<number, { name: string; checksum: string; applied_at: string }>> {
  if (!(await hasTable(db, 'schema_migrations'))) return new Map();
  const rows = await db.all<{ version: number; name: string; checksum: string; applied_at: string }[]>(
    'SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version',
  );
  return new Map(rows.map((r) => [r.version, r]));
}

/** Lists every migration file with its state. */
export async function migrationStatus(db: Db, dir = defaultMigrationsDir()): Promise<MigrationState[]> {
  const applied = await appliedRows(db);
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

/**
 * Applies pending migrations in order, each in its own transaction, recording name and checksum.
 * Idempotent. Refuses when an applied file changed or when batch_jobs is missing (changes nothing).
 */
export async function migrate(db: Db, opts: { dir?: string; now?: () => Date } = {}): Promise<string[]> {
  const dir = opts.dir ?? defaultMigrationsDir();
  const now = opts.now ?? (() => new Date());
  const files = readMigrations(dir);
  const states = await migrationStatus(db, dir);
  const changed = states.filter((s) => s.state === 'changed');
  if (changed.length > 0) {
    throw new DbError(
      `migration file(s) ${changed.map((c) => c.name).join(', ')} changed after being applied (checksum differs); restore the original file and add a new migration instead`,
      { permanent: true },
    );
  }
  if (!(await hasTable(db, 'batch_jobs'))) {
    throw new DbError("database has no table batch_jobs; expected the batch system's database (check database.path) — nothing was changed", {
      permanent: true,
    });
  }
  const pending = files.filter((f) => states.find((s) => s.version === f.version)?.state === 'pending');
  const done: string[] = [];
  for (const m of pending) {
    try {
      const ran = await withTransaction(db, async () => {
        await db.exec(CREATE_TABLE);
        // Another migrate may have applied it since we looked: the write lock is ours only now.
        const again = await db.get('SELECT 1 AS x FROM schema_migrations WHERE version = ?', m.version);
        if (again) return false;
        await db.exec(m.sql);
        await db.run(
          'INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)',
          m.version,
          m.name,
          m.checksum,
          now().toISOString(),
        );
        return true;
      });
      if (!ran) continue;
    } catch (e) {
      const msg = errorMessage(e);
      throw new DbError(`migration ${m.name} failed and was rolled back: ${msg}`, { permanent: true, cause: e });
    }
    done.push(m.name);
  }
  return done;
}

/** Refuses to run on a database that lacks migrations; names the command that fixes it. */
export async function assertMigrated(db: Db, dir = defaultMigrationsDir()): Promise<void> {
  // Migrating would not help here: say what is wrong instead of "run migrate".
  if (!(await db.get("SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = 'batch_jobs'"))) {
    throw new DbError("database has no table batch_jobs; expected the batch system's database (check database.path)", { permanent: true });
  }
  const states = await migrationStatus(db, dir);
  const changed = states.filter((s) => s.state === 'changed');
  if (changed.length)
    throw new NotMigratedError(`applied migration(s) ${changed.map((c) => c.name).join(', ')} changed since; the database and this version disagree`);
  const pending = states.filter((s) => s.state === 'pending');
  if (pending.length) {
    throw new NotMigratedError(
      `database is not migrated (pending: ${pending.map((p) => p.name).join(', ')}); run "batch-drive-sync migrate --config <file>" first`,
    );
  }
}
