import { request } from 'node:http';
import test from 'ava';
import { createPrometheusMetrics, parseListen, scanHealth, startMetricsServer, type HealthReport } from '../../src/metrics/index.js';
import { parsePromText, sampleValue } from './prom-text.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(url: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function start(t: import('ava').ExecutionContext, health: () => Promise<HealthReport>, healthTimeoutMs?: number) {
  const metrics = await createPrometheusMetrics();
  const server = await startMetricsServer({
    listen: '127.0.0.1:0',
    metrics,
    health,
    ...(healthTimeoutMs === undefined ? {} : { healthTimeoutMs }),
  });
  t.teardown(() => server.close());
  return { metrics, server };
}

test('GET /metrics serves the registry in Prometheus text format', async (t) => {
  const { metrics, server } = await start(t, async () => ({ ok: true, problems: [] }));
  t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.not(server.url, 'http://127.0.0.1:0');
  metrics.uploadOutcome('uploaded', 'ok', 42, 10);
  metrics.setQueueDepth(3);
  const r = await get(`${server.url}/metrics`);
  t.is(r.status, 200);
  t.regex(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const s = parsePromText(r.body);
  t.is(sampleValue(s, 'bds_files_uploaded_total'), 1);
  t.is(sampleValue(s, 'bds_uploaded_bytes_total'), 42);
  t.is(sampleValue(s, 'bds_queue_depth'), 3);
  t.true(sampleValue(s, 'process_cpu_user_seconds_total') >= 0);
});

test('GET /healthz answers 200 "ok" when healthy', async (t) => {
  const { server } = await start(t, async () => ({ ok: true, problems: [] }));
  const r = await get(`${server.url}/healthz`);
  t.is(r.status, 200);
  t.is(r.body, 'ok\n');
  const q = await get(`${server.url}/healthz?verbose=1`);
  t.is(q.status, 200, 'a query string does not change the route');
});

test('GET /healthz answers 503 with one problem per line', async (t) => {
  const problems = ['last scan completed 400 s ago (limit 180 s)', 'database: SQLITE_BUSY: database is locked'];
  const { server } = await start(t, async () => ({ ok: false, problems }));
  const r = await get(`${server.url}/healthz`);
  t.is(r.status, 503);
  t.deepEqual(r.body.trimEnd().split('\n'), problems);
});

test('a throwing or hanging health check is reported as 503, not a crash or a hang', async (t) => {
  const { server } = await start(t, async () => {
    throw new Error('SQLITE_CANTOPEN: unable to open\ndatabase file');
  });
  const r = await get(`${server.url}/healthz`);
  t.is(r.status, 503);
  t.is(r.body, 'health check failed: SQLITE_CANTOPEN: unable to open database file\n');

  const hung = await start(t, () => new Promise<HealthReport>(() => undefined), 50);
  const h = await get(`${hung.server.url}/healthz`);
  t.is(h.status, 503);
  t.is(h.body, 'health check timed out after 50 ms\n');
});

test('unknown paths are 404 and other methods 405', async (t) => {
  const { server } = await start(t, async () => ({ ok: true, problems: [] }));
  t.is((await get(`${server.url}/`)).status, 404);
  t.is((await get(`${server.url}/metrics/extra`)).status, 404);
  t.is((await get(`${server.url}/health`)).status, 404);
  const post = await get(`${server.url}/metrics`, 'POST');
  t.is(post.status, 405);
  t.is(post.headers.allow, 'GET, HEAD');
  const head = await get(`${server.url}/healthz`, 'HEAD');
  t.is(head.status, 200);
  t.is(head.body, '');
});

test('close() stops listening and is idempotent', async (t) => {
  const metrics = await createPrometheusMetrics();
  const server = await startMetricsServer({ listen: '127.0.0.1:0', metrics, health: async () => ({ ok: true, problems: [] }) });
  t.is((await get(`${server.url}/healthz`)).status, 200);
  await Promise.all([server.close(), server.close()]);
  await t.throwsAsync(get(`${server.url}/healthz`), { code: 'ECONNREFUSED' });
});

test('a port already in use rejects startMetricsServer', async (t) => {
  const { server } = await start(t, async () => ({ ok: true, problems: [] }));
  const port = new URL(server.url).port;
  await t.throwsAsync(
    startMetricsServer({ listen: `127.0.0.1:${port}`, metrics: await createPrometheusMetrics(), health: async () => ({ ok: true, problems: [] }) }),
    { code: 'EADDRINUSE' },
  );
});

test('parseListen accepts host:port and [v6]:port and rejects the rest', (t) => {
  t.deepEqual(parseListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  t.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
  t.deepEqual(parseListen('[::1]:9464'), { host: '::1', port: 9464 });
  for (const bad of ['9464', '127.0.0.1', ':9464', '127.0.0.1:99999', 'http://127.0.0.1:9464']) {
    t.throws(() => parseListen(bad), { message: /expected host:port/ }, bad);
  }
});

test('scanHealth reports a missing or stale scan', (t) => {
  const now = 1_700_000_000_000;
  const max = 180_000;
  t.deepEqual(scanHealth(now - 10_000, now, max), []);
  t.deepEqual(scanHealth(now - max, now, max), [], 'exactly at the limit is still healthy');
  t.deepEqual(scanHealth(now - 400_000, now, max), ['last scan completed 400 s ago (limit 180 s)']);
  t.deepEqual(scanHealth(null, now, max), ['no scan has completed yet']);
});
