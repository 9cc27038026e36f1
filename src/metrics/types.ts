// What the sync engine and daemon report; src/metrics implements it with prom-client.
export type UploadOutcome = 'uploaded' | 'failed' | 'retry';

export interface Metrics {
  /** One upload attempt finished. `reason` is the error class/reason ('ok' on success). */
  uploadOutcome(outcome: UploadOutcome, reason: string, bytes: number, durationMs: number): void;
  /** Time spent waiting for the Drive write pacer or a rate-limit pause. */
  rateLimitWait(ms: number): void;
  /** Rows due for upload right now (pending and due, or with an expired lease). */
  setQueueDepth(n: number): void;
  /** A scheduled or start-up scan finished successfully at epoch ms `atMs`. */
  scanCompleted(atMs: number): void;
}

/** What the queue gauges show, read from the database at each scrape. */
export interface QueueSnapshot {
  rows: { pending: number; uploading: number; uploaded: number; failed: number };
  pendingBytes: number;
  oldestPendingAgeSeconds: number | null;
  activeJobs: number;
  /** Rows due now (pending and due, or with an expired lease). */
  due: number;
  paused: { auth: boolean; daily_cap: boolean };
}

export function createNoopMetrics(): Metrics {
  return { uploadOutcome: () => undefined, rateLimitWait: () => undefined, setQueueDepth: () => undefined, scanCompleted: () => undefined };
}
