// What `status`, `files`, the systemd status line and the metrics make of the reporting rows:
// one assembly for both backends (each has its own SQL in sqlite/progress.ts and postgres/progress.ts).
import type { ActivitySummary, FileListing, JobProgress, ProgressReport, UploadStatus } from './types.js';

/** The window the current rate is measured over. */
export const RATE_WINDOW_MS = 60_000;
export const MAX_ERRORS_PER_JOB = 3;

/** One selected job with its aggregates, as both backends' job query returns it (booleans normalised). */
export interface JobAggRow {
  job_id: string;
  enabled: boolean;
  status: string | null;
  dus: string | null;
  has_job: boolean;
  folder_url: string | null;
  job_error: string | null;
  files: number;
  pending: number;
  uploading: number;
  uploaded: number;
  failed: number;
  bytes_total: number;
  bytes_done: number;
  bytes_uploaded: number;
  bytes_failed: number;
  first_started: number | null;
  last_finished: number | null;
  window_bytes: number;
  window_start: number | null;
}

export interface ErrorRow {
  job_id: string;
  file: string;
  status: string;
  error: string;
  reason: string | null;
  attempts: number;
}

export interface InFlightRow {
  job_id: string;
  file: string;
  size: number | null;
  offset: number | null;
  started: number | null;
  owner: string | null;
  attempts: number;
}

export interface FileListingRow {
  file: string;
  size: number | null;
  status: UploadStatus;
  attempts: number;
  next_attempt_at: number | null;
  error: string | null;
  reason: string | null;
  file_url: string | null;
  preview_url: string | null;
  drive_id: string | null;
  offset: number | null;
  uploaded_at: number | null;
}

/** Uploaded rows and bytes of the whole table, and the enabled jobs not listed. */
export interface FinishedCounts {
  jobs: number;
  files: number;
  bytes: number;
}

/** The window's bytes over its span (at least a second, so one file finished a moment ago does not read as a huge rate). */
export function rateOf(windowBytes: number, windowStart: number | null, now: number): number {
  if (windowStart === null || windowBytes <= 0) return 0;
  const spanMs = Math.max(1000, Math.min(RATE_WINDOW_MS, now - windowStart));
  return Math.round((windowBytes * 1000) / spanMs);
}

function byJob<T extends { job_id: string }>(rows: T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of rows) {
    const list = m.get(r.job_id);
    if (list) list.push(r);
    else m.set(r.job_id, [r]);
  }
  return m;
}

/**
 * The report from the rows. `finished` is null when every job is listed; else the whole
 * table's uploaded counts, from which the listed jobs' own are subtracted.
 */
export function assembleProgress(now: number, jobs: JobAggRow[], errors: ErrorRow[], inFlight: InFlightRow[], finished: FinishedCounts | null): ProgressReport {
  const errs = byJob(errors);
  const flying = byJob(inFlight);
  const out: JobProgress[] = [];
  for (const j of jobs) {
    if (!j.has_job && j.files === 0) continue; // --job for an id that exists nowhere
    const rate = rateOf(j.window_bytes, j.window_start, now);
    const remaining = Math.max(0, j.bytes_total - j.bytes_done - j.bytes_failed);
    out.push({
      jobId: j.job_id,
      enabled: j.enabled,
      jobStatus: j.status,
      driveUploadStatus: j.dus,
      folderUrl: j.folder_url,
      jobError: j.job_error,
      counts: { pending: j.pending, uploading: j.uploading, uploaded: j.uploaded, failed: j.failed },
      files: { done: j.uploaded, total: j.files },
      bytes: { done: j.bytes_done, total: j.bytes_total, failed: j.bytes_failed },
      rateBytesPerSec: rate,
      etaSeconds: remaining === 0 ? 0 : rate > 0 ? Math.ceil(remaining / rate) : null,
      firstStartedAt: j.first_started,
      lastFinishedAt: j.last_finished,
      lastErrors: (errs.get(j.job_id) ?? []).map((e) => ({ file: e.file, status: e.status, error: e.error, reason: e.reason, attempts: e.attempts })),
      inFlight: (flying.get(j.job_id) ?? []).map((f) => ({
        file: f.file,
        size: f.size,
        offset: f.offset,
        startedAt: f.started,
        durationMs: f.started === null ? null : Math.max(0, now - f.started),
        owner: f.owner,
        attempt: f.attempts,
      })),
    });
  }
  let rest: ProgressReport['finished'] = null;
  if (finished) {
    const listedFiles = jobs.reduce((n, j) => n + j.uploaded, 0);
    const listedBytes = jobs.reduce((n, j) => n + j.bytes_uploaded, 0);
    rest = { jobs: finished.jobs, files: Math.max(0, finished.files - listedFiles), bytes: Math.max(0, finished.bytes - listedBytes) };
  }
  return {
    generatedAt: now,
    jobs: out,
    finished: rest,
    totals: {
      rateBytesPerSec: out.reduce((n, j) => n + j.rateBytesPerSec, 0),
      uploading: out.reduce((n, j) => n + j.counts.uploading, 0),
      failed: out.reduce((n, j) => n + j.counts.failed, 0),
    },
  };
}

export function toFileListing(r: FileListingRow): FileListing {
  return {
    path: r.file,
    size: r.size,
    status: r.status,
    attempts: r.attempts,
    // Only a pending row has a next attempt; a number that is not one (a row written by hand) is shown as unknown.
    nextAttemptAt: r.status === 'pending' && typeof r.next_attempt_at === 'number' ? r.next_attempt_at : null,
    lastError: r.error,
    errorClass: r.reason,
    driveFileId: r.drive_id,
    fileUrl: r.file_url,
    previewUrl: r.preview_url,
    offset: r.offset,
    uploadedAt: r.uploaded_at,
  };
}

/** The daemon-wide figures from the rows not uploaded (by status), the row total, the window and the active jobs. */
export function activitySummary(
  open: { s: string; n: number; bytes: number; oldest: number | null }[],
  totalRows: number,
  rate: { window_bytes: number; window_start: number | null } | undefined,
  activeJobs: number,
  now: number,
): ActivitySummary {
  const rows: Record<UploadStatus, number> = { pending: 0, uploading: 0, uploaded: 0, failed: 0 };
  let pendingBytes = 0;
  let oldestPendingAt: number | null = null;
  for (const r of open) {
    if (r.s in rows) rows[r.s as UploadStatus] = r.n;
    if (r.s === 'pending' || r.s === 'uploading') pendingBytes += r.bytes;
    if (r.s === 'pending') oldestPendingAt = r.oldest;
  }
  rows.uploaded = Math.max(0, totalRows - rows.pending - rows.uploading - rows.failed);
  return { activeJobs, rows, pendingBytes, oldestPendingAt, rateBytesPerSec: rate ? rateOf(rate.window_bytes, rate.window_start, now) : 0 };
}
