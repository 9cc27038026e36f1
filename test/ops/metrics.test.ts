import test from 'ava';
import { createNoopMetrics, createPrometheusMetrics } from '../../src/metrics/index.js';
import { metricType, parsePromText, sampleValue } from './prom-text.js';

test('upload outcomes, bytes, retries and failures are counted by reason', async (t) => {
  const m = await createPrometheusMetrics();
  m.uploadOutcome('uploaded', 'ok', 1000, 200);
  m.uploadOutcome('uploaded', 'ok', 2500, 3000);
  m.uploadOutcome('retry', 'rateLimitExceeded', 0, 50);
  m.uploadOutcome('retry', 'rateLimitExceeded', 0, 70);
  m.uploadOutcome('retry', 'http_503', 0, 10);
  m.uploadOutcome('failed', 'storageQuotaExceeded', 4096, 120);

  const text = await m.registry.metrics();
  const s = parsePromText(text);
  t.is(sampleValue(s, 'bds_files_uploaded_total'), 2);
  t.is(sampleValue(s, 'bds_uploaded_bytes_total'), 3500, 'only bytes of successful uploads count');
  t.is(sampleValue(s, 'bds_upload_retries_total', { reason: 'rateLimitExceeded' }), 2);
  t.is(sampleValue(s, 'bds_upload_retries_total', { reason: 'http_503' }), 1);
  t.is(sampleValue(s, 'bds_files_failed_total', { reason: 'storageQuotaExceeded' }), 1);
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
  t.is(sampleValue(s, 'bds_files_failed_total', { reason: 'unknown' }), 1);
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
