// Read-only reporting queries: `status`, `files`, the systemd status line and the metrics
// gauges. A fixed number of statements per call (never one per job), so `status` on a year of
// finished jobs answers as fast as on a day's.
import type { Db } from '../open.js';
import type { ActivitySummary, FileListing, JobProgress, ProgressReport, UploadStatus } from '../types.js';

/** The window the current rate is measured over. */
export const RATE_WINDOW_MS = 60_000;
const MAX_ERRORS_PER_JOB = 3;

export interface ProgressContext {
  db: Db;
  /** SQL that is true for a Drive-enabled batch_jobs row. */
  enabledSql: string;
  /** SQL (and its arguments) that is true for a finished batch_jobs row. */
  hasStatusColumn: boolean;
}

export interface ProgressQuery {
  now: number;
  /** One job only. */
  jobId?: string | undefined;
  /** Every job; else the ones that need attention and one total for the finished rest. */
  all?: boolean | undefined;
}

// The bytes an attempt sent are spread evenly over its duration; the part that falls into the
// window counts towards the rate. An attempt with no recorded start (rows uploaded before
// migration 004) counts whole.
const WINDOW_BYTES = `
  CASE
    WHEN upload_status = 'uploaded' AND uploaded_at >= :ws THEN
      CASE WHEN attempt_started_at IS NULL OR uploaded_at <= attempt_started_at
           THEN max(coalesce(local_size, 0) - coalesce(attempt_offset, 0), 0)
           ELSE max(coalesce(local_size, 0) - coalesce(attempt_offset, 0), 0) * 1.0
                * (uploaded_at - max(attempt_started_at, :ws)) / (uploaded_at - attempt_started_at) END
    WHEN upload_status = 'uploading' AND attempt_started_at IS NOT NULL AND :now > attempt_started_at THEN
      max(coalesce(resumable_offset, 0) - coalesce(attempt_offset, 0), 0) * 1.0
        * (:now - max(attempt_started_at, :ws)) / (:now - attempt_started_at)
    ELSE 0 END`;

// Where in the window the counted bytes begin: the rate of a job that started 10 s ago is its
// bytes over 10 s, not over a minute.
const WINDOW_START = `
  CASE
    WHEN upload_status = 'uploaded' AND uploaded_at >= :ws THEN max(coalesce(attempt_started_at, uploaded_at), :ws)
    WHEN upload_status = 'uploading' AND attempt_started_at IS NOT NULL THEN max(attempt_started_at, :ws)
    END`;

const AGGREGATES = `
  count(*) AS files,
  coalesce(sum(upload_status = 'pending'), 0) AS pending,
  coalesce(sum(upload_status = 'uploading'), 0) AS uploading,
  coalesce(sum(upload_status = 'uploaded'), 0) AS uploaded,
  coalesce(sum(upload_status = 'failed'), 0) AS failed,
  coalesce(sum(coalesce(local_size, 0)), 0) AS bytes_total,
  coalesce(sum(CASE WHEN upload_status = 'uploaded' THEN coalesce(local_size, 0) ELSE min(coalesce(resumable_offset, 0), coalesce(local_size, 0)) END), 0) AS bytes_done,
  coalesce(sum(CASE WHEN upload_status = 'uploaded' THEN coalesce(local_size, 0) ELSE 0 END), 0) AS bytes_uploaded,
  coalesce(sum(CASE WHEN upload_status = 'failed' THEN max(coalesce(local_size, 0) - coalesce(resumable_offset, 0), 0) ELSE 0 END), 0) AS bytes_failed,
  min(started_at) AS first_started,
  max(uploaded_at) AS last_finished,
  coalesce(sum(${WINDOW_BYTES}), 0) AS window_bytes,
  min(${WINDOW_START}) AS window_start`;

interface AggRow {
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

function rateOf(a: Pick<AggRow, 'window_bytes' | 'window_start'>, now: number): number {
  if (a.window_start === null || a.window_bytes <= 0) return 0;
  // At least a second, so one file finished a moment ago does not read as a huge rate.
  const spanMs = Math.max(1000, Math.min(RATE_WINDOW_MS, now - a.window_start));
  return Math.round((a.window_bytes * 1000) / spanMs);
}

/** The jobs `status` shows, with everything it prints, in four statements whatever the number of jobs. */
export async function queryProgress(ctx: ProgressContext, q: ProgressQuery): Promise<ProgressReport> {
  const { db, enabledSql } = ctx;
  const now = q.now;
  const ws = now - RATE_WINDOW_MS;
  // Which jobs: one asked for; every enabled job (or with rows); or those needing attention:
  // enabled and not completed, or with a row not uploaded (the partial "open" index).
  const selected =
    q.jobId !== undefined
      ? `SELECT :job AS job_id`
      : q.all
        ? `SELECT job_id FROM batch_jobs WHERE ${enabledSql} UNION SELECT DISTINCT batch_job_id FROM batch_file_drive_metadata`
        : `SELECT job_id FROM batch_jobs WHERE ${enabledSql} AND coalesce(drive_upload_status, '') <> 'completed'
           UNION SELECT DISTINCT batch_job_id FROM batch_file_drive_metadata WHERE upload_status <> 'uploaded'`;
  const args: Record<string, unknown> = { ':now': now, ':ws': ws };
  await db.exec('DROP TABLE IF EXISTS temp.bds_selected');
  await db.run(`CREATE TEMP TABLE bds_selected AS SELECT job_id FROM (${selected})`, q.jobId !== undefined ? { ':job': q.jobId } : {});
  try {
    const jobs = await db.all<
      (AggRow & {
        job_id: string;
        enabled: number | null;
        status: string | null;
        dus: string | null;
        folder_url: string | null;
        job_error: string | null;
        has_job: number;
      })[]
    >(
      `WITH agg AS (
         SELECT batch_job_id AS job_id, ${AGGREGATES}
           FROM batch_file_drive_metadata WHERE batch_job_id IN (SELECT job_id FROM temp.bds_selected)
          GROUP BY batch_job_id),
       jobs AS (
         SELECT job_id, max(${enabledSql}) AS enabled, ${ctx.hasStatusColumn ? 'max(status)' : 'NULL'} AS status,
                max(drive_upload_status) AS dus, 1 AS has_job
           FROM batch_jobs WHERE job_id IN (SELECT job_id FROM temp.bds_selected) GROUP BY job_id)
       SELECT s.job_id, j.enabled, j.status, j.dus, coalesce(j.has_job, 0) AS has_job, m.drive_folder_url AS folder_url, m.job_error AS job_error,
              coalesce(a.files, 0) AS files, coalesce(a.pending, 0) AS pending, coalesce(a.uploading, 0) AS uploading,
              coalesce(a.uploaded, 0) AS uploaded, coalesce(a.failed, 0) AS failed,
              coalesce(a.bytes_total, 0) AS bytes_total, coalesce(a.bytes_done, 0) AS bytes_done,
              coalesce(a.bytes_uploaded, 0) AS bytes_uploaded, coalesce(a.bytes_failed, 0) AS bytes_failed,
              a.first_started, a.last_finished, coalesce(a.window_bytes, 0) AS window_bytes, a.window_start
         FROM temp.bds_selected s
         LEFT JOIN jobs j ON j.job_id = s.job_id
         LEFT JOIN agg a ON a.job_id = s.job_id
         LEFT JOIN batch_drive_metadata m ON m.batch_job_id = s.job_id
        ORDER BY s.job_id`,
      args,
    );
    const errors = await db.all<{ job_id: string; file: string; status: string; error: string; reason: string | null; attempts: number }[]>(
      `SELECT job_id, file, status, error, reason, attempts FROM (
         SELECT batch_job_id AS job_id, original_filename AS file, upload_status AS status, upload_error AS error,
                last_error_reason AS reason, attempts,
                row_number() OVER (PARTITION BY batch_job_id ORDER BY updated_at DESC, id DESC) AS n
           FROM batch_file_drive_metadata
          WHERE +batch_job_id IN (SELECT job_id FROM temp.bds_selected) AND upload_status <> 'uploaded' AND upload_error IS NOT NULL)
        WHERE n <= ${MAX_ERRORS_PER_JOB} ORDER BY job_id, n`,
    );
    const inFlight = await db.all<
      { job_id: string; file: string; size: number | null; offset: number | null; started: number | null; owner: string | null; attempts: number }[]
    >(
      `SELECT batch_job_id AS job_id, original_filename AS file, local_size AS size, resumable_offset AS offset,
              attempt_started_at AS started, lease_owner AS owner, attempts
         FROM batch_file_drive_metadata
        WHERE upload_status = 'uploading' AND +batch_job_id IN (SELECT job_id FROM temp.bds_selected)
        ORDER BY batch_job_id, attempt_started_at, id`,
    );
    const byJob = <T extends { job_id: string }>(rows: T[]) => {
      const m = new Map<string, T[]>();
      for (const r of rows) m.set(r.job_id, [...(m.get(r.job_id) ?? []), r]);
      return m;
    };
    const errs = byJob(errors);
    const flying = byJob(inFlight);
    const out: JobProgress[] = [];
    for (const j of jobs) {
      if (!j.has_job && j.files === 0) continue; // --job for an id that exists nowhere
      const rate = rateOf(j, now);
      const remaining = Math.max(0, j.bytes_total - j.bytes_done - j.bytes_failed);
      out.push({
        jobId: j.job_id,
        enabled: j.enabled === 1,
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
    let finished: ProgressReport['finished'] = null;
    if (q.jobId === undefined && !q.all) {
      // Everything not listed: jobs that are Drive-enabled and done. Uploaded rows of listed
      // jobs are subtracted, so the whole table is read once, by its covering index.
      const f = await db.get<{ jobs: number; files: number; bytes: number }>(
        `SELECT (SELECT count(DISTINCT job_id) FROM batch_jobs WHERE ${enabledSql} AND job_id NOT IN (SELECT job_id FROM temp.bds_selected)) AS jobs,
                (SELECT count(*) FROM batch_file_drive_metadata WHERE upload_status = 'uploaded') AS files,
                (SELECT coalesce(sum(local_size), 0) FROM batch_file_drive_metadata WHERE upload_status = 'uploaded') AS bytes`,
      );
      const listedFiles = jobs.reduce((n, j) => n + j.uploaded, 0);
      const listedBytes = jobs.reduce((n, j) => n + j.bytes_uploaded, 0);
      finished = { jobs: f?.jobs ?? 0, files: Math.max(0, (f?.files ?? 0) - listedFiles), bytes: Math.max(0, (f?.bytes ?? 0) - listedBytes) };
    }
    const totals = summarize(out);
    return { generatedAt: now, jobs: out, finished, totals };
  } finally {
    await db.exec('DROP TABLE IF EXISTS temp.bds_selected');
  }
}

function summarize(jobs: JobProgress[]): ProgressReport['totals'] {
  return {
    rateBytesPerSec: jobs.reduce((n, j) => n + j.rateBytesPerSec, 0),
    uploading: jobs.reduce((n, j) => n + j.counts.uploading, 0),
    failed: jobs.reduce((n, j) => n + j.counts.failed, 0),
  };
}

/** One job's files for `files`, in path order. */
export async function queryFiles(db: Db, jobId: string, status?: UploadStatus): Promise<FileListing[]> {
  const rows = await db.all<
    {
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
    }[]
  >(
    `SELECT original_filename AS file, local_size AS size, upload_status AS status, attempts, next_attempt_at,
            upload_error AS error, last_error_reason AS reason, drive_file_url AS file_url, preview_url,
            drive_file_id AS drive_id, resumable_offset AS offset, uploaded_at
       FROM batch_file_drive_metadata WHERE batch_job_id = ? AND (? IS NULL OR upload_status = ?)
      ORDER BY original_filename`,
    jobId,
    status ?? null,
    status ?? null,
  );
  return rows.map((r) => ({
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
  }));
}

/** Whole-daemon figures for the systemd status line and the metrics gauges (rows not uploaded only, by the "open" index). */
export async function queryActivity(ctx: ProgressContext, now: number): Promise<ActivitySummary> {
  const { db, enabledSql } = ctx;
  const ws = now - RATE_WINDOW_MS;
  const open = await db.all<{ s: string; n: number; bytes: number; oldest: number | null }[]>(
    `SELECT upload_status AS s, count(*) AS n,
            coalesce(sum(max(coalesce(local_size, 0) - coalesce(resumable_offset, 0), 0)), 0) AS bytes,
            min(CASE WHEN upload_status = 'pending' THEN created_ms END) AS oldest
       FROM (SELECT upload_status, local_size, resumable_offset,
                    CAST(strftime('%s', created_at) AS INTEGER) * 1000 AS created_ms
               FROM batch_file_drive_metadata WHERE upload_status <> 'uploaded')
      GROUP BY upload_status`,
  );
  const total = await db.get<{ n: number }>('SELECT count(*) AS n FROM batch_file_drive_metadata');
  // Rows in flight (the lease index) and rows uploaded within the window (the uploaded_at index).
  const rate = await db.get<{ window_bytes: number; window_start: number | null }>(
    `SELECT coalesce(sum(${WINDOW_BYTES}), 0) AS window_bytes, min(${WINDOW_START}) AS window_start
       FROM (SELECT * FROM batch_file_drive_metadata WHERE upload_status = 'uploading'
             UNION ALL
             SELECT * FROM batch_file_drive_metadata WHERE upload_status = 'uploaded' AND uploaded_at >= :ws)`,
    { ':now': now, ':ws': ws },
  );
  const active = await db.get<{ n: number }>(
    `SELECT count(*) AS n FROM (
       SELECT job_id FROM batch_jobs WHERE ${enabledSql} AND drive_upload_status IN ('pending', 'in_progress')
       UNION SELECT DISTINCT batch_job_id FROM batch_file_drive_metadata WHERE upload_status <> 'uploaded' AND upload_status IN ('pending', 'uploading'))`,
  );
  const rows: Record<UploadStatus, number> = { pending: 0, uploading: 0, uploaded: 0, failed: 0 };
  let pendingBytes = 0;
  let oldestPendingAt: number | null = null;
  for (const r of open) {
    if (r.s in rows) rows[r.s as UploadStatus] = r.n;
    if (r.s === 'pending' || r.s === 'uploading') pendingBytes += r.bytes;
    if (r.s === 'pending') oldestPendingAt = r.oldest;
  }
  rows.uploaded = Math.max(0, (total?.n ?? 0) - rows.pending - rows.uploading - rows.failed);
  return {
    activeJobs: active?.n ?? 0,
    rows,
    pendingBytes,
    oldestPendingAt,
    rateBytesPerSec: rate ? rateOf(rate, now) : 0,
  };
}
