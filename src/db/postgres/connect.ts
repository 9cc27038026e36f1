import { readFileSync } from 'node:fs';
import pg from 'pg';
import { parse } from 'pg-connection-string';
import { DbError, DbUnavailableError } from '../errors.js';
import { errorMessage, type Logger } from '../../log/index.js';
import { render, type Sql } from './sql.js';

export interface PgOptions {
  url: string;
  passwordFile?: string | undefined;
  /** Where $PGPASSWORD comes from (passed in; the process environment is not read behind our back). */
  env: { PGPASSWORD?: string | undefined };
  poolSize: number;
  /** Connecting gives up after this long; at start, unreachable for this long is fatal. */
  connectTimeoutMs: number;
  applicationName?: string | undefined;
  log?: Logger | undefined;
  /** How long a store call waits for a lost database to come back before it fails (default 2 min). */
  reconnectMaxMs?: number | undefined;
  now?: (() => number) | undefined;
  random?: (() => number) | undefined;
}

/** Statements against the pool (or one client, inside a transaction). */
export interface PgQ {
  rows<T>(q: Sql): Promise<T[]>;
  one<T>(q: Sql): Promise<T | undefined>;
  /** Rows changed. */
  count(q: Sql): Promise<number>;
}

export interface PgConn {
  /** user@host:port/dbname: for messages; never the password. */
  readonly target: string;
  /** Statements that wait (with backoff) for a lost database to come back. */
  readonly q: PgQ;
  /** Runs `fn` in one transaction on one connection; the whole transaction is retried if the connection is lost. */
  tx<T>(fn: (q: PgQ) => Promise<T>): Promise<T>;
  /** One quick round trip without waiting: for /healthz. */
  ping(): Promise<void>;
  /** True while the last statement found the database unreachable. */
  isDown(): boolean;
  /** A connection of its own (LISTEN), with the same settings; not connected yet. */
  newClient(): pg.Client;
  /** A connection of its own (the migration lock), connected, waiting out a lost server as statements do. */
  connectClient(): Promise<pg.Client>;
  /** Error messages as shown to people: wrapped in DbError, password removed. */
  wrap(e: unknown, what?: string): DbError;
  close(): Promise<void>;
}

const INT8 = 20;
const RAW_TEXT_TYPES = new Set([1082 /* date */, 1114 /* timestamp */, 1184 /* timestamptz */]);

/**
 * Per-connection type parsers (not pg's global ones): bigint columns (our epoch-ms times, ids,
 * counts) as numbers, and dates and timestamps as the text the database holds, like SQLite gives them.
 */
export const PG_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8) return (v: string) => (Number.isSafeInteger(Number(v)) ? Number(v) : v);
    if (RAW_TEXT_TYPES.has(oid)) return (v: string) => v;
    return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text');
  },
};

/** Connection loss and server restarts: worth waiting for. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

export function isUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  return /Connection terminated|connection timeout|timeout expired|Client has encountered a connection error|not queryable|Connection ended/i.test(
    errorMessage(e),
  );
}

/** Conflicts that a rerun of the transaction resolves. */
function isTransient(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

export interface ParsedTarget {
  config: pg.ClientConfig;
  target: string;
  password: string | undefined;
}

/** Reads the URL and the password source (URL, password_file, $PGPASSWORD) into a client config. */
export function parseTarget(opts: Pick<PgOptions, 'url' | 'passwordFile' | 'env'>): ParsedTarget {
  const p = parse(opts.url);
  let password = p.password || undefined;
  if (opts.passwordFile !== undefined) {
    try {
      password = readFileSync(opts.passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new DbError(`database.password_file ${opts.passwordFile}: cannot read it (${code}); expected a file holding the PostgreSQL password`, {
        permanent: true,
      });
    }
    if (!password) throw new DbError(`database.password_file ${opts.passwordFile}: the file is empty; expected the PostgreSQL password`, { permanent: true });
  }
  password ??= opts.env.PGPASSWORD || undefined;
  const host = p.host ?? 'localhost';
  const port = p.port ?? '5432';
  const user = p.user ?? '';
  const database = p.database ?? user;
  const target = `${user ? `${user}@` : ''}${host.startsWith('/') ? host : `${host}:${port}`}/${database}`;
  const { password: _dropped, ...rest } = p;
  void _dropped;
  const config = { ...(rest as unknown as pg.ClientConfig), host, port: Number(port), database };
  if (user) config.user = user;
  // A function keeps the password out of the config object's enumerable fields (and out of any dump of it).
  if (password !== undefined) {
    const pw = password;
    config.password = () => pw;
  }
  return { config, target, password };
}

/** Opens a small pool; waits up to connect_timeout_ms for the first connection. */
export async function connectPostgres(opts: PgOptions): Promise<PgConn> {
  const { config, target, password } = parseTarget(opts);
  const log = opts.log;
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const reconnectMaxMs = opts.reconnectMaxMs ?? 120_000;
  const scrub = (s: string) => (password ? s.split(password).join('[redacted]') : s);
  const clientConfig: pg.ClientConfig = {
    ...config,
    types: PG_TYPES,
    connectionTimeoutMillis: opts.connectTimeoutMs,
    keepAlive: true,
    application_name: opts.applicationName ?? 'batch-drive-sync',
  };
  const pool = new pg.Pool({ ...clientConfig, max: opts.poolSize, idleTimeoutMillis: 30_000 } as pg.PoolConfig);

  let downSince: number | null = null;
  const markDown = (e: unknown) => {
    if (downSince !== null) return;
    downSince = now();
    log?.warning('database connection lost; reconnecting with backoff', { database: target, error: scrub(errorMessage(e)) });
  };
  // Only a statement begun after the loss was noticed proves the server is back: one already
  // running on a connection the shutdown had not reached yet may still succeed, and counting it
  // would log lost / restored / lost again within one restart.
  const markUp = (begunAt: number) => {
    if (downSince === null || begunAt < downSince) return;
    log?.notice('database connection restored', { database: target, down_ms: now() - downSince });
    downSince = null;
  };
  // An idle pooled connection that dies (server restart) is dropped by the pool; without a
  // listener the 'error' event would end the process.
  pool.on('error', (e) => {
    if (isUnavailable(e)) markDown(e);
  });

  const wrap = (e: unknown, what = 'statement failed'): DbError => {
    if (e instanceof DbError) return e;
    const code = (e as { code?: unknown } | null)?.code;
    const msg = `database ${target}: ${what}: ${scrub(errorMessage(e))}${typeof code === 'string' ? ` (${code})` : ''}`;
    if (isUnavailable(e)) return new DbUnavailableError(msg, e);
    return new DbError(msg, { permanent: false, cause: e });
  };

  const on = (c: pg.Pool | pg.PoolClient): PgQ => ({
    async rows<T>(q: Sql) {
      const { text, values } = render(q);
      return (await c.query(text, values)).rows as T[];
    },
    async one<T>(q: Sql) {
      const { text, values } = render(q);
      return (await c.query(text, values)).rows[0] as T | undefined;
    },
    async count(q: Sql) {
      const { text, values } = render(q);
      return (await c.query(text, values)).rowCount ?? 0;
    },
  });

  /** Runs `fn`, waiting with capped exponential backoff while the database is unreachable. */
  async function retrying<T>(fn: () => Promise<T>, what = 'statement failed'): Promise<T> {
    const started = now();
    let delay = 100;
    for (let transient = 0; ;) {
      const begunAt = now();
      try {
        const out = await fn();
        markUp(begunAt);
        return out;
      } catch (e) {
        if (isTransient(e) && transient++ < 5) continue;
        if (!isUnavailable(e)) throw wrap(e, what);
        markDown(e);
        if (now() - started >= reconnectMaxMs) throw wrap(e, `unreachable for ${Math.round((now() - started) / 1000)} s`);
        await new Promise((r) => setTimeout(r, delay * (0.5 + random())));
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  const direct = on(pool);
  const q: PgQ = {
    rows: (s) => retrying(() => direct.rows(s)),
    one: (s) => retrying(() => direct.one(s)),
    count: (s) => retrying(() => direct.count(s)),
  };

  const conn: PgConn = {
    target,
    q,
    tx: (fn) =>
      retrying(async () => {
        const c = await pool.connect();
        let broken: Error | undefined;
        // A checked-out client has no pool listener: the server ending the connection between
        // two statements (a restart's 57P01) is an 'error' event that would end the process.
        const onError = (e: Error) => {
          broken = e;
          if (isUnavailable(e)) markDown(e);
        };
        c.on('error', onError);
        try {
          await c.query('BEGIN');
          const out = await fn(on(c));
          await c.query('COMMIT');
          return out;
        } catch (e) {
          if (isUnavailable(e)) broken = e instanceof Error ? e : new Error(String(e));
          else await c.query('ROLLBACK').catch(() => undefined);
          throw e;
        } finally {
          c.off('error', onError);
          c.release(broken);
        }
      }),
    async ping() {
      const begunAt = now();
      try {
        await pool.query('SELECT 1');
        markUp(begunAt);
      } catch (e) {
        if (isUnavailable(e)) markDown(e);
        throw wrap(e, 'not answering');
      }
    },
    isDown: () => downSince !== null,
    newClient: () => new pg.Client(clientConfig),
    connectClient: () =>
      retrying(async () => {
        const c = new pg.Client(clientConfig);
        c.on('error', () => undefined);
        try {
          await c.connect();
          return c;
        } catch (e) {
          await c.end().catch(() => undefined);
          throw e;
        }
      }, 'cannot connect'),
    wrap,
    close: () => pool.end(),
  };

  // The first connection: unreachable is retried for connect_timeout_ms, anything else (wrong
  // password, unknown database) is final at once. Both are configuration errors at start.
  const started = now();
  let delay = 100;
  for (;;) {
    try {
      await pool.query('SELECT 1');
      break;
    } catch (e) {
      if (isUnavailable(e) && now() - started + delay < opts.connectTimeoutMs) {
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2_000);
        continue;
      }
      await pool.end().catch(() => undefined);
      const code = (e as { code?: unknown } | null)?.code;
      const hint = isUnavailable(e) ? `; nothing answered for ${opts.connectTimeoutMs} ms (check database.url host and port)` : '';
      throw new DbError(`database.url ${target}: cannot connect: ${scrub(errorMessage(e))}${typeof code === 'string' ? ` (${code})` : ''}${hint}`, {
        permanent: true,
        cause: e,
      });
    }
  }
  return conn;
}
