import type { Logger } from '../log/index.js';
import { DbError } from './errors.js';
import { assertMigrated, migrate, migrationStatus, type MigrationState } from './migrate.js';
import { openDatabase, type Db } from './open.js';
import type { WakeEvent, WakeListener } from './postgres/listen.js';
import { createStatementCache, createStore } from './sqlite/index.js';
import type { StoreOptions, UploadStore } from './store.js';
import { assertWritable } from './writable.js';

/** The `database` section of the config, as far as opening it goes. */
export interface DatabaseConfig {
  path?: string | undefined;
  url?: string | undefined;
  password_file?: string | undefined;
  pool_size?: number | undefined;
  connect_timeout_ms?: number | undefined;
  busy_timeout_ms: number;
}

/** One handle per backend: what the CLI and the daemon need besides the store. */
export interface Database {
  readonly kind: 'sqlite' | 'postgres';
  /** The SQLite path, or user@host:port/dbname (never a password): for messages. */
  readonly label: string;
  /** The SQLite connection itself (tests and benchmarks look at it); absent on PostgreSQL. */
  readonly sqlite?: Db;
  migrate(opts?: { now?: () => Date }): Promise<string[]>;
  migrationStatus(): Promise<MigrationState[]>;
  assertMigrated(): Promise<void>;
  /** Throws a permanent DbError (exit 78) unless this process may write the daemon's tables. */
  assertWritable(): Promise<void>;
  createStore(opts: StoreOptions): Promise<UploadStore>;
  /** One quick round trip; throws a DbError when the database does not answer. */
  ping(): Promise<void>;
  /** Instant wake-ups (PostgreSQL LISTEN/NOTIFY); null where the backend has none (SQLite: the watcher and scans). */
  listen(onWake: (e: WakeEvent) => void, log?: Logger): Promise<WakeListener | null>;
  close(): Promise<void>;
}

export interface OpenBackendOptions {
  env: { PGPASSWORD?: string | undefined };
  log?: Logger | undefined;
  /** Shown to the server as application_name (e.g. the node name). */
  applicationName?: string | undefined;
  /** How long a PostgreSQL statement waits for a lost server to come back (default 2 min). */
  reconnectMaxMs?: number | undefined;
}

/** Opens whichever backend the config names (exactly one of database.path or database.url). */
export async function openBackend(cfg: DatabaseConfig, opts: OpenBackendOptions): Promise<Database> {
  if (cfg.url !== undefined) {
    // node-postgres loads only for a PostgreSQL config: SQLite users do not pay its start-up time.
    const { openPostgresBackend } = await import('./postgres/backend.js');
    return openPostgresBackend({ ...cfg, url: cfg.url }, opts);
  }
  if (cfg.path === undefined) throw new DbError('expected database.path or database.url', { permanent: true });
  const db = await openDatabase(cfg.path, { busyTimeoutMs: cfg.busy_timeout_ms });
  return sqliteBackend(db, cfg.path);
}

export function sqliteBackend(db: Db, path: string): Database {
  // Prepared once for every store on this connection; finalized before it closes.
  const hot = createStatementCache(db);
  return {
    kind: 'sqlite',
    label: path,
    sqlite: db,
    migrate: (o) => migrate(db, o),
    migrationStatus: () => migrationStatus(db),
    assertMigrated: () => assertMigrated(db),
    assertWritable: () => assertWritable(db, path),
    createStore: (o) => createStore(db, o, hot),
    ping: async () => {
      await db.get('SELECT 1');
    },
    listen: async () => null,
    close: async () => {
      await hot.close();
      await db.close();
    },
  };
}
