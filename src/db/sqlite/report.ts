import type { ReportStore } from '../store.js';
import type { JobReport, UploadStatus } from '../types.js';
import { ENABLED, type SqliteCtx } from './context.js';
import { queryActivity, queryFiles, queryProgress } from './progress.js';

export function sqliteReportStore({ db, hasStatusColumn, now }: SqliteCtx): ReportStore {
  const pctx = { db, enabledSql: ENABLED, hasStatusColumn };
  return {
    progress: (q) => queryProgress(pctx, { ...q, now: now() }),
    listFiles: (jobId, status) => queryFiles(db, jobId, status),
    activity: () => queryActivity(pctx, now()),

    async report(jobId) {
      const jobs = await db.all<{ job_id: string; enabled: number; status: string | null; dus: string | null }[]>(
        `SELECT job_id, max(${ENABLED}) AS enabled, ${hasStatusColumn ? 'max(status)' : 'NULL'} AS status, max(drive_upload_status) AS dus
           FROM batch_jobs
          WHERE (? IS NULL OR job_id = ?)
            AND (${ENABLED} OR job_id IN (SELECT batch_job_id FROM batch_file_drive_metadata))
          GROUP BY job_id ORDER BY job_id`,
        jobId ?? null,
        jobId ?? null,
      );
      const out: JobReport[] = [];
      for (const j of jobs) {
        const counts = { pending: 0, uploading: 0, uploaded: 0, failed: 0 } as Record<UploadStatus, number>;
        const rows = await db.all<{ s: string; n: number }[]>(
          'SELECT upload_status AS s, count(*) AS n FROM batch_file_drive_metadata WHERE batch_job_id = ? GROUP BY upload_status',
          j.job_id,
        );
        for (const r of rows) if (r.s in counts) counts[r.s as UploadStatus] = r.n;
        const errs = await db.all<{ file: string; status: string; error: string }[]>(
          `SELECT original_filename AS file, upload_status AS status, upload_error AS error FROM batch_file_drive_metadata
            WHERE batch_job_id = ? AND upload_error IS NOT NULL ORDER BY updated_at DESC, id DESC LIMIT 5`,
          j.job_id,
        );
        const folder = await db.get<{ u: string | null; e: string | null }>(
          'SELECT drive_folder_url AS u, job_error AS e FROM batch_drive_metadata WHERE batch_job_id = ?',
          j.job_id,
        );
        out.push({
          jobId: j.job_id,
          enabled: j.enabled === 1,
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
