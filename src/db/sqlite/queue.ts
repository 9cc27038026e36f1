import type { QueueStore } from '../store.js';
import { FILE_ROW_COLUMNS, type FileRow } from '../types.js';
import { changed, ENABLED_JOB_IDS, sqlTimestamp, type SqliteCtx } from './context.js';

// In the due/lease queries the job check is written `+batch_job_id IN (…)`: the unary + keeps
// SQLite from driving the query through the job index (a walk of every row of every enabled
// job: seconds at 1 M rows) instead of the small partial due/lease indexes.
export function sqliteQueueStore({ db, hot, now, ownRows, ownArgs }: SqliteCtx): QueueStore {
  return {
    async claimDue(owner, limit, leaseMs, jobId, minBytes, opts = {}) {
      const { largeFirst, reserveIds } = opts;
      const t = now();
      // The job and size filters are spliced in only when asked for, so the common query keeps its plan.
      const jobFilter = `${jobId === undefined ? '' : 'AND batch_job_id = ?'} ${minBytes === undefined ? '' : 'AND local_size >= ?'} ${ownRows}`;
      const jobArg = [...(jobId === undefined ? [] : [jobId]), ...(minBytes === undefined ? [] : [minBytes]), ...ownArgs];
      // The large-file claim takes the oldest one (by row id), found through the pending-size index.
      const pendingOrder = minBytes === undefined ? 'next_attempt_at' : 'id';
      const expired = (filter: string, n: string) =>
        `SELECT id FROM batch_file_drive_metadata
          WHERE upload_status = 'uploading' AND lease_until < ? ${filter}
            AND +batch_job_id IN (${ENABLED_JOB_IDS})
          ORDER BY lease_until LIMIT ${n}`;
      const pending = (filter: string, order: string, n: string) =>
        `SELECT id FROM batch_file_drive_metadata
          WHERE upload_status = 'pending' AND next_attempt_at <= ? ${filter}
            AND +batch_job_id IN (${ENABLED_JOB_IDS})
          ORDER BY ${order} LIMIT ${n}`;
      // largeFirst: the slot kept for large files is claimed in the same statement (a separate
      // claim cost a statement per free slot that nearly always found nothing). The oldest due
      // large row comes first; the other rows, in due order, leave it out so it is not counted twice.
      const bigFilter = `${jobId === undefined ? '' : 'AND batch_job_id = ?'} AND local_size >= ? ${ownRows}`;
      const bigArg = largeFirst === undefined ? [] : [...(jobId === undefined ? [] : [jobId]), largeFirst, ...ownArgs];
      const big =
        largeFirst === undefined
          ? ''
          : `big AS MATERIALIZED (SELECT id FROM (SELECT id FROM (${expired(bigFilter, '1')}) UNION ALL SELECT id FROM (${pending(bigFilter, 'id', '1')})) LIMIT 1),`;
      const notBig = largeFirst === undefined ? '' : 'WHERE id NOT IN big';
      // reserveIds: a claimed row that has no Drive id yet gets the next of these (by its place in
      // the claim) in this same statement, so the id is durable before any byte without a
      // statement of its own. The rows returned show which ids were taken.
      const reserve = reserveIds?.length
        ? `, reserved_drive_id = CASE WHEN drive_file_id IS NULL AND reserved_drive_id IS NULL
              THEN json_extract(?, '$[' || ((SELECT rn FROM picked WHERE picked.id = batch_file_drive_metadata.id) - 1) || ']')
              ELSE reserved_drive_id END`
        : '';
      return hot.all<FileRow>(
        `WITH ${big} picked AS MATERIALIZED (
           SELECT id, row_number() OVER () AS rn FROM (
             SELECT id FROM (
               ${largeFirst === undefined ? '' : 'SELECT id FROM big UNION ALL'}
               SELECT id FROM (${expired(jobFilter, '?')}) ${notBig}
               UNION ALL
               SELECT id FROM (${pending(jobFilter, pendingOrder, '?')}) ${notBig}
             ) LIMIT ?))
         UPDATE batch_file_drive_metadata
            SET upload_status = 'uploading', attempts = attempts + 1, lease_owner = ?, lease_until = ?, updated_at = ?,
                started_at = coalesce(started_at, ?), attempt_started_at = ?, attempt_offset = coalesce(resumable_offset, 0) ${reserve}
          WHERE id IN (SELECT id FROM picked)
          RETURNING ${FILE_ROW_COLUMNS.join(', ')}`,
        ...(largeFirst === undefined ? [] : [t, ...bigArg, t, ...bigArg]),
        t,
        ...jobArg,
        limit,
        t,
        ...jobArg,
        limit,
        limit,
        owner,
        t + leaseMs,
        sqlTimestamp(t),
        t,
        t,
        ...(reserve ? [JSON.stringify(reserveIds)] : []),
      );
    },

    async extendLease(rowId, owner, leaseMs) {
      const r = await hot.run(
        `UPDATE batch_file_drive_metadata SET lease_until = ? WHERE id = ? AND lease_owner = ? AND upload_status = 'uploading'`,
        now() + leaseMs,
        rowId,
        owner,
      );
      return changed(r);
    },

    async saveReservedId(rowId, owner, driveId) {
      const r = await hot.run(
        `UPDATE batch_file_drive_metadata SET reserved_drive_id = ?, updated_at = ?
          WHERE id = ? AND lease_owner = ? AND upload_status = 'uploading' AND reserved_drive_id IS NULL`,
        driveId,
        sqlTimestamp(now()),
        rowId,
        owner,
      );
      return changed(r);
    },

    async saveCheckpoint(rowId, owner, sessionUri, offset, leaseMs) {
      const t = now();
      const r = await hot.run(
        `UPDATE batch_file_drive_metadata SET resumable_session_uri = ?, resumable_offset = ?, lease_until = ?
          WHERE id = ? AND lease_owner = ? AND upload_status = 'uploading'`,
        sessionUri,
        offset,
        t + leaseMs,
        rowId,
        owner,
      );
      return changed(r);
    },

    async markUploaded(rowId, owner, u) {
      const t = now();
      const r = await hot.run(
        `UPDATE batch_file_drive_metadata
            SET upload_status = 'uploaded', drive_file_id = ?, drive_file_url = ?, preview_url = ?,
                local_size = ?, local_mtime_ms = ?, local_md5 = ?, upload_error = NULL, last_error_reason = NULL,
                resumable_session_uri = NULL, resumable_offset = NULL, lease_owner = NULL, lease_until = NULL,
                uploaded_at = ?, updated_at = ?
          WHERE id = ? AND lease_owner = ? AND upload_status = 'uploading'`,
        u.driveFileId,
        u.fileUrl,
        u.previewUrl,
        u.size,
        Math.floor(u.mtimeMs),
        u.md5,
        t,
        sqlTimestamp(t),
        rowId,
        owner,
      );
      return changed(r);
    },

    async markRetry(rowId, owner, e) {
      const r = await hot.run(
        `UPDATE batch_file_drive_metadata
            SET upload_status = 'pending', upload_error = ?, last_error_reason = ?, next_attempt_at = ?,
                attempts = CASE WHEN ? THEN max(attempts - 1, 0) ELSE attempts END,
                reserved_drive_id = CASE WHEN reserved_drive_id = ? THEN NULL ELSE reserved_drive_id END,
                lease_owner = NULL, lease_until = NULL, updated_at = ?
          WHERE id = ? AND lease_owner = ? AND upload_status = 'uploading'`,
        e.error,
        e.reason,
        e.nextAttemptAt,
        e.refund ? 1 : 0,
        e.dropReservedId ?? null,
        sqlTimestamp(now()),
        rowId,
        owner,
      );
      return changed(r);
    },

    async markFailed(rowId, owner, e) {
      const r = await hot.run(
        `UPDATE batch_file_drive_metadata
            SET upload_status = 'failed', upload_error = ?, last_error_reason = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?,
                reserved_drive_id = CASE WHEN reserved_drive_id = ? THEN NULL ELSE reserved_drive_id END
          WHERE id = ? AND lease_owner = ? AND upload_status = 'uploading'`,
        e.error,
        e.reason,
        sqlTimestamp(now()),
        e.dropReservedId ?? null,
        rowId,
        owner,
      );
      return changed(r);
    },

    async releaseLeases(owner) {
      const t = now();
      const r = await db.run(
        `UPDATE batch_file_drive_metadata
            SET upload_status = 'pending', attempts = max(attempts - 1, 0), next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
          WHERE lease_owner = ? AND upload_status = 'uploading'`,
        t,
        sqlTimestamp(t),
        owner,
      );
      return r.changes ?? 0;
    },

    async leaseOwners() {
      const rows = await db.all<{ o: string }[]>(
        `SELECT DISTINCT lease_owner AS o FROM batch_file_drive_metadata WHERE upload_status = 'uploading' AND lease_owner IS NOT NULL`,
      );
      return rows.map((r) => String(r.o));
    },

    async retryFailed(jobId) {
      const t = now();
      const r = await db.run(
        `UPDATE batch_file_drive_metadata
            SET upload_status = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?
          WHERE upload_status = 'failed' AND (? IS NULL OR batch_job_id = ?)`,
        t,
        sqlTimestamp(t),
        jobId,
        jobId,
      );
      return r.changes ?? 0;
    },

    async countDue() {
      const t = now();
      const r = await db.get<{ n: number }>(
        `SELECT (SELECT count(*) FROM batch_file_drive_metadata WHERE upload_status = 'pending' AND next_attempt_at <= ? ${ownRows}
                   AND +batch_job_id IN (${ENABLED_JOB_IDS}))
              + (SELECT count(*) FROM batch_file_drive_metadata WHERE upload_status = 'uploading' AND lease_until < ? ${ownRows}
                   AND +batch_job_id IN (${ENABLED_JOB_IDS})) AS n`,
        t,
        ...ownArgs,
        t,
        ...ownArgs,
      );
      return r?.n ?? 0;
    },

    async nextDueAt(jobId) {
      const jobFilter = `${jobId === undefined ? '' : 'AND batch_job_id = ?'} ${ownRows}`;
      const jobArg = [...(jobId === undefined ? [] : [jobId]), ...ownArgs];
      const r = await db.get<{ a: number | null; b: number | null }>(
        `SELECT (SELECT min(next_attempt_at) FROM batch_file_drive_metadata WHERE upload_status = 'pending' ${jobFilter}
                   AND +batch_job_id IN (${ENABLED_JOB_IDS})) AS a,
                (SELECT min(lease_until) FROM batch_file_drive_metadata WHERE upload_status = 'uploading' ${jobFilter}
                   AND +batch_job_id IN (${ENABLED_JOB_IDS})) AS b`,
        ...jobArg,
        ...jobArg,
      );
      const vals = [r?.a, r?.b].filter((v): v is number => typeof v === 'number');
      return vals.length ? Math.min(...vals) : null;
    },

    async repairSchedules() {
      // Text and blobs sort after every number, so `>= ''` finds exactly the non-numeric values
      // (a range on the partial due index; nothing matches normally, so nothing is written).
      const r = await db.run(`UPDATE batch_file_drive_metadata SET next_attempt_at = ? WHERE upload_status = 'pending' AND next_attempt_at >= ''`, now());
      // A row someone else marked `uploading` without a lease (NULL, or text) would never expire:
      // give it an expired one so the claim takes it (the partial lease index finds these too).
      const l = await db.run(
        `UPDATE batch_file_drive_metadata SET lease_until = 0 WHERE upload_status = 'uploading' AND (lease_until IS NULL OR lease_until >= '')`,
      );
      return (r.changes ?? 0) + (l.changes ?? 0);
    },
  };
}
