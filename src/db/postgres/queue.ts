import type { QueueStore } from '../store.js';
import { FILE_ROW_COLUMNS, type FileRow } from '../types.js';
import { ENABLED_JOB_IDS, sqlTimestamp, type PgCtx } from './context.js';
import { empty, raw, sql } from './sql.js';

const RETURNED = raw(FILE_ROW_COLUMNS.map((c) => `f.${c}`).join(', '));

export function pgQueueStore({ q, now, ownRows }: PgCtx): QueueStore {
  return {
    async claimDue(owner, limit, leaseMs, jobId, minBytes, opts = {}) {
      const { largeFirst, reserveIds } = opts;
      const t = now();
      const jobFilter = sql`${jobId === undefined ? empty : sql`AND batch_job_id = ${jobId}`} ${minBytes === undefined ? empty : sql`AND local_size >= ${minBytes}`}`;
      // The large-file claim (minBytes) takes the oldest one by row.
      const dueOrder = minBytes === undefined ? raw('next_attempt_at') : raw('id');
      // largeFirst: the slot kept for large files is claimed in the same statement (a separate
      // claim cost a statement per free slot that nearly always found nothing). The oldest due
      // large row comes first; the other rows leave it out so it is not counted twice.
      const bigFilter = sql`${jobId === undefined ? empty : sql`AND batch_job_id = ${jobId}`} AND local_size >= ${largeFirst ?? 0}`;
      const big =
        largeFirst === undefined
          ? empty
          : sql`big_expired AS (
          SELECT ctid AS tid FROM batch_file_drive_metadata
           WHERE upload_status = 'uploading' AND lease_until < ${t} ${bigFilter} ${ownRows}
             AND batch_job_id IN (${ENABLED_JOB_IDS})
           ORDER BY lease_until LIMIT 1 FOR UPDATE SKIP LOCKED
        ), big_due AS (
          SELECT ctid AS tid FROM batch_file_drive_metadata
           WHERE upload_status = 'pending' AND next_attempt_at <= ${t} ${bigFilter} ${ownRows}
             AND batch_job_id IN (${ENABLED_JOB_IDS})
           ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
        ), big AS (
          SELECT tid FROM (SELECT tid FROM big_expired UNION ALL SELECT tid FROM big_due) b LIMIT 1
        ),`;
      const notBig = largeFirst === undefined ? empty : raw('WHERE tid NOT IN (SELECT tid FROM big)');
      // reserveIds: a claimed row that has no Drive id yet gets the next of these (by its place in
      // the claim) in this same statement, so the id is durable before any byte without a
      // statement of its own. The rows returned show which ids were taken.
      const reserve = reserveIds?.length
        ? sql`, reserved_drive_id = CASE WHEN f.drive_file_id IS NULL AND f.reserved_drive_id IS NULL
                THEN (${[...reserveIds]}::text[])[picked.rn] ELSE f.reserved_drive_id END`
        : empty;
      // SKIP LOCKED: daemons claiming at the same moment each take other rows instead of
      // waiting for (and then re-checking) the same ones. Each CTE walks its partial index.
      // The rows are joined back by ctid (a direct heap fetch), not by id (a walk of the
      // primary key per row): the row locks taken here keep every picked version current
      // until the UPDATE, and a version that did move fails the join and is simply not claimed.
      return q.rows<FileRow>(sql`
        WITH ${big} expired AS (
          SELECT ctid AS tid FROM batch_file_drive_metadata
           WHERE upload_status = 'uploading' AND lease_until < ${t} ${jobFilter} ${ownRows}
             AND batch_job_id IN (${ENABLED_JOB_IDS})
           ORDER BY lease_until LIMIT ${limit} FOR UPDATE SKIP LOCKED
        ), due AS (
          SELECT ctid AS tid FROM batch_file_drive_metadata
           WHERE upload_status = 'pending' AND next_attempt_at <= ${t} ${jobFilter} ${ownRows}
             AND batch_job_id IN (${ENABLED_JOB_IDS})
           ORDER BY ${dueOrder} LIMIT ${limit} FOR UPDATE SKIP LOCKED
        ), picked AS (
          SELECT tid, row_number() OVER () AS rn FROM (
            SELECT tid FROM (
              ${largeFirst === undefined ? empty : raw('SELECT tid FROM big UNION ALL')}
              SELECT tid FROM expired ${notBig} UNION ALL SELECT tid FROM due ${notBig}) u LIMIT ${limit}) v
        )
        UPDATE batch_file_drive_metadata f
           SET upload_status = 'uploading', attempts = f.attempts + 1, lease_owner = ${owner}, lease_until = ${t + leaseMs},
               updated_at = ${sqlTimestamp(t)}, started_at = coalesce(f.started_at, ${t}::bigint), attempt_started_at = ${t}::bigint,
               attempt_offset = coalesce(f.resumable_offset, 0) ${reserve}
          FROM picked WHERE f.ctid = picked.tid
        RETURNING ${RETURNED}`);
    },

    async extendLease(rowId, owner, leaseMs) {
      return (
        (await q.count(sql`UPDATE batch_file_drive_metadata SET lease_until = ${now() + leaseMs}
                            WHERE id = ${rowId} AND lease_owner = ${owner} AND upload_status = 'uploading'`)) > 0
      );
    },

    async saveReservedId(rowId, owner, driveId) {
      return (
        (await q.count(sql`UPDATE batch_file_drive_metadata SET reserved_drive_id = ${driveId}, updated_at = ${sqlTimestamp(now())}
                            WHERE id = ${rowId} AND lease_owner = ${owner} AND upload_status = 'uploading' AND reserved_drive_id IS NULL`)) > 0
      );
    },

    async saveCheckpoint(rowId, owner, sessionUri, offset, leaseMs) {
      return (
        (await q.count(sql`UPDATE batch_file_drive_metadata
                              SET resumable_session_uri = ${sessionUri}, resumable_offset = ${offset}, lease_until = ${now() + leaseMs}
                            WHERE id = ${rowId} AND lease_owner = ${owner} AND upload_status = 'uploading'`)) > 0
      );
    },

    async markUploaded(rowId, owner, u) {
      const t = now();
      return (
        (await q.count(sql`UPDATE batch_file_drive_metadata
            SET upload_status = 'uploaded', drive_file_id = ${u.driveFileId}, drive_file_url = ${u.fileUrl}, preview_url = ${u.previewUrl},
                local_size = ${u.size}, local_mtime_ms = ${Math.floor(u.mtimeMs)}, local_md5 = ${u.md5}, upload_error = NULL, last_error_reason = NULL,
                resumable_session_uri = NULL, resumable_offset = NULL, lease_owner = NULL, lease_until = NULL,
                uploaded_at = ${t}, updated_at = ${sqlTimestamp(t)}
          WHERE id = ${rowId} AND lease_owner = ${owner} AND upload_status = 'uploading'`)) > 0
      );
    },

    async markRetry(rowId, owner, e) {
      return (
        (await q.count(sql`UPDATE batch_file_drive_metadata
            SET upload_status = 'pending', upload_error = ${e.error}, last_error_reason = ${e.reason}, next_attempt_at = ${e.nextAttemptAt},
                attempts = CASE WHEN ${Boolean(e.refund)} THEN greatest(attempts - 1, 0) ELSE attempts END,
                reserved_drive_id = CASE WHEN reserved_drive_id = ${e.dropReservedId ?? null}::text THEN NULL ELSE reserved_drive_id END,
                lease_owner = NULL, lease_until = NULL, updated_at = ${sqlTimestamp(now())}
          WHERE id = ${rowId} AND lease_owner = ${owner} AND upload_status = 'uploading'`)) > 0
      );
    },

    async markFailed(rowId, owner, e) {
      return (
        (await q.count(sql`UPDATE batch_file_drive_metadata
            SET upload_status = 'failed', upload_error = ${e.error}, last_error_reason = ${e.reason}, lease_owner = NULL, lease_until = NULL,
                updated_at = ${sqlTimestamp(now())},
                reserved_drive_id = CASE WHEN reserved_drive_id = ${e.dropReservedId ?? null}::text THEN NULL ELSE reserved_drive_id END
          WHERE id = ${rowId} AND lease_owner = ${owner} AND upload_status = 'uploading'`)) > 0
      );
    },

    async releaseLeases(owner) {
      const t = now();
      return q.count(sql`UPDATE batch_file_drive_metadata
          SET upload_status = 'pending', attempts = greatest(attempts - 1, 0), next_attempt_at = ${t}, lease_owner = NULL, lease_until = NULL,
              updated_at = ${sqlTimestamp(t)}
        WHERE lease_owner = ${owner} AND upload_status = 'uploading'`);
    },

    async leaseOwners() {
      const rows = await q.rows<{ o: string }>(
        sql`SELECT DISTINCT lease_owner AS o FROM batch_file_drive_metadata WHERE upload_status = 'uploading' AND lease_owner IS NOT NULL`,
      );
      return rows.map((r) => String(r.o));
    },

    async retryFailed(jobId) {
      const t = now();
      const jobFilter = jobId === null ? sql`${empty}` : sql`AND batch_job_id = ${jobId}`;
      return q.count(sql`UPDATE batch_file_drive_metadata
          SET upload_status = 'pending', attempts = 0, next_attempt_at = ${t}, updated_at = ${sqlTimestamp(t)}
        WHERE upload_status = 'failed' ${jobFilter}`);
    },

    async countDue() {
      const t = now();
      const r = await q.one<{ n: number }>(sql`
        SELECT (SELECT count(*) FROM batch_file_drive_metadata WHERE upload_status = 'pending' AND next_attempt_at <= ${t} ${ownRows}
                   AND batch_job_id IN (${ENABLED_JOB_IDS}))
             + (SELECT count(*) FROM batch_file_drive_metadata WHERE upload_status = 'uploading' AND lease_until < ${t} ${ownRows}
                   AND batch_job_id IN (${ENABLED_JOB_IDS})) AS n`);
      return Number(r?.n ?? 0);
    },

    async nextDueAt(jobId) {
      const jobFilter = jobId === undefined ? sql`${empty}` : sql`AND batch_job_id = ${jobId}`;
      const r = await q.one<{ a: number | null; b: number | null }>(sql`
        SELECT (SELECT min(next_attempt_at) FROM batch_file_drive_metadata WHERE upload_status = 'pending' ${jobFilter} ${ownRows}
                   AND batch_job_id IN (${ENABLED_JOB_IDS})) AS a,
               (SELECT min(lease_until) FROM batch_file_drive_metadata WHERE upload_status = 'uploading' ${jobFilter} ${ownRows}
                   AND batch_job_id IN (${ENABLED_JOB_IDS})) AS b`);
      const vals = [r?.a, r?.b].filter((v): v is number => typeof v === 'number');
      return vals.length ? Math.min(...vals) : null;
    },

    async repairSchedules() {
      // Typed columns hold no text; what is left is an `uploading` row without a lease (someone
      // else marked it): give it an expired one so the claim takes it.
      return q.count(sql`UPDATE batch_file_drive_metadata SET lease_until = 0 WHERE upload_status = 'uploading' AND lease_until IS NULL`);
    },
  };
}
