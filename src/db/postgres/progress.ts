// The reporting queries of src/db/sqlite/progress.ts on PostgreSQL: same selection, same
// figures, a fixed number of statements whatever the number of jobs.
import type { ReportStore } from '../store.js';
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
import type { ActivitySummary } from '../types.js';
import { ENABLED, type PgCtx } from './context.js';
import { raw, sql, type Sql } from './sql.js';

// An attempt's bytes spread evenly over its duration; the part inside the window counts.
const windowBytes = (now: number, ws: number) => sql`
  CASE
    WHEN upload_status = 'uploaded' AND uploaded_at >= ${ws} THEN
      CASE WHEN attempt_started_at IS NULL OR uploaded_at <= attempt_started_at
           THEN greatest(coalesce(local_size, 0) - coalesce(attempt_offset, 0), 0)::float8
           ELSE greatest(coalesce(local_size, 0) - coalesce(attempt_offset, 0), 0)::float8
                * (uploaded_at - greatest(attempt_started_at, ${ws})) / (uploaded_at - attempt_started_at) END
    WHEN upload_status = 'uploading' AND attempt_started_at IS NOT NULL AND ${now}::bigint > attempt_started_at THEN
      greatest(coalesce(resumable_offset, 0) - coalesce(attempt_offset, 0), 0)::float8
        * (${now}::bigint - greatest(attempt_started_at, ${ws})) / (${now}::bigint - attempt_started_at)
    ELSE 0 END`;

const windowStart = (ws: number) => sql`
  CASE
    WHEN upload_status = 'uploaded' AND uploaded_at >= ${ws} THEN greatest(coalesce(attempt_started_at, uploaded_at), ${ws})
    WHEN upload_status = 'uploading' AND attempt_started_at IS NOT NULL THEN greatest(attempt_started_at, ${ws})
    END`;

/** The job query's row: PostgreSQL booleans may be null where SQLite's are 0. */
type JobRow = Omit<JobAggRow, 'enabled'> & { enabled: boolean | null };

export function pgProgressStore({ q, now: clock, hasStatusColumn }: PgCtx): Pick<ReportStore, 'progress' | 'listFiles' | 'activity'> {
  const count = (cond: string) => raw(`count(*) FILTER (WHERE ${cond})::bigint`);
  return {
    async progress(query) {
      const now = clock();
      const ws = now - RATE_WINDOW_MS;
      const selected: Sql =
        query.jobId !== undefined
          ? sql`SELECT ${query.jobId}::text AS job_id`
          : query.all
            ? sql`SELECT job_id::text FROM batch_jobs WHERE ${ENABLED} UNION SELECT DISTINCT batch_job_id::text FROM batch_file_drive_metadata`
            : sql`SELECT job_id::text FROM batch_jobs WHERE ${ENABLED} AND coalesce(drive_upload_status, '') <> 'completed'
                  UNION SELECT DISTINCT batch_job_id::text FROM batch_file_drive_metadata WHERE upload_status <> 'uploaded'`;
      const jobs = await q.rows<JobRow>(sql`
        WITH sel AS (${selected}),
        agg AS (
          SELECT batch_job_id AS job_id, count(*)::bigint AS files,
                 ${count("upload_status = 'pending'")} AS pending, ${count("upload_status = 'uploading'")} AS uploading,
                 ${count("upload_status = 'uploaded'")} AS uploaded, ${count("upload_status = 'failed'")} AS failed,
                 coalesce(sum(coalesce(local_size, 0)), 0)::bigint AS bytes_total,
                 coalesce(sum(CASE WHEN upload_status = 'uploaded' THEN coalesce(local_size, 0) ELSE least(coalesce(resumable_offset, 0), coalesce(local_size, 0)) END), 0)::bigint AS bytes_done,
                 coalesce(sum(CASE WHEN upload_status = 'uploaded' THEN coalesce(local_size, 0) ELSE 0 END), 0)::bigint AS bytes_uploaded,
                 coalesce(sum(CASE WHEN upload_status = 'failed' THEN greatest(coalesce(local_size, 0) - coalesce(resumable_offset, 0), 0) ELSE 0 END), 0)::bigint AS bytes_failed,
                 min(started_at) AS first_started, max(uploaded_at) AS last_finished,
                 coalesce(sum(${windowBytes(now, ws)}), 0)::float8 AS window_bytes, min(${windowStart(ws)}) AS window_start
            FROM batch_file_drive_metadata WHERE batch_job_id IN (SELECT job_id FROM sel) GROUP BY batch_job_id),
        jobs AS (
          SELECT job_id, bool_or(${ENABLED}) AS enabled, ${raw(hasStatusColumn ? 'max(status::text)' : 'NULL::text')} AS status,
                 max(drive_upload_status) AS dus
            FROM batch_jobs WHERE job_id IN (SELECT job_id FROM sel) GROUP BY job_id)
        SELECT s.job_id, j.enabled, j.status, j.dus, (j.job_id IS NOT NULL) AS has_job, m.drive_folder_url AS folder_url, m.job_error,
               coalesce(a.files, 0) AS files, coalesce(a.pending, 0) AS pending, coalesce(a.uploading, 0) AS uploading,
               coalesce(a.uploaded, 0) AS uploaded, coalesce(a.failed, 0) AS failed, coalesce(a.bytes_total, 0) AS bytes_total,
               coalesce(a.bytes_done, 0) AS bytes_done, coalesce(a.bytes_uploaded, 0) AS bytes_uploaded, coalesce(a.bytes_failed, 0) AS bytes_failed,
               a.first_started, a.last_finished, coalesce(a.window_bytes, 0) AS window_bytes, a.window_start
          FROM sel s LEFT JOIN jobs j ON j.job_id = s.job_id LEFT JOIN agg a ON a.job_id = s.job_id
          LEFT JOIN batch_drive_metadata m ON m.batch_job_id = s.job_id
         ORDER BY s.job_id COLLATE "C"`);
      const ids = jobs.map((j) => j.job_id);
      const errors = await q.rows<ErrorRow>(sql`
        SELECT job_id, file, status, error, reason, attempts FROM (
          SELECT batch_job_id AS job_id, original_filename AS file, upload_status AS status, upload_error AS error, last_error_reason AS reason, attempts,
                 row_number() OVER (PARTITION BY batch_job_id ORDER BY updated_at DESC, id DESC) AS n
            FROM batch_file_drive_metadata
           WHERE batch_job_id = ANY(${ids}) AND upload_status <> 'uploaded' AND upload_error IS NOT NULL) e
         WHERE n <= ${MAX_ERRORS_PER_JOB} ORDER BY job_id, n`);
      const inFlight = await q.rows<InFlightRow>(sql`
        SELECT batch_job_id AS job_id, original_filename AS file, local_size AS size, resumable_offset AS "offset",
               attempt_started_at AS started, lease_owner AS owner, attempts
          FROM batch_file_drive_metadata WHERE upload_status = 'uploading' AND batch_job_id = ANY(${ids})
         ORDER BY batch_job_id, attempt_started_at, id`);
      let finished: { jobs: number; files: number; bytes: number } | null = null;
      if (query.jobId === undefined && !query.all) {
        const f = await q.one<{ jobs: number; files: number; bytes: number }>(sql`
          SELECT (SELECT count(DISTINCT job_id)::bigint FROM batch_jobs WHERE ${ENABLED} AND NOT (job_id::text = ANY(${ids}))) AS jobs,
                 (SELECT count(*)::bigint FROM batch_file_drive_metadata WHERE upload_status = 'uploaded') AS files,
                 (SELECT coalesce(sum(local_size), 0)::bigint FROM batch_file_drive_metadata WHERE upload_status = 'uploaded') AS bytes`);
        finished = { jobs: f?.jobs ?? 0, files: f?.files ?? 0, bytes: f?.bytes ?? 0 };
      }
      return assembleProgress(
        now,
        jobs.map((j) => ({ ...j, enabled: j.enabled === true })),
        errors,
        inFlight,
        finished,
      );
    },

    async listFiles(jobId, status) {
      const rows = await q.rows<FileListingRow>(sql`
        SELECT original_filename AS file, local_size AS size, upload_status AS status, attempts, next_attempt_at,
               upload_error AS error, last_error_reason AS reason, drive_file_url AS file_url, preview_url,
               drive_file_id AS drive_id, resumable_offset AS "offset", uploaded_at
          FROM batch_file_drive_metadata WHERE batch_job_id = ${jobId} ${status === undefined ? raw('') : sql`AND upload_status = ${status}`}
         ORDER BY original_filename COLLATE "C"`);
      return rows.map(toFileListing);
    },

    async activity(): Promise<ActivitySummary> {
      const now = clock();
      const ws = now - RATE_WINDOW_MS;
      const open = await q.rows<{ s: string; n: number; bytes: number; oldest: number | null }>(sql`
        SELECT upload_status AS s, count(*)::bigint AS n,
               coalesce(sum(greatest(coalesce(local_size, 0) - coalesce(resumable_offset, 0), 0)), 0)::bigint AS bytes,
               (min(CASE WHEN upload_status = 'pending' THEN extract(epoch FROM created_at::timestamp) END) * 1000)::bigint AS oldest
          FROM batch_file_drive_metadata WHERE upload_status <> 'uploaded' GROUP BY upload_status`);
      const total = await q.one<{ n: number }>(sql`SELECT count(*)::bigint AS n FROM batch_file_drive_metadata`);
      const rate = await q.one<{ window_bytes: number; window_start: number | null }>(sql`
        SELECT coalesce(sum(${windowBytes(now, ws)}), 0)::float8 AS window_bytes, min(${windowStart(ws)}) AS window_start
          FROM (SELECT * FROM batch_file_drive_metadata WHERE upload_status = 'uploading'
                UNION ALL SELECT * FROM batch_file_drive_metadata WHERE upload_status = 'uploaded' AND uploaded_at >= ${ws}) r`);
      const active = await q.one<{ n: number }>(sql`
        SELECT count(*)::bigint AS n FROM (
          SELECT job_id::text FROM batch_jobs WHERE ${ENABLED} AND drive_upload_status IN ('pending', 'in_progress')
          UNION SELECT DISTINCT batch_job_id::text FROM batch_file_drive_metadata WHERE upload_status IN ('pending', 'uploading')) a`);
      return activitySummary(open, total?.n ?? 0, rate, active?.n ?? 0, now);
    },
  };
}
