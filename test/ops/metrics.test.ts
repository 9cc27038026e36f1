import test from 'ava';
import { createNoopMetrics, createPrometheusMetrics } from '../../src/metrics/index.js';
import { metricType, parsePromText, sampleValue } from './prom-text.js';

test('upload outcomes, bytes, retries and failures are counted by error kind; every kind is there at 0 from the start', async (t) => {
  const m = await createPrometheusMetrics({ version: '9.8.7' });
  const fresh = parsePromText(await m.registry.metrics());
  for (const kind of ['retryable', 'rate_limit', 'daily_cap', 'auth', 'permanent', 'local', 'config', 'internal', 'other']) {
    t.is(sampleValue(fresh, 'bds_files_failed_total', { kind }), 0);
    t.is(sampleValue(fresh, 'bds_upload_retries_total', { kind }), 0);
  }
  t.is(sampleValue(fresh, 'bds_files_uploaded_total'), 0);
  t.is(sampleValue(fresh, 'bds_upload_duration_seconds_count', { outcome: 'failed' }), 0);
  t.is(sampleValue(fresh, 'bds_build_info', { version: '9.8.7', node: process.versions.node }), 1);
  m.uploadOutcome('uploaded', 'ok', 1000, 200);
  m.uploadOutcome('uploaded', 'ok', 2500, 3000);
  m.uploadOutcome('retry', 'rate_limit:rateLimitExceeded', 0, 50);
  m.uploadOutcome('retry', 'rate_limit:userRateLimitExceeded', 0, 70);
  m.uploadOutcome('retry', 'retryable:backendError', 0, 10);
  m.uploadOutcome('failed', 'permanent:storageQuotaExceeded', 4096, 120);

  const text = await m.registry.metrics();
  const s = parsePromText(text);
  t.is(sampleValue(s, 'bds_files_uploaded_total'), 2);
  t.is(sampleValue(s, 'bds_uploaded_bytes_total'), 3500, 'only bytes of successful uploads count');
  t.is(sampleValue(s, 'bds_upload_retries_total', { kind: 'rate_limit' }), 2);
  t.is(sampleValue(s, 'bds_upload_retries_total', { kind: 'retryable' }), 1);
  t.is(sampleValue(s, 'bds_files_failed_total', { kind: 'permanent' }), 1);
  t.is(metricType(text, 'bds_files_uploaded_total'), 'counter');
  t.is(metricType(text, 'bds_files_failed_total'), 'counter');
  t.is(metricType(text, 'bds_upload_retries_total'), 'counter');
  t.is(metricType(text, 'bds_uploaded_bytes_total'), 'counter');
});

test('upload durations land in the histogram in seconds, by outcome', async (t) => {
  const m = await createPrometheusMetrics();
  m.uploadOutcome('uploaded', 'ok', 10, 200); // 0.2 s
  m.uploadOutcome('uploaded', 'ok', 10, 3000); // 3 s
  m.uploadOutcome('retry', 'timeout', 0, 45_000); // 45 s
  const text = await m.registry.metrics();
  const s = parsePromText(text);
  t.is(metricType(text, 'bds_upload_duration_seconds'), 'histogram');
  t.is(sampleValue(s, 'bds_upload_duration_seconds_count', { outcome: 'uploaded' }), 2);
  t.is(sampleValue(s, 'bds_upload_duration_seconds_sum', { outcome: 'uploaded' }), 3.2);
  t.is(sampleValue(s, 'bds_upload_duration_seconds_bucket', { outcome: 'uploaded', le: '0.25' }), 1);
  t.is(sampleValue(s, 'bds_upload_duration_seconds_bucket', { outcome: 'uploaded', le: '5' }), 2);
  t.is(sampleValue(s, 'bds_upload_duration_seconds_bucket', { outcome: 'retry', le: '30' }), 0);
  t.is(sampleValue(s, 'bds_upload_duration_seconds_bucket', { outcome: 'retry', le: '60' }), 1);
  t.is(sampleValue(s, 'bds_upload_duration_seconds_bucket', { outcome: 'retry', le: '+Inf' }), 1);
});

test('queue depth gauge, rate-limit wait and last scan time', async (t) => {
  const m = await createPrometheusMetrics();
  t.is(m.lastScanAt(), null);
  m.setQueueDepth(17);
  m.setQueueDepth(5);
  m.rateLimitWait(1500);
  m.rateLimitWait(250);
  m.scanCompleted(1_700_000_000_500);

  const text = await m.registry.metrics();
  const s = parsePromText(text);
  t.is(metricType(text, 'bds_queue_depth'), 'gauge');
  t.is(sampleValue(s, 'bds_queue_depth'), 5, 'a gauge holds the last value');
  t.is(metricType(text, 'bds_rate_limit_wait_seconds_total'), 'counter');
  t.is(sampleValue(s, 'bds_rate_limit_wait_seconds_total'), 1.75);
  t.is(metricType(text, 'bds_last_scan_timestamp_seconds'), 'gauge');
  t.is(sampleValue(s, 'bds_last_scan_timestamp_seconds'), 1_700_000_000.5);
  t.is(m.lastScanAt(), 1_700_000_000_500);
});

test('bad numbers from callers are clamped instead of throwing', async (t) => {
  const m = await createPrometheusMetrics();
  t.notThrows(() => {
    m.uploadOutcome('uploaded', 'ok', -5, Number.NaN);
    m.rateLimitWait(-100);
    m.setQueueDepth(-1);
    m.uploadOutcome('failed', '', 0, 1);
    m.scanCompleted(Number.NaN);
  });
  const s = parsePromText(await m.registry.metrics());
  t.is(sampleValue(s, 'bds_uploaded_bytes_total'), 0);
  t.is(sampleValue(s, 'bds_rate_limit_wait_seconds_total'), 0);
  t.is(sampleValue(s, 'bds_queue_depth'), 0);
  t.is(sampleValue(s, 'bds_files_failed_total', { kind: 'other' }), 1);
  t.is(m.lastScanAt(), null, 'a non-finite scan time is ignored');
});

test('each instance has its own registry with the default process metrics', async (t) => {
  const a = await createPrometheusMetrics();
  const b = await createPrometheusMetrics();
  a.uploadOutcome('uploaded', 'ok', 1, 1);
  const sa = parsePromText(await a.registry.metrics());
  const sb = parsePromText(await b.registry.metrics());
  t.is(sampleValue(sa, 'bds_files_uploaded_total'), 1);
  t.is(sampleValue(sb, 'bds_files_uploaded_total'), 0, 'no state shared between instances');
  t.true(sampleValue(sa, 'process_resident_memory_bytes') > 0);
  t.true(sampleValue(sb, 'process_start_time_seconds') > 0);
  t.true(sa.some((x) => x.name === 'nodejs_eventloop_lag_seconds'));
});

test('the noop metrics still satisfy the contract', (t) => {
  const m = createNoopMetrics();
  t.notThrows(() => {
    m.uploadOutcome('uploaded', 'ok', 1, 1);
    m.rateLimitWait(1);
    m.setQueueDepth(1);
    m.scanCompleted(Date.now());
  });
});

test('queue gauges are read at scrape time from what refresh() reads; a failed read keeps the values and says so', async (t) => {
  const m = await createPrometheusMetrics();
  await m.refresh(async () => ({
    rows: { pending: 16, uploading: 3, uploaded: 900, failed: 2 },
    pendingBytes: 123456,
    oldestPendingAgeSeconds: 42.5,
    activeJobs: 4,
    due: 11,
    paused: { auth: true, daily_cap: false },
  }));
  let s = parsePromText(await m.registry.metrics());
  t.is(sampleValue(s, 'bds_rows', { status: 'pending' }), 16);
  t.is(sampleValue(s, 'bds_rows', { status: 'failed' }), 2);
  t.is(sampleValue(s, 'bds_uploads_in_flight'), 3);
  t.is(sampleValue(s, 'bds_pending_bytes'), 123456);
  t.is(sampleValue(s, 'bds_oldest_pending_age_seconds'), 42.5);
  t.is(sampleValue(s, 'bds_active_jobs'), 4);
  t.is(sampleValue(s, 'bds_queue_depth'), 11);
  t.is(sampleValue(s, 'bds_uploads_paused', { reason: 'auth' }), 1);
  t.is(sampleValue(s, 'bds_uploads_paused', { reason: 'daily_cap' }), 0);
  t.is(sampleValue(s, 'bds_database_up'), 1);
  await m.refresh(() => Promise.reject(new Error('SQLITE_BUSY')));
  s = parsePromText(await m.registry.metrics());
  t.is(sampleValue(s, 'bds_database_up'), 0);
  t.is(sampleValue(s, 'bds_rows', { status: 'pending' }), 16, 'last values kept');
});
