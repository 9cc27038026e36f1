import type { FileRow } from '../db/index.js';
import type { SyncContext } from './context.js';

/** At most one progress line per upload this often. */
export const PROGRESS_LOG_INTERVAL_MS = 30_000;

/**
 * Logs the life of a resumable upload from its checkpoints: one line when it starts (or
 * resumes, with the offset Drive confirmed), then a progress line at most every 30 s with the
 * confirmed offset and the rate since the previous line. A multipart upload has no checkpoints
 * and logs only its outcome.
 */
export function resumableProgressLog(ctx: SyncContext, row: FileRow, size: number): (offset: number | null) => void {
  let started: { at: number; offset: number } | null = null;
  let last = { at: 0, offset: 0 };
  const meta = { job: row.batch_job_id, file: row.original_filename, bytes: size, attempt: row.attempts };
  return (offset) => {
    if (offset === null) return;
    const t = ctx.now();
    if (started === null) {
      started = { at: t, offset };
      last = { at: t, offset };
      ctx.log.info(offset > 0 ? 'resumable upload resumed' : 'resumable upload started', { ...meta, offset });
      return;
    }
    if (t - last.at < PROGRESS_LOG_INTERVAL_MS) return;
    const rate = Math.round(((offset - last.offset) * 1000) / Math.max(1, t - last.at));
    ctx.log.info('resumable upload progress', {
      ...meta,
      offset,
      percent: size > 0 ? Math.floor((offset / size) * 100) : 100,
      rate_bps: rate,
      elapsed_ms: t - started.at,
    });
    last = { at: t, offset };
  };
}
