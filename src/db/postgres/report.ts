import type { ReportStore } from '../store.js';
import type { JobReport, UploadStatus } from '../types.js';
import { ENABLED, type PgCtx } from './context.js';
import { empty, raw, sql } from './sql.js';
import { pgProgressStore } from './progress.js';

export function pgReportStore(ctx: PgCtx): ReportStore {
  const { q, hasStatusColumn } = ctx;
  return {
    ...pgProgressStore(ctx),
    async report(jobId) {
      const only = jobId === undefined ? sql`${empty}` : sql`AND job_id = ${jobId}`;
      // COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
      const jobs = await q.rows<{ job_id: string; enabled: boolean; status: string | null; dus: string | null }>(sql`
        SELECT job_id, bool_or(${ENABLED}) AS enabled, ${raw(hasStatusColumn ? 'max(status::text)' : 'NULL')} AS status, max(drive_upload_status) AS dus
          FROM batch_jobs
         WHERE (${ENABLED} OR job_id IN (SELECT batch_job_id FROM batch_file_drive_metadata)) ${only}
         GROUP BY job_id ORDER BY job_id COLLATE "C"`);
      const out: JobReport[] = [];
      for (const j of jobs) {
        const counts = { pending: 0, uploading: 0, uploaded: 0, failed: 0 } as Record<UploadStatus, number>;
        const rows = await q.rows<{ s: string; n: number }>(
          sql`SELECT upload_status AS s, count(*) AS n FROM batch_file_drive_metadata WHERE batch_job_id = ${j.job_id} GROUP BY upload_status`,
        );
        for (const r of rows) if (r.s in counts) counts[r.s as UploadStatus] = r.n;
        const errs = await q.rows<{ file: string; status: string; error: string }>(sql`
          SELECT original_filename AS file, upload_status AS status, upload_error AS error FROM batch_file_drive_metadata
           WHERE batch_job_id = ${j.job_id} AND upload_error IS NOT NULL ORDER BY updated_at DESC, id DESC LIMIT 5`);
        const folder = await q.one<{ u: string | null; e: string | null }>(
          sql`SELECT drive_folder_url AS u, job_error AS e FROM batch_drive_metadata WHERE batch_job_id = ${j.job_id}`,
        );
        out.push({
          jobId: j.job_id,
          enabled: j.enabled === true,
          jobStatus: j.status,
          driveUploadStatus: j.dus,
          folderUrl: folder?.u ?? null,
          jobError: folder?.e ?? null,
          counts,
          lastErrors: errs,
        });
      }
      return out;
    },
  };
}
