// The reporting queries of src/db/sqlite/progress.ts on PostgreSQL: same selection, same
// figures, a fixed number of statements whatever the number of jobs.
import type { ReportStore } from '../store.js';
import type { ActivitySummary, FileListing, JobProgress, ProgressReport, UploadStatus } from '../types.js';
import { RATE_WINDOW_MS } from '../sqlite/progress.js';
import { ENABLED, type PgCtx } from './context.js';
import { raw, sql, type Sql } from './sql.js';

const MAX_ERRORS_PER_JOB = 3;

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

function rateOf(windowBytesSum: number, start: number | null, now: number): number {
  if (start === null || windowBytesSum <= 0) return 0;
  const spanMs = Math.max(1000, Math.min(RATE_WINDOW_MS, now - start));
  return Math.round((windowBytesSum * 1000) / spanMs);
}

interface JobRow {
  job_id: string;
  enabled: boolean | null;
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
      const errors = await q.rows<{ job_id: string; file: string; status: string; error: string; reason: string | null; attempts: number }>(sql`
        SELECT job_id, file, status, error, reason, attempts FROM (
          SELECT batch_job_id AS job_id, original_filename AS file, upload_status AS status, upload_error AS error, last_error_reason AS reason, attempts,
                 row_number() OVER (PARTITION BY batch_job_id ORDER BY updated_at DESC, id DESC) AS n
            FROM batch_file_drive_metadata
           WHERE batch_job_id = ANY(${ids}) AND upload_status <> 'uploaded' AND upload_error IS NOT NULL) e
         WHERE n <= ${MAX_ERRORS_PER_JOB} ORDER BY job_id, n`);
      const inFlight = await q.rows<{
        job_id: string;
        file: string;
        size: number | null;
        offset: number | null;
        started: number | null;
        owner: string | null;
        attempts: number;
      }>(sql`
        SELECT batch_job_id AS job_id, original_filename AS file, local_size AS size, resumable_offset AS "offset",
               attempt_started_at AS started, lease_owner AS owner, attempts
          FROM batch_file_drive_metadata WHERE upload_status = 'uploading' AND batch_job_id = ANY(${ids})
         ORDER BY batch_job_id, attempt_started_at, id`);
      const out: JobProgress[] = [];
      for (const j of jobs) {
        if (!j.has_job && j.files === 0) continue;
        const rate = rateOf(j.window_bytes, j.window_start, now);
        const remaining = Math.max(0, j.bytes_total - j.bytes_done - j.bytes_failed);
        out.push({
          jobId: j.job_id,
          enabled: j.enabled === true,
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
          lastErrors: errors
            .filter((e) => e.job_id === j.job_id)
            .map((e) => ({ file: e.file, status: e.status, error: e.error, reason: e.reason, attempts: e.attempts })),
          inFlight: inFlight
            .filter((f) => f.job_id === j.job_id)
            .map((f) => ({
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
      if (query.jobId === undefined && !query.all) {
        const f = await q.one<{ jobs: number; files: number; bytes: number }>(sql`
          SELECT (SELECT count(DISTINCT job_id)::bigint FROM batch_jobs WHERE ${ENABLED} AND NOT (job_id::text = ANY(${ids}))) AS jobs,
                 (SELECT count(*)::bigint FROM batch_file_drive_metadata WHERE upload_status = 'uploaded') AS files,
                 (SELECT coalesce(sum(local_size), 0)::bigint FROM batch_file_drive_metadata WHERE upload_status = 'uploaded') AS bytes`);
        const listedFiles = jobs.reduce((n, j) => n + j.uploaded, 0);
        const listedBytes = jobs.reduce((n, j) => n + j.bytes_uploaded, 0);
        finished = { jobs: f?.jobs ?? 0, files: Math.max(0, (f?.files ?? 0) - listedFiles), bytes: Math.max(0, (f?.bytes ?? 0) - listedBytes) };
      }
      return {
        generatedAt: now,
        jobs: out,
        finished,
        totals: {
          rateBytesPerSec: out.reduce((n, j) => n + j.rateBytesPerSec, 0),
          uploading: out.reduce((n, j) => n + j.counts.uploading, 0),
          failed: out.reduce((n, j) => n + j.counts.failed, 0),
        },
      };
    },

    async listFiles(jobId, status) {
      const rows = await q.rows<{
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
      }>(sql`
        SELECT original_filename AS file, local_size AS size, upload_status AS status, attempts, next_attempt_at,
               upload_error AS error, last_error_reason AS reason, drive_file_url AS file_url, preview_url,
               drive_file_id AS drive_id, resumable_offset AS "offset", uploaded_at
          FROM batch_file_drive_metadata WHERE batch_job_id = ${jobId} ${status === undefined ? raw('') : sql`AND upload_status = ${status}`}
         ORDER BY original_filename COLLATE "C"`);
      return rows.map((r): FileListing => ({
        path: r.file,
        size: r.size,
        status: r.status,
        attempts: r.attempts,
        nextAttemptAt: r.status === 'pending' && typeof r.next_attempt_at === 'number' ? r.next_attempt_at : null,
        lastError: r.error,
        errorClass: r.reason,
        driveFileId: r.drive_id,
        fileUrl: r.file_url,
        previewUrl: r.preview_url,
        offset: r.offset,
        uploadedAt: r.uploaded_at,
      }));
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
      const rows: Record<UploadStatus, number> = { pending: 0, uploading: 0, uploaded: 0, failed: 0 };
      let pendingBytes = 0;
      let oldestPendingAt: number | null = null;
      for (const r of open) {
        if (r.s in rows) rows[r.s as UploadStatus] = r.n;
        if (r.s === 'pending' || r.s === 'uploading') pendingBytes += r.bytes;
        if (r.s === 'pending') oldestPendingAt = r.oldest;
      }
      rows.uploaded = Math.max(0, (total?.n ?? 0) - rows.pending - rows.uploading - rows.failed);
      return { activeJobs: active?.n ?? 0, rows, pendingBytes, oldestPendingAt, rateBytesPerSec: rate ? rateOf(rate.window_bytes, rate.window_start, now) : 0 };
    },
  };
}
