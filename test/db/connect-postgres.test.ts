// The pooled connection of the PostgreSQL backend, against a real server that ends connections.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { connectPostgres } from '../../src/db/postgres/connect.js';
import { pgMigrationStatus } from '../../src/db/postgres/migrate.js';
import { sql } from '../../src/db/postgres/sql.js';
import { captureLogger } from '../helpers/drive.js';
import { waitUntil } from '../helpers/poll.js';
import { makePgDatabase, ownPgDatabase, pgClient } from '../helpers/postgres.js';

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

test('migration status asked while the server is down (a restart): it waits for the server instead of failing with "cannot connect"', async (t) => {
  t.timeout(120_000);
  // A server of its own: this test stops it.
  const { server, url } = await ownPgDatabase(t);
  const conn = await connectPostgres({ url, env: {}, poolSize: 1, connectTimeoutMs: 5_000 });
  t.teardown(() => conn.close());

  await server.stop();
  // Before the fix this rejected at once: a daemon restarted during a server restart exited 1.
  const asked = pgMigrationStatus(conn);
  let settled = false;
  void asked.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, 500)); // a moment with the server down: the question must still be open
  t.false(settled, 'still waiting while the server is down');
  await server.start();
  const states = await asked;
  t.true(states.length > 0 && states.every((s) => s.state === 'pending'), JSON.stringify(states));
});

test('a statement begun before the loss that still succeeds is not "restored": one shutdown logs one loss and no restore while the server is down', async (t) => {
  t.timeout(120_000);
  // A server of its own: this test shuts it down.
  const { server, url } = await ownPgDatabase(t);
  const log = captureLogger();
  const conn = await connectPostgres({ url, env: {}, poolSize: 2, connectTimeoutMs: 5_000, log: log.logger, reconnectMaxMs: 10_000 });
  t.teardown(() => conn.close());
  const lines = (re: RegExp) => log.lines().filter((l) => re.test(l.message)).length;

  // A long statement on one connection, begun while all is well. It is watched from a client of
  // its own (closed before the shutdown), so the pool holds only that one busy connection.
  const admin = await pgClient(t, url);
  const long = conn.q.one<{ one: number }>(sql`SELECT 1 AS one FROM pg_sleep(1.5)`);
  await waitUntil(
    async () =>
      (await admin.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE '%FROM pg_sleep(1.5)%' AND state = 'active' AND pid <> pg_backend_pid()"))
        .rowCount === 1,
    30_000,
    'the long statement running',
  );
  await admin.end();
  // A smart shutdown (SIGTERM to the postmaster): sessions that exist run on, new ones are refused.
  const postmaster = Number(readFileSync(join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.kill(postmaster, 'SIGTERM');
  // A new statement needs a new connection: refused (57P03), so the loss is noticed; it waits.
  const waiting = conn.q.one(sql`SELECT 2 AS two`).catch(() => undefined);
  await waitUntil(() => lines(/database connection lost/) === 1, 30_000, 'the loss noticed');
  t.is((await long)?.one, 1, 'the statement begun before the shutdown finished');
  // Still shutting down (the pool's idle connection keeps the smart shutdown waiting): no restore.
  t.is(lines(/database connection restored/), 0, 'no restore from a statement begun before the loss');
  t.true(conn.isDown());
  await server.close();
  await waiting;
});
