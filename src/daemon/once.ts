import { loadConfig } from '../config/index.js';
import { drainDue, scanJobs, type DrainSummary } from '../sync/index.js';
import { loggerFor, openRuntime, type RuntimeOptions } from './runtime.js';

export interface OnceOptions extends RuntimeOptions {
  configPath: string;
  jobId?: string | undefined;
  /** Rows whose retry falls within this window are waited for; later ones are left pending. */
  maxWaitMs?: number;
}

export interface OnceResult extends DrainSummary {
  /** Rows of the scope in `failed` at the end. */
  failedRows: number;
  /** Jobs of the scope with a job-level error (unsafe id, directory outside output_dir, unreadable names). */
  failedJobs: number;
  /** Rows left pending with a retry scheduled later. */
  pendingRows: number;
  /** Set when the pass ended with uploads paused because Drive refused our credentials: why. */
  authPaused: string | null;
}

/** `sync --once`: discover, upload, reconcile, then return. Waits for near retries so one run finishes the work. */
export async function syncOnce(opts: OnceOptions): Promise<OnceResult> {
  const cfg = loadConfig(opts.configPath, opts.env);
  const log = loggerFor(cfg, opts);
  const rt = await openRuntime(cfg, log, opts);
  const { ctx } = rt;
  try {
    const total: DrainSummary = { uploaded: 0, failed: 0, retried: 0, paused: 0 };
    await scanJobs(ctx, opts.jobId === undefined ? {} : { jobId: opts.jobId });
    const never = new AbortController().signal;
    const deadline = ctx.now() + (opts.maxWaitMs ?? 120_000);
    for (;;) {
      const s = await drainDue(ctx, { stopClaiming: never, abortUploads: never, ...(opts.jobId === undefined ? {} : { jobId: opts.jobId }) });
      total.uploaded += s.uploaded;
      total.failed += s.failed;
      total.retried += s.retried;
      total.paused += s.paused;
      // Credentials do not mend themselves within one pass: stop instead of waiting out the pause.
      if (ctx.authPause.until(ctx.now()) !== null) break;
      const next = await ctx.store.nextDueAt(opts.jobId);
      if (next === null || next > deadline) break;
      const wait = Math.max(0, next - ctx.now());
      if (wait > 0) await new Promise((r) => setTimeout(r, wait + 5));
    }
    const report = await ctx.store.report(opts.jobId);
    const failedRows = report.reduce((n, j) => n + j.counts.failed, 0);
    const failedJobs = report.filter((j) => j.enabled && j.jobError !== null).length;
    const pendingRows = report.reduce((n, j) => n + j.counts.pending + j.counts.uploading, 0);
    const authPaused = ctx.authPause.until(ctx.now()) !== null ? (ctx.authPause.lastFailure() ?? 'Drive refused our credentials') : null;
    log.info('sync pass done', { ...total, failed_rows: failedRows, failed_jobs: failedJobs, pending_rows: pendingRows });
    if (authPaused !== null)
      log.error('sync pass stopped: Drive refused our credentials; uploads are paused until auth.* is fixed', { pending_rows: pendingRows, error: authPaused });
    else if (pendingRows > 0) log.warning('some rows are still waiting for a retry; the daemon or the next run will take them', { pending_rows: pendingRows });
    return { ...total, failedRows, failedJobs, pendingRows, authPaused };
  } finally {
    await rt.close();
  }
}
