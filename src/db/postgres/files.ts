import type { FileStore, UpsertResult } from '../store.js';
import type { FileRow, UploadStatus } from '../types.js';
import type { PgQ } from './connect.js';
import { sqlTimestamp, type PgCtx } from './context.js';
import { sql } from './sql.js';

export function pgFileStore({ conn, q, now, nodeName }: PgCtx): FileStore {
  /** Records one stable local file; see FileStore.upsertFile. */
  async function upsertOne(db: PgQ, jobId: string, relPath: string, stat: { size: number; mtimeMs: number }): Promise<UpsertResult> {
    const t = now();
    const ts = sqlTimestamp(t);
    const size = stat.size;
    const mtime = Math.floor(stat.mtimeMs);
    // Three single statements, each atomic; a race between two daemons only changes the label.
    const ins = await db.one(sql`
      INSERT INTO batch_file_drive_metadata
        (batch_job_id, original_filename, upload_status, local_size, local_mtime_ms, next_attempt_at, found_by_node, created_at, updated_at)
      VALUES (${jobId}, ${relPath}, 'pending', ${size}, ${mtime}, ${t}, ${nodeName}, ${ts}, ${ts})
      ON CONFLICT (batch_job_id, original_filename) DO NOTHING RETURNING id`);
    if (ins) return 'inserted';
    // Uploaded or failed, and the file changed since: a new revision of the same Drive file.
    const req = await db.one(sql`
      UPDATE batch_file_drive_metadata
         SET upload_status = 'pending', attempts = 0, next_attempt_at = ${t}, upload_error = NULL, last_error_reason = NULL,
             local_size = ${size}, local_mtime_ms = ${mtime}, found_by_node = coalesce(found_by_node, ${nodeName}), updated_at = ${ts},
             started_at = NULL, attempt_started_at = NULL, attempt_offset = NULL
       WHERE batch_job_id = ${jobId} AND original_filename = ${relPath} AND upload_status IN ('uploaded', 'failed')
         AND (local_size IS DISTINCT FROM ${size} OR local_mtime_ms IS DISTINCT FROM ${mtime})
       RETURNING id`);
    if (req) return 'requeued';
    // A pending row: the file grew, or the batch system inserted the row (no size yet, no
    // finder: the first daemon that sees the file adopts it).
    const upd = await db.count(sql`
      UPDATE batch_file_drive_metadata
         SET local_size = ${size}, local_mtime_ms = ${mtime}, found_by_node = coalesce(found_by_node, ${nodeName}), updated_at = ${ts}
       WHERE batch_job_id = ${jobId} AND original_filename = ${relPath} AND upload_status = 'pending'
         AND (local_size IS DISTINCT FROM ${size} OR local_mtime_ms IS DISTINCT FROM ${mtime})`);
    return upd > 0 ? 'updated' : 'unchanged';
  }

  return {
    upsertFile: (jobId, relPath, stat) => upsertOne(q, jobId, relPath, stat),

    async upsertFiles(jobId, files) {
      if (files.length === 0) return [];
      return conn.tx(async (tx) => {
        const out: UpsertResult[] = [];
        for (const f of files) out.push(await upsertOne(tx, jobId, f.relPath, f));
        return out;
      });
    },

    async fileStats(jobId) {
      const rows = await q.rows<{ f: string; s: number | null; m: number | null; st: UploadStatus }>(
        sql`SELECT original_filename AS f, local_size AS s, local_mtime_ms AS m, upload_status AS st FROM batch_file_drive_metadata WHERE batch_job_id = ${jobId}`,
      );
      return new Map(rows.map((r) => [r.f, { size: r.s, mtimeMs: r.m, status: r.st }]));
    },

    async getRow(rowId) {
      return (await q.one<FileRow>(sql`SELECT * FROM batch_file_drive_metadata WHERE id = ${rowId}`)) ?? null;
    },
  };
}
