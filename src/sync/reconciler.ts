import type { FileRow } from '../db/index.js';
import { uploadsPausedUntil, type SyncContext } from './context.js';
import { recomputeJob } from './discover.js';
import { createEnabledJobs } from './enabled.js';
import { uploadRow, type RowResult } from './upload-row.js';

export interface DrainSummary {
  uploaded: number;
  failed: number;
  retried: number;
  paused: number;
}

export interface DrainSignals {
  /** Stop claiming new rows (shutdown started). */
  stopClaiming: AbortSignal;
  /** Abort uploads in flight (drain deadline passed); their rows go back to pending. */
  abortUploads: AbortSignal;
  /** Only this job's rows (`sync --once --job`). */
  jobId?: string;
  /** Called whenever a row finishes: proof of progress for the systemd watchdog. */
  onProgress?: () => void;
}

/**
 * Claims due rows with a lease and uploads them with `upload.concurrency` workers until
 * nothing is due. One claim statement per free slot; leases make two daemons safe together.
 */
export async function drainDue(ctx: SyncContext, signals: DrainSignals): Promise<DrainSummary> {
  const sum: DrainSummary = { uploaded: 0, failed: 0, retried: 0, paused: 0 };
  const inflight = new Set<Promise<void>>();
  // Each job is looked up once per pass.
  const jobs = createEnabledJobs(ctx.store, { now: ctx.now, ttlMs: Infinity });
  const touched = new Set<string>();
  const run = async (row: FileRow) => {
    const r: RowResult = await uploadRow(ctx, row, await jobs.get(row.batch_job_id), signals.abortUploads);
    if (r === 'uploaded') sum.uploaded++;
    else if (r === 'failed') sum.failed++;
    else if (r === 'retry') sum.retried++;
    else if (r === 'paused') sum.paused++;
    signals.onProgress?.();
    if (!touched.has(row.batch_job_id)) {
      touched.add(row.batch_job_id);
      // First outcome of a job in this drain: status moves at once (e.g. pending → in_progress).
      await recomputeJob(ctx, row.batch_job_id);
    }
  };
  while (!signals.stopClaiming.aborted) {
    const paused = uploadsPausedUntil(ctx);
    const free = ctx.config.upload.concurrency - inflight.size;
    if (free > 0 && paused === null) {
      const rows = await ctx.store.claimDue(ctx.owner, free, ctx.config.upload.lease_ms, signals.jobId);
      for (const row of rows) {
        const p: Promise<void> = run(row)
          .catch((e: unknown) => ctx.log.error('unexpected error in upload worker', { job: row.batch_job_id, file: row.original_filename, error: String(e) }))
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
    }
    if (inflight.size === 0) break;
    // A finished upload makes room, and rows may have become due meanwhile: claim again.
    await Promise.race(inflight);
  }
  await Promise.all(inflight);
  for (const jobId of touched) await recomputeJob(ctx, jobId);
  ctx.metrics.setQueueDepth(await ctx.store.countDue());
  return sum;
}
