import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Metrics, UploadOutcome } from './types.js';

/** The Prometheus-backed `Metrics`, plus what the metrics server and health check read back. */
export interface PrometheusMetrics extends Metrics {
  /** This instance's own registry (never prom-client's global one). */
  readonly registry: Registry;
  /** Epoch ms of the last successful scan, or null before the first one. */
  lastScanAt(): number | null;
}

// Upload durations span small multipart files (tens of ms) to multi-GiB resumable uploads.
const DURATION_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
// Reasons come from error classification and should already be a small set; the cap keeps a
// stray free-text message from creating unbounded label values.
const MAX_REASON_CHARS = 64;

/** Prometheus metrics with a private registry; also collects the default process_* and nodejs_* metrics. */
export function createPrometheusMetrics(): PrometheusMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const uploaded = new Counter({
    name: 'bds_files_uploaded_total',
    help: 'Files uploaded to Drive.',
    registers: [registry],
  });
  const failed = new Counter({
    name: 'bds_files_failed_total',
    help: 'Files that failed permanently (or used up their attempts), by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const retries = new Counter({
    name: 'bds_upload_retries_total',
    help: 'Upload attempts that failed with a retryable error, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'bds_uploaded_bytes_total',
    help: 'Bytes of files uploaded successfully.',
    registers: [registry],
  });
  const queueDepth = new Gauge({
    name: 'bds_queue_depth',
    help: 'Rows due for upload at the last count.',
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'bds_upload_duration_seconds',
    help: 'Duration of upload attempts, by outcome (uploaded, failed, retry).',
    labelNames: ['outcome'] as const,
    buckets: DURATION_BUCKETS_S,
    registers: [registry],
  });
  const rateLimitWait = new Counter({
    name: 'bds_rate_limit_wait_seconds_total',
    help: 'Time spent waiting for the Drive write pacer or a rate-limit pause.',
    registers: [registry],
  });
  const lastScan = new Gauge({
    name: 'bds_last_scan_timestamp_seconds',
    help: 'Unix time of the last successful scan.',
    registers: [registry],
  });

  let lastScanAtMs: number | null = null;

  return {
    registry,
    lastScanAt: () => lastScanAtMs,
    uploadOutcome(outcome: UploadOutcome, reason: string, sizeBytes: number, durationMs: number): void {
      const label = reasonLabel(reason);
      switch (outcome) {
        case 'uploaded':
          uploaded.inc();
          bytes.inc(nonNegative(sizeBytes));
          break;
        case 'failed':
          failed.inc({ reason: label });
          break;
        case 'retry':
          retries.inc({ reason: label });
          break;
      }
      duration.observe({ outcome }, nonNegative(durationMs) / 1000);
    },
    rateLimitWait(ms: number): void {
      rateLimitWait.inc(nonNegative(ms) / 1000);
    },
    setQueueDepth(n: number): void {
      queueDepth.set(nonNegative(n));
    },
    scanCompleted(atMs: number): void {
      if (!Number.isFinite(atMs)) return;
      lastScanAtMs = atMs;
      lastScan.set(atMs / 1000);
    },
  };
}

// The engine calls these on hot paths: a bad number must never throw out of a metrics call
// (prom-client throws on negative counter increments), so it is clamped instead.
function nonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function reasonLabel(reason: string): string {
  const r = reason.trim();
  if (r === '') return 'unknown';
  return r.length > MAX_REASON_CHARS ? r.slice(0, MAX_REASON_CHARS) : r;
}
