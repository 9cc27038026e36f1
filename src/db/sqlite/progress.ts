// Read-only reporting queries: `status`, `files`, the systemd status line and the metrics
// gauges. A fixed number of statements per call (never one per job), so `status` on a year of
// finished jobs answers as fast as on a day's.
import type { Db } from '../open.js';
import {
  activitySummary,
  assembleProgress,
  MAX_ERRORS_PER_JOB,
  RATE_WINDOW_MS,
  toFileListing,
  type ErrorRow,
  type FileListingRow,
  type InFlightRow,
  type JobAggRow,
} from '../progress.js';
import type { ActivitySummary, FileListing, ProgressReport, UploadStatus } from '../types.js';

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

/** The job query's row: SQLite gives its booleans as 0/1. */
type JobRow = Omit<JobAggRow, 'enabled' | 'has_job'> & { enabled: number | null; has_job: number };

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
    const jobs = await db.all<JobRow[]>(
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
    const errors = await db.all<ErrorRow[]>(
      `SELECT job_id, file, status, error, reason, attempts FROM (
         SELECT batch_job_id AS job_id, original_filename AS file, upload_status AS status, upload_error AS error,
                last_error_reason AS reason, attempts,
                row_number() OVER (PARTITION BY batch_job_id ORDER BY updated_at DESC, id DESC) AS n
           FROM batch_file_drive_metadata
          WHERE +batch_job_id IN (SELECT job_id FROM temp.bds_selected) AND upload_status <> 'uploaded' AND upload_error IS NOT NULL)
        WHERE n <= ${MAX_ERRORS_PER_JOB} ORDER BY job_id, n`,
    );
    const inFlight = await db.all<InFlightRow[]>(
      `SELECT batch_job_id AS job_id, original_filename AS file, local_size AS size, resumable_offset AS offset,
              attempt_started_at AS started, lease_owner AS owner, attempts
         FROM batch_file_drive_metadata
        WHERE upload_status = 'uploading' AND +batch_job_id IN (SELECT job_id FROM temp.bds_selected)
        ORDER BY batch_job_id, attempt_started_at, id`,
    );
    let finished: { jobs: number; files: number; bytes: number } | null = null;
    if (q.jobId === undefined && !q.all) {
      // Everything not listed: jobs that are Drive-enabled and done. Uploaded rows of listed
      // jobs are subtracted, so the whole table is read once, by its covering index.
      const f = await db.get<{ jobs: number; files: number; bytes: number }>(
        `SELECT (SELECT count(DISTINCT job_id) FROM batch_jobs WHERE ${enabledSql} AND job_id NOT IN (SELECT job_id FROM temp.bds_selected)) AS jobs,
                (SELECT count(*) FROM batch_file_drive_metadata WHERE upload_status = 'uploaded') AS files,
                (SELECT coalesce(sum(local_size), 0) FROM batch_file_drive_metadata WHERE upload_status = 'uploaded') AS bytes`,
      );
      finished = { jobs: f?.jobs ?? 0, files: f?.files ?? 0, bytes: f?.bytes ?? 0 };
    }
    const rows = jobs.map((j) => ({ ...j, enabled: j.enabled === 1, has_job: j.has_job === 1 }));
    return assembleProgress(now, rows, errors, inFlight, finished);
  } finally {
    await db.exec('DROP TABLE IF EXISTS temp.bds_selected');
  }
}

/** One job's files for `files`, in path order. */
export async function queryFiles(db: Db, jobId: string, status?: UploadStatus): Promise<FileListing[]> {
  const rows = await db.all<FileListingRow[]>(
    `SELECT original_filename AS file, local_size AS size, upload_status AS status, attempts, next_attempt_at,
            upload_error AS error, last_error_reason AS reason, drive_file_url AS file_url, preview_url,
            drive_file_id AS drive_id, resumable_offset AS offset, uploaded_at
       FROM batch_file_drive_metadata WHERE batch_job_id = ? AND (? IS NULL OR upload_status = ?)
      ORDER BY original_filename`,
    jobId,
    status ?? null,
    status ?? null,
  );
  return rows.map(toFileListing);
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
  return activitySummary(open, total?.n ?? 0, rate, active?.n ?? 0, now);
}
