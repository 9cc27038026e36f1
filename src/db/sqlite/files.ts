import { withTransaction } from '../open.js';
import type { FileStore, UpsertResult } from '../store.js';
import type { FileRow, UploadStatus } from '../types.js';
import { changed, sqlTimestamp, type SqliteCtx } from './context.js';

/** Files per bulk INSERT: one statement for a usual job, a bounded parameter for a huge one. */
const BULK_ROWS = 5000;

export function sqliteFileStore({ db, now, nodeName }: SqliteCtx): FileStore {
  /** Records one stable local file; see FileStore.upsertFile. */
  async function upsertOne(jobId: string, relPath: string, stat: { size: number; mtimeMs: number }): Promise<UpsertResult> {
    const t = now();
    const ts = sqlTimestamp(t);
    const size = stat.size;
    const mtime = Math.floor(stat.mtimeMs);
    // Three single statements, each atomic; a race between two daemons only changes the label.
    const ins = await db.get(
      `INSERT INTO batch_file_drive_metadata
         (batch_job_id, original_filename, upload_status, local_size, local_mtime_ms, next_attempt_at, found_by_node, created_at, updated_at)
       VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)
       ON CONFLICT (batch_job_id, original_filename) DO NOTHING RETURNING id`,
      jobId,
      relPath,
      size,
      mtime,
      t,
      nodeName,
      ts,
      ts,
    );
    if (ins) return 'inserted';
    // Uploaded or failed, and the file changed since: a new revision of the same Drive file.
    const req = await db.get(
      `UPDATE batch_file_drive_metadata
          SET upload_status = 'pending', attempts = 0, next_attempt_at = ?, upload_error = NULL, last_error_reason = NULL,
              local_size = ?, local_mtime_ms = ?, found_by_node = coalesce(found_by_node, ?), updated_at = ?,
              started_at = NULL, attempt_started_at = NULL, attempt_offset = NULL
        WHERE batch_job_id = ? AND original_filename = ? AND upload_status IN ('uploaded', 'failed')
          AND (local_size IS NOT ? OR local_mtime_ms IS NOT ?)
        RETURNING id`,
      t,
      size,
      mtime,
      nodeName,
      ts,
      jobId,
      relPath,
      size,
      mtime,
    );
    if (req) return 'requeued';
    // A pending row: the file grew, or the batch system inserted the row (no size yet, no
    // finder: the first daemon that sees the file adopts it).
    const upd = await db.run(
      `UPDATE batch_file_drive_metadata SET local_size = ?, local_mtime_ms = ?, found_by_node = coalesce(found_by_node, ?), updated_at = ?,
              started_at = NULL, attempt_started_at = NULL, attempt_offset = NULL
        WHERE batch_job_id = ? AND original_filename = ? AND upload_status = 'pending'
          AND (local_size IS NOT ? OR local_mtime_ms IS NOT ?)`,
      size,
      mtime,
      nodeName,
      ts,
      jobId,
      relPath,
      size,
      mtime,
    );
    return changed(upd) ? 'updated' : 'unchanged';
  }

  return {
    upsertFile: upsertOne,

    async upsertFiles(jobId, files) {
      if (files.length === 0) return [];
      return withTransaction(db, async () => {
        // Most files a scan hands over are new (a job's first walk): insert them in bulk, the
        // files passed as one JSON parameter (binding seven parameters a row cost more than the
        // insert itself); those already known fall back to upsertOne, which requeues or updates them.
        const inserted = new Set<string>();
        const t = now();
        const ts = sqlTimestamp(t);
        for (let i = 0; i < files.length; i += BULK_ROWS) {
          const part = files.slice(i, i + BULK_ROWS).map((f) => [f.relPath, f.size, Math.floor(f.mtimeMs)]);
          const rows = await db.all<{ f: string }[]>(
            `INSERT INTO batch_file_drive_metadata
               (batch_job_id, original_filename, upload_status, local_size, local_mtime_ms, next_attempt_at, found_by_node, created_at, updated_at)
             SELECT ?1, value ->> 0, 'pending', value ->> 1, value ->> 2, ?2, ?3, ?4, ?4 FROM json_each(?5) WHERE true
             ON CONFLICT (batch_job_id, original_filename) DO NOTHING RETURNING original_filename AS f`,
            jobId,
            t,
            nodeName,
            ts,
            JSON.stringify(part),
          );
          for (const r of rows) inserted.add(r.f);
        }
        const out: UpsertResult[] = [];
        for (const f of files) {
          // delete(): a path listed twice counts as inserted once.
          out.push(inserted.delete(f.relPath) ? 'inserted' : await upsertOne(jobId, f.relPath, f));
        }
        return out;
      });
    },

    async fileStats(jobId) {
      const rows = await db.all<{ f: string; s: number | null; m: number | null; st: UploadStatus }[]>(
        'SELECT original_filename AS f, local_size AS s, local_mtime_ms AS m, upload_status AS st FROM batch_file_drive_metadata WHERE batch_job_id = ?',
        jobId,
      );
      return new Map(rows.map((r) => [r.f, { size: r.s, mtimeMs: r.m, status: r.st }]));
    },

    async getRow(rowId) {
      return (await db.get<FileRow>('SELECT * FROM batch_file_drive_metadata WHERE id = ?', rowId)) ?? null;
    },
  };
}
