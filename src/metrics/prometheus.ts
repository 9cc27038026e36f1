import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Metrics, QueueSnapshot, UploadOutcome } from './types.js';

/** The Prometheus-backed `Metrics`, plus what the metrics server and health check read back. */
export interface PrometheusMetrics extends Metrics {
  /** This instance's own registry (never prom-client's global one). */
  readonly registry: Registry;
  /** Epoch ms of the last successful scan, or null before the first one. */
  lastScanAt(): number | null;
  /** Reads the queue gauges from `read` (the database) before each scrape; a failed read keeps the last values and sets bds_database_up 0. */
  refresh(read: () => Promise<QueueSnapshot>): Promise<void>;
}

export interface PrometheusOptions {
  /** This package's version, for bds_build_info. */
  version: string;
}

/** Error kinds (the part of an error class before ':'); each has a series at 0 from the start, so increase() sees the first one. */
export const ERROR_KINDS = ['retryable', 'rate_limit', 'daily_cap', 'auth', 'permanent', 'local', 'config', 'internal', 'other'] as const;
const STATUSES = ['pending', 'uploading', 'uploaded', 'failed'] as const;
const PAUSES = ['auth', 'daily_cap'] as const;

// Upload durations span small multipart files (tens of ms) to multi-GiB resumable uploads.
const DURATION_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** Prometheus metrics with a private registry; also collects the default process_* and nodejs_* metrics. */
export function createPrometheusMetrics(opts: PrometheusOptions = { version: 'unknown' }): PrometheusMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'bds_build_info',
    help: 'Always 1; the labels say which version runs on which Node.js.',
    labelNames: ['version', 'node'] as const,
    registers: [registry],
  }).set({ version: opts.version, node: process.versions.node }, 1);

  const uploaded = new Counter({
    name: 'bds_files_uploaded_total',
    help: 'Files uploaded to Drive.',
    registers: [registry],
  });
  const failed = new Counter({
    name: 'bds_files_failed_total',
    help: 'Files that failed permanently (or used up their attempts), by error kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const retries = new Counter({
    name: 'bds_upload_retries_total',
    help: 'Upload attempts that will be retried (retryable errors, rate limits, pauses), by error kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'bds_uploaded_bytes_total',
    help: 'Bytes of files uploaded successfully.',
    registers: [registry],
  });
  const queueDepth = new Gauge({
    name: 'bds_queue_depth',
    help: 'Rows due for upload now (read from the database when scraped).',
    registers: [registry],
  });
  const rows = new Gauge({
    name: 'bds_rows',
    help: 'File rows by upload status (read from the database when scraped).',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const pendingBytes = new Gauge({ name: 'bds_pending_bytes', help: 'Bytes of pending and uploading files not yet in Drive.', registers: [registry] });
  const oldestPending = new Gauge({ name: 'bds_oldest_pending_age_seconds', help: 'Age of the oldest pending row (0 when none).', registers: [registry] });
  const inFlight = new Gauge({ name: 'bds_uploads_in_flight', help: 'Rows being uploaded now (by every daemon on this database).', registers: [registry] });
  const activeJobs = new Gauge({ name: 'bds_active_jobs', help: 'Drive-enabled jobs with work left.', registers: [registry] });
  const paused = new Gauge({
    name: 'bds_uploads_paused',
    help: "1 while uploads are paused for the account, by cause (auth: credentials refused; daily_cap: Drive's daily upload cap).",
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const dbUp = new Gauge({ name: 'bds_database_up', help: '1 when the last scrape could read the database.', registers: [registry] });
  for (const st of STATUSES) rows.set({ status: st }, 0);
  for (const p of PAUSES) paused.set({ reason: p }, 0);
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

  for (const k of ERROR_KINDS) {
    failed.inc({ kind: k }, 0);
    retries.inc({ kind: k }, 0);
  }
  for (const o of ['uploaded', 'failed', 'retry'] as const) duration.zero({ outcome: o });
  let lastScanAtMs: number | null = null;

  return {
    registry,
    lastScanAt: () => lastScanAtMs,
    async refresh(read) {
      try {
        const q = await read();
        for (const st of STATUSES) rows.set({ status: st }, nonNegative(q.rows[st]));
        pendingBytes.set(nonNegative(q.pendingBytes));
        oldestPending.set(nonNegative(q.oldestPendingAgeSeconds ?? 0));
        inFlight.set(nonNegative(q.rows.uploading));
        activeJobs.set(nonNegative(q.activeJobs));
        queueDepth.set(nonNegative(q.due));
        for (const p of PAUSES) paused.set({ reason: p }, q.paused[p] ? 1 : 0);
        dbUp.set(1);
      } catch {
        // The scrape still answers (process metrics, counters); the gauge says the database did not.
        dbUp.set(0);
      }
    },
    uploadOutcome(outcome: UploadOutcome, reason: string, sizeBytes: number, durationMs: number): void {
      const label = { kind: errorKind(reason) };
      switch (outcome) {
        case 'uploaded':
          uploaded.inc();
          bytes.inc(nonNegative(sizeBytes));
          break;
        case 'failed':
          failed.inc(label);
          break;
        case 'retry':
          retries.inc(label);
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

/** "rate_limit:userRateLimitExceeded" → "rate_limit": a label with a bounded set of values. */
export function errorKind(reason: string): string {
  const k = reason.trim().split(':')[0] ?? '';
  return (ERROR_KINDS as readonly string[]).includes(k) ? k : 'other';
}
