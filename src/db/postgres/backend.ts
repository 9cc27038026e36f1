import type { Database, DatabaseConfig, OpenBackendOptions } from '../backend.js';
import { connectPostgres, type PgConn } from './connect.js';
import { createPgStore } from './index.js';
import { listenForWakeups } from './listen.js';
import { pgAssertMigrated, pgMigrate, pgMigrationStatus } from './migrate.js';
import { pgAssertWritable } from './writable.js';

/** Connects (exit 78 on a wrong URL or password, see connectPostgres) and wraps the pool as a Database. */
export async function openPostgresBackend(cfg: DatabaseConfig & { url: string }, opts: OpenBackendOptions): Promise<Database> {
  const conn = await connectPostgres({
    url: cfg.url,
    passwordFile: cfg.password_file,
    env: opts.env,
    poolSize: cfg.pool_size ?? 4,
    connectTimeoutMs: cfg.connect_timeout_ms ?? 10_000,
    applicationName: opts.applicationName,
    log: opts.log,
    reconnectMaxMs: opts.reconnectMaxMs,
  });
  return postgresBackend(conn);
}

export function postgresBackend(conn: PgConn): Database {
  return {
    kind: 'postgres',
    label: conn.target,
    migrate: (o) => pgMigrate(conn, o),
    migrationStatus: () => pgMigrationStatus(conn),
    assertMigrated: () => pgAssertMigrated(conn),
    assertWritable: () => pgAssertWritable(conn),
    createStore: (o) => createPgStore(conn, o),
    ping: () => conn.ping(),
    listen: (onWake, log) => listenForWakeups(conn, onWake, { log }),
    close: () => conn.close(),
  };
}
