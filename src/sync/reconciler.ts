import { setMaxListeners } from 'node:events';
import type { FileRow } from '../db/index.js';
import { uploadsPausedUntil, type SyncContext } from './context.js';
import { recomputeJob } from './discover.js';
import { createEnabledJobs } from './enabled.js';
import type { KnownJobFolders } from './folders.js';
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
 *
 * Fairness: while no large file (at or above the resumable threshold) is in flight, a free slot
 * goes first to the oldest due large file, so a 2 GB file waits for at most one small upload,
 * not behind thousands of them; the other slots take rows in due order as before.
 */
export async function drainDue(ctx: SyncContext, signals: DrainSignals): Promise<DrainSummary> {
  const sum: DrainSummary = { uploaded: 0, failed: 0, retried: 0, paused: 0 };
  // Each upload in flight listens on abortUploads (upload.concurrency may be 64) and removes its
  // listener when done: by design, not the leak Node warns about on stderr at 11 listeners.
  setMaxListeners(0, signals.abortUploads);
  const inflight = new Set<Promise<void>>();
  // Each job is looked up once per pass.
  const jobs = createEnabledJobs(ctx.store, { now: ctx.now, ttlMs: Infinity });
  // And each job's folder row once per pass, not once per file (dropped when an upload of the job fails).
  const folders: KnownJobFolders = new Map();
  const touched = new Set<string>();
  const largeBytes = ctx.config.upload.resumable_threshold_bytes;
  let largeInFlight = 0;
  const isLarge = (row: FileRow) => (row.local_size ?? 0) >= largeBytes;
  const run = async (row: FileRow, reservedId: string | undefined) => {
    const r: RowResult = await uploadRow(ctx, row, await jobs.get(row.batch_job_id), signals.abortUploads, { folders, reservedId });
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
      // One statement: with no large file in flight, its first row is the oldest due large file;
      // ids already in the pool are reserved for the rows taken (no statement per file for that).
      const ids = ctx.drive.takeFetchedIds(free);
      // If the claim fails the ids are not handed back: the statement may have committed before the
      // error reached us, and an id stored on a row must never go to a second file (ids cost nothing).
      const rows = await ctx.store.claimDue(ctx.owner, free, ctx.config.upload.lease_ms, signals.jobId, undefined, {
        largeFirst: largeInFlight === 0 ? largeBytes : undefined,
        reserveIds: ids,
      });
      const taken = new Set(rows.map((r) => r.reserved_drive_id));
      ctx.drive.returnIds(ids.filter((id) => !taken.has(id)));
      const fresh = new Set(ids.filter((id) => taken.has(id)));
      for (const row of rows) {
        const big = isLarge(row);
        if (big) largeInFlight++;
        // A fresh id goes in apart: the row looks as if none was reserved before (nothing on Drive can carry it).
        const reservedId = row.reserved_drive_id !== null && fresh.has(row.reserved_drive_id) ? row.reserved_drive_id : undefined;
        const p: Promise<void> = run(reservedId ? { ...row, reserved_drive_id: null } : row, reservedId)
          .catch((e: unknown) => ctx.log.error('unexpected error in upload worker', { job: row.batch_job_id, file: row.original_filename, error: String(e) }))
          .finally(() => {
            inflight.delete(p);
            if (big) largeInFlight--;
          });
        inflight.add(p);
      }
    }
    if (inflight.size === 0) break;
    // A finished upload makes room, and rows may have become due meanwhile: claim again then.
    await Promise.race(inflight);
  }
  await Promise.all(inflight);
  for (const jobId of touched) await recomputeJob(ctx, jobId);
  ctx.metrics.setQueueDepth(await ctx.store.countDue());
  return sum;
}
