import { jobDriveStatus, type RowCounts } from '../job-status.js';
import type { EnabledJob, JobStore } from '../store.js';
import { ENABLED, sqlTimestamp, type PgCtx } from './context.js';
import { empty, sql } from './sql.js';

export function pgJobStore({ conn, q, now, hasStatusColumn, finished }: PgCtx): JobStore {
  return {
    hasStatusColumn,

    async recomputeJobStatus(jobId) {
      return conn.tx(async (tx) => {
        // Lock the job's rows first: daemons recomputing one job at once then run one after
        // the other, each counting what the previous one committed (no stale status wins).
        const locked = await tx.rows(sql`SELECT 1 FROM batch_jobs WHERE job_id = ${jobId} FOR UPDATE`);
        if (locked.length === 0) return null;
        const job = await tx.one<{ enabled: boolean; cur: string | null; fin: boolean; jerr: number }>(
          sql`SELECT bool_or(${ENABLED}) AS enabled, max(drive_upload_status) AS cur, bool_or(${finished}) AS fin,
                     (SELECT count(*) FROM batch_drive_metadata WHERE batch_job_id = ${jobId} AND job_error IS NOT NULL) AS jerr
                FROM batch_jobs WHERE job_id = ${jobId}`,
        );
        if (!job || job.enabled === null) return null;
        const c = await tx.one<RowCounts>(sql`
          SELECT count(*) FILTER (WHERE upload_status = 'pending') AS pending, count(*) FILTER (WHERE upload_status = 'uploading') AS uploading,
                 count(*) FILTER (WHERE upload_status = 'uploaded') AS uploaded, count(*) FILTER (WHERE upload_status = 'failed') AS failed
            FROM batch_file_drive_metadata WHERE batch_job_id = ${jobId}`);
        const counts = c ?? { pending: 0, uploading: 0, uploaded: 0, failed: 0 };
        // A job-level error (bad job id, job directory outside, unreadable names) is one more failure.
        const to = jobDriveStatus(job.enabled, { ...counts, failed: counts.failed + (job.jerr > 0 ? 1 : 0) }, job.fin === true);
        if (job.cur === to) return null;
        await tx.count(sql`UPDATE batch_jobs SET drive_upload_status = ${to} WHERE job_id = ${jobId}`);
        return { from: job.cur, to };
      });
    },

    async staleJobStatuses(jobIds) {
      if (jobIds.length === 0) return [];
      const ids = [...new Set(jobIds)];
      // One grouped read over the given jobs' rows; the same rule as recomputeJobStatus.
      const rows = await q.rows<RowCounts & { job_id: string; enabled: boolean; cur: string | null; fin: boolean; jerr: number }>(sql`
        SELECT j.job_id, j.enabled, j.cur, j.fin,
               (SELECT count(*) FROM batch_drive_metadata m WHERE m.batch_job_id = j.job_id AND m.job_error IS NOT NULL) AS jerr,
               coalesce(c.pending, 0) AS pending, coalesce(c.uploading, 0) AS uploading,
               coalesce(c.uploaded, 0) AS uploaded, coalesce(c.failed, 0) AS failed
          FROM (SELECT job_id, bool_or(${ENABLED}) AS enabled, max(drive_upload_status) AS cur, bool_or(${finished}) AS fin
                  FROM batch_jobs WHERE job_id = ANY(${ids}::text[]) GROUP BY job_id) j
          LEFT JOIN (SELECT batch_job_id,
                            count(*) FILTER (WHERE upload_status = 'pending') AS pending, count(*) FILTER (WHERE upload_status = 'uploading') AS uploading,
                            count(*) FILTER (WHERE upload_status = 'uploaded') AS uploaded, count(*) FILTER (WHERE upload_status = 'failed') AS failed
                       FROM batch_file_drive_metadata WHERE batch_job_id = ANY(${ids}::text[]) GROUP BY batch_job_id) c ON c.batch_job_id = j.job_id`);
      const target = (r: (typeof rows)[number]) => jobDriveStatus(r.enabled, { ...r, failed: r.failed + (r.jerr > 0 ? 1 : 0) }, r.fin === true);
      return rows.filter((r) => r.cur !== target(r)).map((r) => String(r.job_id));
    },

    async setJobError(jobId, e) {
      const ts = sqlTimestamp(now());
      const n = e
        ? await q.count(sql`
            INSERT INTO batch_drive_metadata (batch_job_id, job_error, job_error_reason, created_at, updated_at) VALUES (${jobId}, ${e.error}, ${e.reason}, ${ts}, ${ts})
            ON CONFLICT (batch_job_id) DO UPDATE SET job_error = excluded.job_error, job_error_reason = excluded.job_error_reason, updated_at = excluded.updated_at
             WHERE batch_drive_metadata.job_error IS DISTINCT FROM excluded.job_error OR batch_drive_metadata.job_error_reason IS DISTINCT FROM excluded.job_error_reason`)
        : await q.count(
            sql`UPDATE batch_drive_metadata SET job_error = NULL, job_error_reason = NULL, updated_at = ${ts} WHERE batch_job_id = ${jobId} AND job_error IS NOT NULL`,
          );
      return n > 0;
    },

    async jobErrors() {
      const rows = await q.rows<{ j: string; e: string }>(sql`SELECT batch_job_id AS j, job_error AS e FROM batch_drive_metadata WHERE job_error IS NOT NULL`);
      return new Map(rows.map((r) => [r.j, r.e]));
    },

    async listEnabledJobs(onlyJobId) {
      const only = onlyJobId === undefined ? sql`${empty}` : sql`AND job_id = ${onlyJobId}`;
      const rows = await q.rows<Record<string, unknown>>(sql`SELECT *, (${finished}) AS __finished FROM batch_jobs WHERE ${ENABLED} ${only}`);
      const seen = new Set<string>();
      const out: EnabledJob[] = [];
      for (const r of rows) {
        const jobId = String(r.job_id);
        if (seen.has(jobId)) continue; // job_id need not be unique in a minimal batch_jobs
        seen.add(jobId);
        const { __finished, ...row } = r;
        out.push({
          jobId,
          pattern: typeof r.drive_folder_pattern === 'string' && r.drive_folder_pattern.trim() ? r.drive_folder_pattern : null,
          finished: __finished === true,
          row,
        });
      }
      return out;
    },

    async setJobEnabled(jobId, enabled, pattern) {
      return conn.tx(async (tx) => {
        const setPattern = pattern === undefined ? sql`${empty}` : sql`, drive_folder_pattern = ${pattern}`;
        const n = await tx.count(sql`UPDATE batch_jobs SET drive_integration_enabled = ${enabled} ${setPattern} WHERE job_id = ${jobId}`);
        if (n === 0) return false;
        if (!enabled) await tx.count(sql`UPDATE batch_jobs SET drive_upload_status = 'not_requested' WHERE job_id = ${jobId}`);
        else
          await tx.count(sql`UPDATE batch_jobs SET drive_upload_status = 'pending'
                              WHERE job_id = ${jobId} AND (drive_upload_status IS NULL OR drive_upload_status = 'not_requested')`);
        return true;
      });
    },
  };
}
