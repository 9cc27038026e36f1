import type { FolderStore } from '../store.js';
import { sqlTimestamp, type PgCtx } from './context.js';
import { sql } from './sql.js';

export function pgFolderStore({ q, now }: PgCtx): FolderStore {
  return {
    async getJobFolder(jobId) {
      const r = await q.one<{ drive_folder_id: string | null; drive_folder_url: string | null; folder_path: string | null }>(
        sql`SELECT drive_folder_id, drive_folder_url, folder_path FROM batch_drive_metadata WHERE batch_job_id = ${jobId} AND drive_folder_id IS NOT NULL`,
      );
      return r?.drive_folder_id ? { folderId: r.drive_folder_id, url: r.drive_folder_url, path: r.folder_path } : null;
    },

    async jobsWithFolder() {
      const rows = await q.rows<{ id: string }>(sql`SELECT batch_job_id AS id FROM batch_drive_metadata WHERE drive_folder_id IS NOT NULL`);
      return new Set(rows.map((r) => String(r.id)));
    },

    async saveJobFolder(jobId, f) {
      const ts = sqlTimestamp(now());
      await q.count(sql`
        INSERT INTO batch_drive_metadata (batch_job_id, drive_folder_id, drive_folder_url, folder_path, created_at, updated_at)
        VALUES (${jobId}, ${f.folderId}, ${f.url}, ${f.path}, ${ts}, ${ts})
        ON CONFLICT (batch_job_id) DO UPDATE SET drive_folder_id = excluded.drive_folder_id,
          drive_folder_url = excluded.drive_folder_url, folder_path = excluded.folder_path, updated_at = excluded.updated_at`);
    },

    async getFolder(parentId, name) {
      const r = await q.one<{ id: string }>(sql`SELECT drive_folder_id AS id FROM batch_drive_folders WHERE parent_id = ${parentId} AND name = ${name}`);
      return r?.id ?? null;
    },

    async folderEntry(parentId, name) {
      const r = await q.one<{ id: string; until: string | number | null }>(
        sql`SELECT drive_folder_id AS id, creating_until AS until FROM batch_drive_folders WHERE parent_id = ${parentId} AND name = ${name}`,
      );
      return r ? { id: r.id, creatingUntil: r.until === null ? null : Number(r.until) } : null;
    },

    async claimFolder(parentId, name, id, creatingUntil) {
      // One statement: the insert either records ours or keeps the earlier record, atomically.
      await q.count(sql`INSERT INTO batch_drive_folders (parent_id, name, drive_folder_id, created_at, creating_until)
                        VALUES (${parentId}, ${name}, ${id}, ${sqlTimestamp(now())}, ${creatingUntil ?? null})
                        ON CONFLICT (parent_id, name) DO NOTHING`);
      const r = await q.one<{ id: string }>(sql`SELECT drive_folder_id AS id FROM batch_drive_folders WHERE parent_id = ${parentId} AND name = ${name}`);
      return r?.id ?? id;
    },

    async takeFolderCreation(parentId, name, id, expired, until) {
      const n = await q.count(sql`UPDATE batch_drive_folders SET creating_until = ${until}
                                  WHERE parent_id = ${parentId} AND name = ${name} AND drive_folder_id = ${id} AND creating_until = ${expired}`);
      return n === 1;
    },

    async adoptFolder(parentId, name, reservedId, until, foundId) {
      const n = await q.count(sql`UPDATE batch_drive_folders SET drive_folder_id = ${foundId}, creating_until = NULL
                                  WHERE parent_id = ${parentId} AND name = ${name} AND drive_folder_id = ${reservedId} AND creating_until = ${until}`);
      return n === 1;
    },

    async folderMade(parentId, name, id) {
      await q.count(sql`UPDATE batch_drive_folders SET creating_until = NULL WHERE parent_id = ${parentId} AND name = ${name} AND drive_folder_id = ${id}`);
    },
  };
}
