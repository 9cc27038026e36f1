// The pooled connection of the PostgreSQL backend, against a real server that ends connections.
import test from 'ava';
import { connectPostgres } from '../../src/db/postgres/connect.js';
import { sql } from '../../src/db/postgres/sql.js';
import { captureLogger } from '../helpers/drive.js';
import { waitUntil } from '../helpers/poll.js';
import { makePgDatabase, pgClient } from '../helpers/postgres.js';

test('the server ends a transaction connection between two statements (57P01): no crash, the transaction runs again, the loss is logged once', async (t) => {
  t.timeout(120_000);
  const { url } = await makePgDatabase(t);
  const log = captureLogger();
  const conn = await connectPostgres({ url, env: {}, poolSize: 2, connectTimeoutMs: 5_000, log: log.logger });
  t.teardown(() => conn.close());
  const admin = await pgClient(t, url);

  let runs = 0;
  const value = await conn.tx(async (q) => {
    runs++;
    const me = await q.one<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`);
    if (runs === 1) {
      // Between statements no query is active: the FATAL arrives as an 'error' event on the
      // checked-out client, which ended the daemon before the fix.
      await admin.query('SELECT pg_terminate_backend($1)', [me?.pid]);
      await waitUntil(async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [me?.pid])).rowCount === 0, 30_000, 'the backend gone');
    }
    return (await q.one<{ n: number }>(sql`SELECT ${41}::int + 1 AS n`))?.n;
  });
  t.is(value, 42);
  t.is(runs, 2, 'the transaction ran again on a new connection');
  t.is(log.lines().filter((l) => /database connection lost/.test(l.message)).length, 1);
  t.false(conn.isDown());
});
