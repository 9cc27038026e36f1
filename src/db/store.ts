import type { Db } from './open.js';
import { withTransaction } from './open.js';
import { DbError } from './errors.js';
import { jobDriveStatus, type RowCounts } from './job-status.js';
import type { ActivitySummary, FileListing, FileRow, JobDriveStatus, JobFolder, JobReport, Now, ProgressReport, UploadStatus } from './types.js';
import { queryActivity, queryFiles, queryProgress, type ProgressContext } from './progress.js';

/** Everything the sync engine and CLI read and write. Every write is one short statement or transaction. */
export interface UploadStore {
  /** Record a stable local file of an enabled job. 'unchanged' costs nothing downstream. */
  upsertFile(jobId: string, relPath: string, stat: { size: number; mtimeMs: number }): Promise<UpsertResult>;
  /** upsertFile for many files of one job in one transaction (a scan finding a new job's files). */
  upsertFiles(jobId: string, files: readonly { relPath: string; size: number; mtimeMs: number }[]): Promise<UpsertResult[]>;
  /** Claim up to `limit` due rows (pending and due, or uploading with an expired lease) in ONE statement. */
  claimDue(owner: string, limit: number, leaseMs: number, jobId?: string): Promise<FileRow[]>;
  /** Extend a lease we hold; false when the row is no longer ours. */
  extendLease(rowId: number, owner: string, leaseMs: number): Promise<boolean>;
  saveReservedId(rowId: number, owner: string, driveId: string): Promise<boolean>;
  saveCheckpoint(rowId: number, owner: string, sessionUri: string | null, offset: number | null, leaseMs: number): Promise<boolean>;
  markUploaded(
    rowId: number,
    owner: string,
    r: { driveFileId: string; fileUrl: string; previewUrl: string; size: number; mtimeMs: number; md5: string },
  ): Promise<boolean>;
  /** Back to pending with a later next attempt; `refund` gives the attempt back (rate limits, daily cap, shutdown). */
  markRetry(rowId: number, owner: string, e: { error: string; reason: string; nextAttemptAt: number; refund?: boolean }): Promise<boolean>;
  markFailed(rowId: number, owner: string, e: { error: string; reason: string }): Promise<boolean>;
  /** Shutdown: rows we hold go back to pending at once, attempt refunded. */
  releaseLeases(owner: string): Promise<number>;
  /** `retry`: failed rows back to pending. */
  retryFailed(jobId: string | null): Promise<number>;
  /** Recompute batch_jobs.drive_upload_status; returns the change, or null when unchanged. */
  recomputeJobStatus(jobId: string): Promise<{ from: string | null; to: JobDriveStatus } | null>;
  /** Jobs with drive_integration_enabled: id, own pattern, and the whole row for {job.<column>}. */
  listEnabledJobs(onlyJobId?: string): Promise<EnabledJob[]>;
  getJobFolder(jobId: string): Promise<JobFolder | null>;
  /** Folder registry (batch_drive_folders): the id recorded for (parent, name), or null. */
  getFolder(parentId: string, name: string): Promise<string | null>;
  /** Records `id` for (parent, name) unless one is recorded; returns the recorded id (the first wins). */
  claimFolder(parentId: string, name: string, id: string): Promise<string>;
  saveJobFolder(jobId: string, f: JobFolder): Promise<void>;
  setJobEnabled(jobId: string, enabled: boolean, pattern?: string | null): Promise<boolean>;
  report(jobId?: string): Promise<JobReport[]>;
  /** `status`: progress of one job, of every job (`all`), or of the jobs needing attention plus a total of the finished rest. */
  progress(q: { jobId?: string | undefined; all?: boolean | undefined }): Promise<ProgressReport>;
  /** `files`: one job's files, optionally of one status. */
  listFiles(jobId: string, status?: UploadStatus): Promise<FileListing[]>;
  /** Whole-database figures for the systemd status line and the metrics gauges. */
  activity(): Promise<ActivitySummary>;
  countDue(): Promise<number>;
  /** Earliest time a row becomes due (next attempt or lease expiry) for enabled jobs; null when none. */
  nextDueAt(jobId?: string): Promise<number | null>;
  /** What we know of a job's files, for a directory walk that skips unchanged files without writing. */
  fileStats(jobId: string): Promise<Map<string, { size: number | null; mtimeMs: number | null; status: UploadStatus }>>;
  getRow(rowId: number): Promise<FileRow | null>;
  /** Rows written by hand that would never come due: a non-numeric next_attempt_at (pending) or a missing lease (uploading). Returns how many were fixed. */
  repairSchedules(): Promise<number>;
  /** Whether batch_jobs has a `status` column (else every job counts as finished). */
  readonly hasStatusColumn: boolean;
}

export type UpsertResult = 'inserted' | 'requeued' | 'updated' | 'unchanged';

export interface EnabledJob {
  jobId: string;
  pattern: string | null;
  finished: boolean;
  row: Record<string, unknown>;
}

export interface StoreOptions {
  now: Now;
  finalJobStatuses: readonly string[];
}

const ENABLED = "drive_integration_enabled IN (1, '1', 'true', 'TRUE', 'True')";
// In the due/lease queries the job check is written `+batch_job_id IN (…)`: the unary + keeps
// SQLite from driving the query through the job index (a walk of every row of every enabled
// job: seconds at 1 M rows) instead of the small partial due/lease indexes.

/** SQLite's own CURRENT_TIMESTAMP format, so our updated_at matches the seed's defaults. */
export function sqlTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

export async function createStore(db: Db, opts: StoreOptions): Promise<UploadStore> {
  const cols = await db.all<{ name: string }[]>("SELECT name FROM pragma_table_info('batch_jobs')");
  if (cols.length === 0) throw new DbError('database has no table batch_jobs; expected the batch system\'s database (check database.path)', { permanent: true });
  const hasStatusColumn = cols.some((c) => c.name === 'status');
  const finals = [...opts.finalJobStatuses];
  const finishedSql = hasStatusColumn && finals.length ? `status IN (${finals.map(() => '?').join(',')})` : '1';
  const finishedArgs = hasStatusColumn ? finals : [];
  const now = opts.now;
  const progressCtx: ProgressContext = { db, enabledSql: ENABLED, hasStatusColumn };
  const changed = (r: { changes?: number | undefined }) => (r.changes ?? 0) > 0;

  /** Records one stable local file; see UploadStore.upsertFile. */
  async function upsertOne(jobId: string, relPath: string, stat: { size: number; mtimeMs: number }): Promise<UpsertResult> {
    const t = now();
    const ts = sqlTimestamp(t);
    const size = stat.size;
    const mtime = Math.floor(stat.mtimeMs);
    // Three single statements, each atomic; a race between two daemons only changes the label.
    const ins = await db.get(
      `INSERT INTO batch_file_drive_metadata
         (batch_job_id, original_filename, upload_status, local_size, local_mtime_ms, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)
       ON CONFLICT (batch_job_id, original_filename) DO NOTHING RETURNING id`,
      jobId, relPath, size, mtime, t, ts, ts,
    );
    if (ins) return 'inserted';
    // Uploaded or failed, and the file changed since: a new revision of the same Drive file.
    const req = await db.get(
      `UPDATE batch_file_drive_metadata
          SET upload_status = 'pending', attempts = 0, next_attempt_at = ?, upload_error = NULL, last_error_reason = NULL,
              local_size = ?, local_mtime_ms = ?, updated_at = ?, started_at = NULL, attempt_started_at = NULL, attempt_offset = NULL
        WHERE batch_job_id = ? AND original_filename = ? AND upload_status IN ('uploaded', 'failed')
          AND (local_size IS NOT ? OR local_mtime_ms IS NOT ?)
        RETURNING id`,
      t, size, mtime, ts, jobId, relPath, size, mtime,
    );
    if (req) return 'requeued';
    const upd = await db.run(
      `UPDATE batch_file_drive_metadata SET local_size = ?, local_mtime_ms = ?, updated_at = ?
        WHERE batch_job_id = ? AND original_filename = ? AND upload_status = 'pending'
          AND (local_size IS NOT ? OR local_mtime_ms IS NOT ?)`,
      size, mtime, ts, jobId, relPath, size, mtime,
    );
    return changed(upd) ? 'updated' : 'unchanged';
  }

  const store: UploadStore = {
    hasStatusColumn,

    upsertFile: upsertOne,

    async upsertFiles(jobId, files) {
      if (files.length === 0) return [];
      return withTransaction(db, async () => {
        const out: UpsertResult[] = [];
        for (const f of files) out.push(await upsertOne(jobId, f.relPath, f));
        return out;
      });
    },

    async claimDue(owner, limit, leaseMs, jobId) {
      const t = now();
      // The job filter is spliced in only when asked for, so the common query keeps its plan.
      const jobFilter = jobId === undefined ? '' : 'AND batch_job_id = ?';
      const jobArg = jobId === undefined ? [] : [jobId];
      return db.all<FileRow[]>(
        `UPDATE batch_file_drive_metadata
            SET upload_status = 'uploading', attempts = attempts + 1, lease_owner = ?, lease_until = ?, updated_at = ?,
                started_at = coalesce(started_at, ?), attempt_started_at = ?, attempt_offset = coalesce(resumable_offset, 0)
          WHERE id IN (
            SELECT id FROM (
              SELECT id FROM (SELECT id FROM batch_file_drive_metadata
                               WHERE upload_status = 'uploading' AND lease_until < ? ${jobFilter}
                                 AND +batch_job_id IN (SELECT job_id FROM batch_jobs WHERE ${ENABLED})
                               ORDER BY lease_until LIMIT ?)
              UNION ALL
              SELECT id FROM (SELECT id FROM batch_file_drive_metadata
                               WHERE upload_status = 'pending' AND next_attempt_at <= ? ${jobFilter}
                                 AND +batch_job_id IN (SELECT job_id FROM batch_jobs WHERE ${ENABLED})
                               ORDER BY next_attempt_at LIMIT ?)
            ) LIMIT ?)
          RETURNING *`,
        owner, t + leaseMs, sqlTimestamp(t), t, t, t, ...jobArg, limit, t, ...jobArg, limit, limit,
      );
    },

    async extendLease(rowId, owner, leaseMs) {
      const r = await db.run(
        `UPDATE batch_file_drive_metadata SET lease_until = ? WHERE id = ? AND lease_owner = ? AND upload_status = 'uploading'`,
        now() + leaseMs, rowId, owner,
      );
      return changed(r);
    },

    async saveReservedId(rowId, owner, driveId) {
      const r = await db.run(
        `UPDATE batch_file_drive_metadata SET reserved_drive_id = ?, updated_at = ?
          WHERE id = ? AND lease_owner = ? AND upload_status = 'uploading' AND reserved_drive_id IS NULL`,
        driveId, sqlTimestamp(now()), rowId, owner,
      );
      return changed(r);
    },

    async saveCheckpoint(rowId, owner, sessionUri, offset, leaseMs) {
      const t = now();
      const r = await db.run(
        `UPDATE batch_file_drive_metadata SET resumable_session_uri = ?, resumable_offset = ?, lease_until = ?
          WHERE id = ? AND lease_owner = ? AND upload_status = 'uploading'`,
        sessionUri, offset, t + leaseMs, rowId, owner,
      );
      return changed(r);
    },

    async markUploaded(rowId, owner, u) {
      const t = now();
      const r = await db.run(
        `UPDATE batch_file_drive_metadata
            SET upload_status = 'uploaded', drive_file_id = ?, drive_file_url = ?, preview_url = ?,
                local_size = ?, local_mtime_ms = ?, local_md5 = ?, upload_error = NULL, last_error_reason = NULL,
                resumable_session_uri = NULL, resumable_offset = NULL, lease_owner = NULL, lease_until = NULL,
                uploaded_at = ?, updated_at = ?
          WHERE id = ? AND lease_owner = ? AND upload_status = 'uploading'`,
        u.driveFileId, u.fileUrl, u.previewUrl, u.size, Math.floor(u.mtimeMs), u.md5, t, sqlTimestamp(t), rowId, owner,
      );
      return changed(r);
    },

    async markRetry(rowId, owner, e) {
      const r = await db.run(
        `UPDATE batch_file_drive_metadata
            SET upload_status = 'pending', upload_error = ?, last_error_reason = ?, next_attempt_at = ?,
                attempts = CASE WHEN ? THEN max(attempts - 1, 0) ELSE attempts END,
                lease_owner = NULL, lease_until = NULL, updated_at = ?
          WHERE id = ? AND lease_owner = ? AND upload_status = 'uploading'`,
        e.error, e.reason, e.nextAttemptAt, e.refund ? 1 : 0, sqlTimestamp(now()), rowId, owner,
      );
      return changed(r);
    },

    async markFailed(rowId, owner, e) {
      const r = await db.run(
        `UPDATE batch_file_drive_metadata
            SET upload_status = 'failed', upload_error = ?, last_error_reason = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
          WHERE id = ? AND lease_owner = ? AND upload_status = 'uploading'`,
        e.error, e.reason, sqlTimestamp(now()), rowId, owner,
      );
      return changed(r);
    },

    async releaseLeases(owner) {
      const t = now();
      const r = await db.run(
        `UPDATE batch_file_drive_metadata
            SET upload_status = 'pending', attempts = max(attempts - 1, 0), next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
          WHERE lease_owner = ? AND upload_status = 'uploading'`,
        t, sqlTimestamp(t), owner,
      );
      return r.changes ?? 0;
    },

    async retryFailed(jobId) {
      const t = now();
      const r = await db.run(
        `UPDATE batch_file_drive_metadata
            SET upload_status = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?
          WHERE upload_status = 'failed' AND (? IS NULL OR batch_job_id = ?)`,
        t, sqlTimestamp(t), jobId, jobId,
      );
      return r.changes ?? 0;
    },

    async recomputeJobStatus(jobId) {
      return withTransaction(db, async () => {
        const job = await db.get<{ enabled: number; cur: string | null; fin: number }>(
          `SELECT max(${ENABLED}) AS enabled, max(drive_upload_status) AS cur, max(${finishedSql}) AS fin FROM batch_jobs WHERE job_id = ?`,
          ...finishedArgs, jobId,
        );
        if (!job || job.enabled === null) return null;
        const c = await db.get<RowCounts>(
          `SELECT coalesce(sum(upload_status = 'pending'), 0) AS pending, coalesce(sum(upload_status = 'uploading'), 0) AS uploading,
                  coalesce(sum(upload_status = 'uploaded'), 0) AS uploaded, coalesce(sum(upload_status = 'failed'), 0) AS failed
             FROM batch_file_drive_metadata WHERE batch_job_id = ?`,
          jobId,
        );
        const to = jobDriveStatus(job.enabled === 1, c ?? { pending: 0, uploading: 0, uploaded: 0, failed: 0 }, job.fin === 1);
        if (job.cur === to) return null;
        await db.run('UPDATE batch_jobs SET drive_upload_status = ? WHERE job_id = ?', to, jobId);
        return { from: job.cur, to };
      });
    },

    async listEnabledJobs(onlyJobId) {
      const rows = await db.all<Record<string, unknown>[]>(
        `SELECT *, (${finishedSql}) AS __finished FROM batch_jobs WHERE ${ENABLED} AND (? IS NULL OR job_id = ?)`,
        ...finishedArgs, onlyJobId ?? null, onlyJobId ?? null,
      );
      const seen = new Set<string>();
      const out: EnabledJob[] = [];
      for (const r of rows) {
        const jobId = String(r.job_id);
        if (seen.has(jobId)) continue; // job_id need not be unique in a minimal batch_jobs
        seen.add(jobId);
        const { __finished, ...row } = r;
        out.push({ jobId, pattern: typeof r.drive_folder_pattern === 'string' && r.drive_folder_pattern.trim() ? r.drive_folder_pattern : null, finished: __finished === 1, row });
      }
      return out;
    },

    async getJobFolder(jobId) {
      const r = await db.get<{ drive_folder_id: string | null; drive_folder_url: string | null; folder_path: string | null }>(
        'SELECT drive_folder_id, drive_folder_url, folder_path FROM batch_drive_metadata WHERE batch_job_id = ? AND drive_folder_id IS NOT NULL',
        jobId,
      );
      return r?.drive_folder_id ? { folderId: r.drive_folder_id, url: r.drive_folder_url, path: r.folder_path } : null;
    },

    async getFolder(parentId, name) {
      const r = await db.get<{ id: string }>('SELECT drive_folder_id AS id FROM batch_drive_folders WHERE parent_id = ? AND name = ?', parentId, name);
      return r?.id ?? null;
    },

    async claimFolder(parentId, name, id) {
      // One statement: the insert either records ours or keeps the earlier record, atomically.
      await db.run(
        'INSERT INTO batch_drive_folders (parent_id, name, drive_folder_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (parent_id, name) DO NOTHING',
        parentId, name, id, sqlTimestamp(now()),
      );
      const r = await db.get<{ id: string }>('SELECT drive_folder_id AS id FROM batch_drive_folders WHERE parent_id = ? AND name = ?', parentId, name);
      return r?.id ?? id;
    },

    async saveJobFolder(jobId, f) {
      const ts = sqlTimestamp(now());
      await db.run(
        `INSERT INTO batch_drive_metadata (batch_job_id, drive_folder_id, drive_folder_url, folder_path, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (batch_job_id) DO UPDATE SET drive_folder_id = excluded.drive_folder_id,
           drive_folder_url = excluded.drive_folder_url, folder_path = excluded.folder_path, updated_at = excluded.updated_at`,
        jobId, f.folderId, f.url, f.path, ts, ts,
      );
    },

    async setJobEnabled(jobId, enabled, pattern) {
      return withTransaction(db, async () => {
        const r = await db.run(
          `UPDATE batch_jobs SET drive_integration_enabled = ?,
             drive_folder_pattern = CASE WHEN ? THEN ? ELSE drive_folder_pattern END
           WHERE job_id = ?`,
          enabled ? 1 : 0, pattern !== undefined ? 1 : 0, pattern ?? null, jobId,
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

    async report(jobId) {
      const jobs = await db.all<{ job_id: string; enabled: number; status: string | null; dus: string | null }[]>(
        `SELECT job_id, max(${ENABLED}) AS enabled, ${hasStatusColumn ? 'max(status)' : 'NULL'} AS status, max(drive_upload_status) AS dus
           FROM batch_jobs
          WHERE (? IS NULL OR job_id = ?)
            AND (${ENABLED} OR job_id IN (SELECT batch_job_id FROM batch_file_drive_metadata))
          GROUP BY job_id ORDER BY job_id`,
        jobId ?? null, jobId ?? null,
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
        const folder = await db.get<{ u: string | null }>('SELECT drive_folder_url AS u FROM batch_drive_metadata WHERE batch_job_id = ?', j.job_id);
        out.push({
          jobId: j.job_id,
          enabled: j.enabled === 1,
          jobStatus: j.status,
          driveUploadStatus: j.dus,
          folderUrl: folder?.u ?? null,
          counts,
          lastErrors: errs,
        });
      }
      return out;
    },

    progress: (q) => queryProgress(progressCtx, { ...q, now: now() }),
    listFiles: (jobId, status) => queryFiles(db, jobId, status),
    activity: () => queryActivity(progressCtx, now()),

    async countDue() {
      const t = now();
      const r = await db.get<{ n: number }>(
        `SELECT (SELECT count(*) FROM batch_file_drive_metadata WHERE upload_status = 'pending' AND next_attempt_at <= ?
                   AND +batch_job_id IN (SELECT job_id FROM batch_jobs WHERE ${ENABLED}))
              + (SELECT count(*) FROM batch_file_drive_metadata WHERE upload_status = 'uploading' AND lease_until < ?
                   AND +batch_job_id IN (SELECT job_id FROM batch_jobs WHERE ${ENABLED})) AS n`,
        t, t,
      );
      return r?.n ?? 0;
    },

    async nextDueAt(jobId) {
      const jobFilter = jobId === undefined ? '' : 'AND batch_job_id = ?';
      const jobArg = jobId === undefined ? [] : [jobId];
      const r = await db.get<{ a: number | null; b: number | null }>(
        `SELECT (SELECT min(next_attempt_at) FROM batch_file_drive_metadata WHERE upload_status = 'pending' ${jobFilter}
                   AND +batch_job_id IN (SELECT job_id FROM batch_jobs WHERE ${ENABLED})) AS a,
                (SELECT min(lease_until) FROM batch_file_drive_metadata WHERE upload_status = 'uploading' ${jobFilter}
                   AND +batch_job_id IN (SELECT job_id FROM batch_jobs WHERE ${ENABLED})) AS b`,
        ...jobArg, ...jobArg,
      );
      const vals = [r?.a, r?.b].filter((v): v is number => typeof v === 'number');
      return vals.length ? Math.min(...vals) : null;
    },

    async fileStats(jobId) {
      const rows = await db.all<{ f: string; s: number | null; m: number | null; st: UploadStatus }[]>(
        'SELECT original_filename AS f, local_size AS s, local_mtime_ms AS m, upload_status AS st FROM batch_file_drive_metadata WHERE batch_job_id = ?',
        jobId,
      );
      return new Map(rows.map((r) => [r.f, { size: r.s, mtimeMs: r.m, status: r.st }]));
    },

    async repairSchedules() {
      // Text and blobs sort after every number, so `>= ''` finds exactly the non-numeric values
      // (a range on the partial due index; nothing matches normally, so nothing is written).
      const r = await db.run(
        `UPDATE batch_file_drive_metadata SET next_attempt_at = ? WHERE upload_status = 'pending' AND next_attempt_at >= ''`,
        now(),
      );
      // A row someone else marked `uploading` without a lease (NULL, or text) would never expire:
      // give it an expired one so the claim takes it (the partial lease index finds these too).
      const l = await db.run(
        `UPDATE batch_file_drive_metadata SET lease_until = 0 WHERE upload_status = 'uploading' AND (lease_until IS NULL OR lease_until >= '')`,
      );
      return (r.changes ?? 0) + (l.changes ?? 0);
    },

    async getRow(rowId) {
      return (await db.get<FileRow>('SELECT * FROM batch_file_drive_metadata WHERE id = ?', rowId)) ?? null;
    },
  };
  return serialized(store);
}

/**
 * One connection is shared by every worker; a transaction on it would swallow (and on rollback
 * undo) statements other workers issue meanwhile. So store calls run one at a time: each is a
 * few hundred microseconds, far below the network time they sit between.
 */
function serialized(store: UploadStore): UploadStore {
  let tail: Promise<unknown> = Promise.resolve();
  const out: Record<string, unknown> = { hasStatusColumn: store.hasStatusColumn };
  for (const [k, v] of Object.entries(store)) {
    if (typeof v !== 'function') continue;
    out[k] = (...args: unknown[]) => {
      const run = tail.then(() => (v as (...a: unknown[]) => Promise<unknown>).apply(store, args));
      tail = run.catch(() => undefined);
      return run;
    };
  }
  return out as unknown as UploadStore;
}
