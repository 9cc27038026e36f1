import type { EnabledJob } from '../db/index.js';
import { LocalFileError, resolveJobDir, walkJobDir, type WalkedFile } from '../local/index.js';
import { createIgnoreMatcher, type FileReady } from '../watch/index.js';
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
  // The daemon's scans skip jobs already `completed` (finished, every file uploaded): their
  // directories do not change, and a year of them would make every scan slower. `sync --once`
  // walks them all.
  const jobs = (await ctx.store.listEnabledJobs(opts.jobId)).filter((j) => !(opts.skipCompleted && j.row.drive_upload_status === 'completed'));
  const sum: ScanSummary = { jobs: jobs.length, files: 0, inserted: 0, changed: 0, unchanged: 0, skipped: 0, ms: 0 };
  const repaired = await ctx.store.repairSchedules();
  if (repaired > 0) ctx.log.warning('rows whose next_attempt_at was not a number are due now', { rows: repaired });
  const jobErrors = await ctx.store.jobErrors();
  // One read each for the folders made and, below, the statuses of the jobs with nothing new: a
  // scheduled scan of jobs the watcher covers is a handful of statements, not a few per job.
  const withFolder = await ctx.store.jobsWithFolder();
  const recheck: string[] = [];
  // Jobs walked by this scan: their completion needs no second walk (see recomputeJob).
  const walked = new Set<string>();
  // Folders are made alongside: recording a job's rows does not wait for Drive (writes are paced;
  // a hundred new jobs' folders took most of a start-up). Uploads of the job share the same call.
  const folders: Promise<void>[] = [];
  for (const job of jobs) {
    if (opts.signal?.aborted) break;
    if (opts.walk && !opts.walk(job.jobId)) {
      // Every directory of it is watched (so its id is safe and its directory real): its files
      // arrive through the watcher.
      if (!withFolder.has(job.jobId)) folders.push(ensureFolderLogged(ctx, job));
      sum.skipped++;
      recheck.push(job.jobId);
      continue;
    }
    const tree = await readJob(ctx, job.jobId, ignored);
    if (tree === null) continue; // could not read it this time (logged); the next scan tries again
    walked.add(job.jobId);
    await recordJobError(ctx, job.jobId, jobErrors.get(job.jobId) ?? null, tree.problem);
    if (tree.refused) {
      // Nothing of this job is read (and no Drive folder made): its rows fail on their own check.
      await recomputeJob(ctx, job.jobId, { walked: true });
      continue;
    }
    if (!withFolder.has(job.jobId)) folders.push(ensureFolderLogged(ctx, job));
    if ((await recordFiles(ctx, job.jobId, tree.files, sum)) === 0) {
      recheck.push(job.jobId); // nothing new: its status is checked with the others below
      continue;
    }
    await recomputeJob(ctx, job.jobId, { walked: true });
  }
  await Promise.all(folders);
  if (!opts.signal?.aborted) for (const id of await ctx.store.staleJobStatuses(recheck)) await recomputeJob(ctx, id, { walked: walked.has(id) });
  sum.ms = ctx.now() - started;
  if (opts.jobId === undefined) {
    ctx.metrics.scanCompleted(ctx.now());
    ctx.log.info('scan done', { ...(opts.kind ? { kind: opts.kind } : {}), ...sum });
  } else ctx.log.debug('job scan done', { job: opts.jobId, ...sum });
  return sum;
}

/**
 * Records the walked files of a job that its rows do not know yet, or know with another size or
 * mtime; counts them into `sum`. Returns how many rows were inserted or changed.
 */
async function recordFiles(ctx: SyncContext, jobId: string, files: readonly WalkedFile[], sum: ScanSummary): Promise<number> {
  const known = await ctx.store.fileStats(jobId);
  const todo: { relPath: string; size: number; mtimeMs: number }[] = [];
  for (const f of files) {
    sum.files++;
    const k = known.get(f.relPath);
    if (k && k.size === f.size && k.mtimeMs === Math.floor(f.mtimeMs)) sum.unchanged++;
    else todo.push({ relPath: f.relPath, size: f.size, mtimeMs: f.mtimeMs });
  }
  if (todo.length === 0) return 0;
  let n = 0;
  // One transaction per job: a new job's thousand files cost one commit, not a thousand.
  for (const r of await ctx.store.upsertFiles(jobId, todo)) {
    if (r === 'inserted') sum.inserted++;
    else if (r === 'unchanged') sum.unchanged++;
    else sum.changed++;
    if (r !== 'unchanged') n++;
  }
  return n;
}

interface JobProblem {
  error: string;
  reason: string;
}

/** Shown in a job error: this many names, then "and N more". */
const NAMES_SHOWN = 5;

/**
 * The files of a job, and what keeps the whole job from completing: an unsafe job id or a job
 * directory outside output_dir (`refused`: nothing read), a directory it cannot read, names that
 * are not valid UTF-8. Null when the directory could not be read this time (a transient error).
 */
async function readJob(
  ctx: SyncContext,
  jobId: string,
  ignored: (relPath: string) => boolean,
): Promise<{ files: WalkedFile[]; problem: JobProblem | null; refused: boolean } | null> {
  try {
    const dir = await resolveJobDir(ctx.config.watch.output_dir, jobId);
    const tree = await walkJobDir(dir, ignored);
    for (const link of tree.dirLinks) {
      noticeOnce(ctx, `dir-link\0${jobId}\0${link}`, 'symbolic link to a directory skipped (links are never followed)', { job: jobId, path: link });
    }
    const problems: string[] = [...tree.unreadable];
    const n = tree.badNames.length;
    if (n > 0) {
      const shown = tree.badNames.slice(0, NAMES_SHOWN).join(', ') + (n > NAMES_SHOWN ? ` and ${n - NAMES_SHOWN} more` : '');
      problems.push(
        `${n} name${n === 1 ? ' is' : 's are'} not valid UTF-8 and cannot be uploaded (Drive names are UTF-8; rename ${n === 1 ? 'it' : 'them'}): ${shown}`,
      );
    }
    if (problems.length === 0) return { files: tree.files, problem: null, refused: false };
    // The files that could be read still upload; the job cannot complete until these are fixed.
    const reason = n > 0 ? 'local:bad_name' : 'local:unreadable';
    return { files: tree.files, problem: { error: problems.join('; '), reason }, refused: false };
  } catch (e) {
    if (!(e instanceof LocalFileError)) throw e;
    if (e.code === 'ENOENT') return { files: [], problem: null, refused: false }; // no directory yet
    if (!e.retryable) return { files: [], problem: { error: e.message, reason: `local:${e.code}` }, refused: true };
    ctx.log.warning('cannot read the job directory now; the next scan tries again', { job: jobId, error_class: `local:${e.code}`, error: e.message });
    return null;
  }
}

/** Writes the job error when it changed, and says so once. */
async function recordJobError(ctx: SyncContext, jobId: string, current: string | null, next: JobProblem | null): Promise<void> {
  if ((next?.error ?? null) === current) return;
  if (!(await ctx.store.setJobError(jobId, next))) return;
  if (next) ctx.log.error('job cannot be uploaded as a whole', { job: jobId, error_class: next.reason, error: next.error });
  else ctx.log.notice('job error cleared', { job: jobId });
}

function noticeOnce(ctx: SyncContext, key: string, message: string, meta: Record<string, unknown>): void {
  if (ctx.noticed.has(key)) return;
  ctx.noticed.add(key);
  ctx.log.notice(message, meta);
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

/**
 * Recomputes batch_jobs.drive_upload_status and logs a change. A job about to read `completed`
 * is walked once more first, unless the caller just walked it: the batch system's last files
 * may be in no row yet (the watcher waits for them to settle, or their events are still queued),
 * and a completed job is neither watched nor walked again, so they would never be found.
 */
export async function recomputeJob(ctx: SyncContext, jobId: string, o: { walked?: boolean } = {}): Promise<void> {
  let ch = await ctx.store.recomputeJobStatus(jobId);
  if (ch?.to === 'completed' && !o.walked) {
    const tree = await readJob(ctx, jobId, createIgnoreMatcher(ctx.config.watch.ignore));
    if (tree && !tree.refused) {
      const sum: ScanSummary = { jobs: 1, files: 0, inserted: 0, changed: 0, unchanged: 0, skipped: 0, ms: 0 };
      // A job with a job error is not completed, so none is recorded yet: a new one is news.
      if (tree.problem) await recordJobError(ctx, jobId, null, tree.problem);
      if ((await recordFiles(ctx, jobId, tree.files, sum)) > 0 || tree.problem) {
        const again = await ctx.store.recomputeJobStatus(jobId);
        if (again) ch = { from: ch.from, to: again.to };
        if (ch.from === ch.to) ch = null;
        ctx.log.info('files found at completion', { job: jobId, inserted: sum.inserted, changed: sum.changed });
      }
    }
  }
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
