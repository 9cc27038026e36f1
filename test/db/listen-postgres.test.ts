// The LISTEN connection of the PostgreSQL wake-ups, against a real server that goes away.
import test from 'ava';
import { connectPostgres } from '../../src/db/postgres/connect.js';
import { listenForWakeups, WAKE_CHANNEL, type WakeEvent } from '../../src/db/postgres/listen.js';
import { captureLogger } from '../helpers/drive.js';
import { waitUntil } from '../helpers/poll.js';
import { ownPgDatabase, pgClient } from '../helpers/postgres.js';

test('LISTEN asked for while the server is restarting: no crash, it comes up with the server, says resync, then delivers NOTIFYs', async (t) => {
  t.timeout(120_000);
  // A server of its own: this test stops it.
  const { server, url } = await ownPgDatabase(t);
  const log = captureLogger();
  const conn = await connectPostgres({ url, env: {}, poolSize: 1, connectTimeoutMs: 2_000, log: log.logger });
  t.teardown(() => conn.close());

  await server.stop();
  const events: WakeEvent[] = [];
  // Before the fix this threw "cannot LISTEN for wake-ups" and the daemon exited 1.
  const listener = await listenForWakeups(conn, (e) => events.push(e), { log: log.logger, random: () => 0 });
  t.teardown(() => listener.close());
  await waitUntil(() => log.lines().some((l) => l.level === 'warning' && /cannot LISTEN for wake-ups yet/.test(l.message)), 10_000, 'the wait logged');

  await server.start();
  await waitUntil(() => events.some((e) => e.kind === 'resync'), 60_000, 'a resync once LISTEN is back');
  // Notifications are per database: send it on the one listened to.
  const client = await pgClient(t, url);
  await client.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, JSON.stringify({ kind: 'job', job: 'job-7' })]);
  const job = await waitUntil(() => events.find((e) => e.kind === 'job'), 30_000, 'the job notification');
  t.deepEqual(job, { kind: 'job', jobId: 'job-7' });
});
