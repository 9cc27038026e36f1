import { withTransaction } from '../open.js';
import { jobDriveStatus, type RowCounts } from '../job-status.js';
import type { EnabledJob, JobStore } from '../store.js';
import { changed, ENABLED, sqlTimestamp, type SqliteCtx } from './context.js';

export function sqliteJobStore({ db, now, hasStatusColumn, finishedSql, finishedArgs }: SqliteCtx): JobStore {
  return {
    hasStatusColumn,

    async recomputeJobStatus(jobId) {
      return withTransaction(db, async () => {
        const job = await db.get<{ enabled: number; cur: string | null; fin: number; jerr: number }>(
          `SELECT max(${ENABLED}) AS enabled, max(drive_upload_status) AS cur, max(${finishedSql}) AS fin,
                  (SELECT count(*) FROM batch_drive_metadata WHERE batch_job_id = ? AND job_error IS NOT NULL) AS jerr
             FROM batch_jobs WHERE job_id = ?`,
          ...finishedArgs,
          jobId,
          jobId,
        );
        if (!job || job.enabled === null) return null;
        const c = await db.get<RowCounts>(
          `SELECT coalesce(sum(upload_status = 'pending'), 0) AS pending, coalesce(sum(upload_status = 'uploading'), 0) AS uploading,
                  coalesce(sum(upload_status = 'uploaded'), 0) AS uploaded, coalesce(sum(upload_status = 'failed'), 0) AS failed
             FROM batch_file_drive_metadata WHERE batch_job_id = ?`,
          jobId,
        );
        const counts = c ?? { pending: 0, uploading: 0, uploaded: 0, failed: 0 };
        // A job-level error (bad job id, job directory outside, unreadable names) is one more failure.
        const to = jobDriveStatus(job.enabled === 1, { ...counts, failed: counts.failed + (job.jerr > 0 ? 1 : 0) }, job.fin === 1);
        if (job.cur === to) return null;
        await db.run('UPDATE batch_jobs SET drive_upload_status = ? WHERE job_id = ?', to, jobId);
        return { from: job.cur, to };
      });
    },

    async staleJobStatuses(jobIds) {
      if (jobIds.length === 0) return [];
      // One grouped read over the given jobs' rows (json_each passes the list as one parameter).
      const ids = JSON.stringify([...new Set(jobIds)]);
      const rows = await db.all<(RowCounts & { job_id: string; enabled: number; cur: string | null; fin: number; jerr: number })[]>(
        `SELECT j.job_id, j.enabled, j.cur, j.fin,
                (SELECT count(*) FROM batch_drive_metadata m WHERE m.batch_job_id = j.job_id AND m.job_error IS NOT NULL) AS jerr,
                coalesce(c.pending, 0) AS pending, coalesce(c.uploading, 0) AS uploading,
                coalesce(c.uploaded, 0) AS uploaded, coalesce(c.failed, 0) AS failed
           FROM (SELECT job_id, max(${ENABLED}) AS enabled, max(drive_upload_status) AS cur, max(${finishedSql}) AS fin
                   FROM batch_jobs WHERE job_id IN (SELECT value FROM json_each(?)) GROUP BY job_id) j
           LEFT JOIN (SELECT batch_job_id, sum(upload_status = 'pending') AS pending, sum(upload_status = 'uploading') AS uploading,
                             sum(upload_status = 'uploaded') AS uploaded, sum(upload_status = 'failed') AS failed
                        FROM batch_file_drive_metadata
                       WHERE batch_job_id IN (SELECT value FROM json_each(?))
                       GROUP BY batch_job_id) c ON c.batch_job_id = j.job_id`,
        ...finishedArgs,
        ids,
        ids,
      );
      // The same rule as recomputeJobStatus: a job-level error is one more failure.
      const target = (r: (typeof rows)[number]) => jobDriveStatus(r.enabled === 1, { ...r, failed: r.failed + (r.jerr > 0 ? 1 : 0) }, r.fin === 1);
      return rows.filter((r) => r.cur !== target(r)).map((r) => String(r.job_id));
    },

    async setJobError(jobId, e) {
      const ts = sqlTimestamp(now());
      const r = e
        ? await db.run(
            `INSERT INTO batch_drive_metadata (batch_job_id, job_error, job_error_reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (batch_job_id) DO UPDATE SET job_error = excluded.job_error, job_error_reason = excluded.job_error_reason, updated_at = excluded.updated_at
              WHERE job_error IS NOT excluded.job_error OR job_error_reason IS NOT excluded.job_error_reason`,
            jobId,
            e.error,
            e.reason,
            ts,
            ts,
          )
        : await db.run(
            'UPDATE batch_drive_metadata SET job_error = NULL, job_error_reason = NULL, updated_at = ? WHERE batch_job_id = ? AND job_error IS NOT NULL',
            ts,
            jobId,
          );
      return changed(r);
    },

    async jobErrors() {
      const rows = await db.all<{ j: string; e: string }[]>('SELECT batch_job_id AS j, job_error AS e FROM batch_drive_metadata WHERE job_error IS NOT NULL');
      return new Map(rows.map((r) => [r.j, r.e]));
    },

    async listEnabledJobs(onlyJobId) {
      const rows = await db.all<Record<string, unknown>[]>(
        `SELECT *, (${finishedSql}) AS __finished FROM batch_jobs WHERE ${ENABLED} AND (? IS NULL OR job_id = ?)`,
        ...finishedArgs,
        onlyJobId ?? null,
        onlyJobId ?? null,
      );
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
          finished: __finished === 1,
          row,
        });
      }
      return out;
    },

    async setJobEnabled(jobId, enabled, pattern) {
      return withTransaction(db, async () => {
        const r = await db.run(
          `UPDATE batch_jobs SET drive_integration_enabled = ?,
             drive_folder_pattern = CASE WHEN ? THEN ? ELSE drive_folder_pattern END
           WHERE job_id = ?`,
          enabled ? 1 : 0,
          pattern !== undefined ? 1 : 0,
          pattern ?? null,
          jobId,
        );
        if (!changed(r)) return false;
        if (!enabled) await db.run("UPDATE batch_jobs SET drive_upload_status = 'not_requested' WHERE job_id = ?", jobId);
        else
          await db.run(
            "UPDATE batch_jobs SET drive_upload_status = 'pending' WHERE job_id = ? AND (drive_upload_status IS NULL OR drive_upload_status = 'not_requested')",
            jobId,
          );
        return true;
      });
    },
  };
}
