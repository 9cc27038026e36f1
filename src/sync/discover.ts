import { join } from 'node:path';
import type { EnabledJob } from '../db/index.js';
import { createIgnoreMatcher, isSafeJobId, walkJobDir, type FileReady } from '../watch/index.js';
import type { SyncContext } from './context.js';
import { ensureJobFolder } from './folders.js';
import { decide } from './outcome.js';

export interface ScanSummary {
  jobs: number;
  files: number;
  inserted: number;
  changed: number;
  unchanged: number;
  /** Jobs not walked (their directories are watched). */
  skipped: number;
  ms: number;
}

/**
 * Scheduled and start-up scan: for every Drive-enabled job, make its folder (once), walk its
 * directory for files missed while the daemon was down, and recompute its status. Unchanged
 * files cost one in-memory comparison: no Drive request, no database write.
 */
export async function scanJobs(
  ctx: SyncContext,
  opts: {
    jobId?: string | undefined;
    signal?: AbortSignal;
    skipCompleted?: boolean;
    /** Whether a job's directory is walked; a job whose every directory is watched need not be (default: all). */
    walk?: (jobId: string) => boolean;
    /** Named in the 'scan done' line (startup, scheduled, full). */
    kind?: string;
  } = {},
): Promise<ScanSummary> {
  const started = ctx.now();
  const ignored = createIgnoreMatcher(ctx.config.watch.ignore);
  // Scheduled scans skip jobs already `completed` (finished, every file uploaded): their
  // directories do not change, and a year of them would make every scan slower. The start-up
  // scan and `sync --once` walk them all; the watcher still reports changes in them.
  const jobs = (await ctx.store.listEnabledJobs(opts.jobId)).filter((j) => !(opts.skipCompleted && j.row.drive_upload_status === 'completed'));
  const sum: ScanSummary = { jobs: jobs.length, files: 0, inserted: 0, changed: 0, unchanged: 0, skipped: 0, ms: 0 };
  const repaired = await ctx.store.repairSchedules();
  if (repaired > 0) ctx.log.warning('rows whose next_attempt_at was not a number are due now', { rows: repaired });
  // One read each for the folders made and, below, the statuses of the jobs with nothing new: a
  // scheduled scan of jobs the watcher covers is a handful of statements, not a few per job.
  const withFolder = await ctx.store.jobsWithFolder();
  const recheck: string[] = [];
  for (const job of jobs) {
    if (opts.signal?.aborted) break;
    if (!isSafeJobId(job.jobId)) {
      ctx.log.error('job id cannot be a directory name; skipped', { job: job.jobId });
      continue;
    }
    if (!withFolder.has(job.jobId)) await ensureFolderLogged(ctx, job);
    if (opts.walk && !opts.walk(job.jobId)) {
      sum.skipped++;
      recheck.push(job.jobId);
      continue;
    }
    const known = await ctx.store.fileStats(job.jobId);
    const files = await walkJobDir(join(ctx.config.watch.output_dir, job.jobId), ignored);
    const todo: { relPath: string; size: number; mtimeMs: number }[] = [];
    for (const f of files) {
      sum.files++;
      const k = known.get(f.relPath);
      if (k && k.size === f.size && k.mtimeMs === Math.floor(f.mtimeMs)) sum.unchanged++;
      else todo.push({ relPath: f.relPath, size: f.size, mtimeMs: f.mtimeMs });
    }
    if (todo.length === 0) {
      recheck.push(job.jobId); // nothing new: its status is checked with the others below
      continue;
    }
    // One transaction per job: a new job's thousand files cost one commit, not a thousand.
    for (const r of await ctx.store.upsertFiles(job.jobId, todo)) {
      if (r === 'inserted') sum.inserted++;
      else if (r === 'unchanged') sum.unchanged++;
      else sum.changed++;
    }
    await recomputeJob(ctx, job.jobId);
  }
  if (!opts.signal?.aborted) for (const id of await ctx.store.staleJobStatuses(recheck)) await recomputeJob(ctx, id);
  sum.ms = ctx.now() - started;
  if (opts.jobId === undefined) {
    ctx.metrics.scanCompleted(ctx.now());
    ctx.log.info('scan done', { ...(opts.kind ? { kind: opts.kind } : {}), ...sum });
  } else ctx.log.debug('job scan done', { job: opts.jobId, ...sum });
  return sum;
}

async function ensureFolderLogged(ctx: SyncContext, job: EnabledJob): Promise<void> {
  try {
    await ensureJobFolder(ctx, job);
  } catch (e) {
    // Rows of this job will retry (or fail with the same message) when they are uploaded.
    const d = decide(e);
    (d.action === 'fail' ? ctx.log.error : ctx.log.warning)('cannot make the job folder yet', { job: job.jobId, error_class: d.reason, error: d.message });
  }
}

/** Recomputes batch_jobs.drive_upload_status and logs a change. */
export async function recomputeJob(ctx: SyncContext, jobId: string): Promise<void> {
  const ch = await ctx.store.recomputeJobStatus(jobId);
  if (ch) {
    const level = ch.to === 'failed' ? 'error' : 'notice';
    ctx.log[level]('job status changed', { job: jobId, from: ch.from, to: ch.to });
  }
}

/**
 * A stable file reported by the watcher: record it if its job is Drive-enabled.
 * Returns true when the reconciler has new work.
 */
export async function onFileReady(ctx: SyncContext, f: FileReady, isEnabled: (jobId: string) => Promise<boolean>): Promise<boolean> {
  if (!(await isEnabled(f.jobId))) return false;
  const r = await ctx.store.upsertFile(f.jobId, f.relPath, { size: f.size, mtimeMs: f.mtimeMs });
  if (r === 'unchanged') return false;
  ctx.log.debug('file detected', { job: f.jobId, file: f.relPath, bytes: f.size, change: r });
  return true;
}
