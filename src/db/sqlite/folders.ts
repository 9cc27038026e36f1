import type { FolderStore } from '../store.js';
import { sqlTimestamp, type SqliteCtx } from './context.js';

export function sqliteFolderStore({ db, hot, now }: SqliteCtx): FolderStore {
  return {
    async getJobFolder(jobId) {
      // all, not get: a cached statement stepped to its end leaves no read transaction open.
      const [r] = await hot.all<{ drive_folder_id: string | null; drive_folder_url: string | null; folder_path: string | null }>(
        'SELECT drive_folder_id, drive_folder_url, folder_path FROM batch_drive_metadata WHERE batch_job_id = ? AND drive_folder_id IS NOT NULL',
        jobId,
      );
      return r?.drive_folder_id ? { folderId: r.drive_folder_id, url: r.drive_folder_url, path: r.folder_path } : null;
    },

    async jobsWithFolder() {
      const rows = await db.all<{ id: string }[]>('SELECT batch_job_id AS id FROM batch_drive_metadata WHERE drive_folder_id IS NOT NULL');
      return new Set(rows.map((r) => String(r.id)));
    },

    async saveJobFolder(jobId, f) {
      const ts = sqlTimestamp(now());
      await db.run(
        `INSERT INTO batch_drive_metadata (batch_job_id, drive_folder_id, drive_folder_url, folder_path, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (batch_job_id) DO UPDATE SET drive_folder_id = excluded.drive_folder_id,
           drive_folder_url = excluded.drive_folder_url, folder_path = excluded.folder_path, updated_at = excluded.updated_at`,
        jobId,
        f.folderId,
        f.url,
        f.path,
        ts,
        ts,
      );
    },

    async getFolder(parentId, name) {
      const r = await db.get<{ id: string }>('SELECT drive_folder_id AS id FROM batch_drive_folders WHERE parent_id = ? AND name = ?', parentId, name);
      return r?.id ?? null;
    },

    async folderEntry(parentId, name) {
      const r = await db.get<{ id: string; until: number | null }>(
        'SELECT drive_folder_id AS id, creating_until AS until FROM batch_drive_folders WHERE parent_id = ? AND name = ?',
        parentId,
        name,
      );
      return r ? { id: r.id, creatingUntil: r.until === null ? null : Number(r.until) } : null;
    },

    async claimFolder(parentId, name, id, creatingUntil) {
      // One statement: the insert either records ours or keeps the earlier record, atomically.
      await db.run(
        'INSERT INTO batch_drive_folders (parent_id, name, drive_folder_id, created_at, creating_until) VALUES (?, ?, ?, ?, ?) ON CONFLICT (parent_id, name) DO NOTHING',
        parentId,
        name,
        id,
        sqlTimestamp(now()),
        creatingUntil ?? null,
      );
      const r = await db.get<{ id: string }>('SELECT drive_folder_id AS id FROM batch_drive_folders WHERE parent_id = ? AND name = ?', parentId, name);
      return r?.id ?? id;
    },

    async takeFolderCreation(parentId, name, id, expired, until) {
      const r = await db.run(
        'UPDATE batch_drive_folders SET creating_until = ? WHERE parent_id = ? AND name = ? AND drive_folder_id = ? AND creating_until = ?',
        until,
        parentId,
        name,
        id,
        expired,
      );
      return (r.changes ?? 0) === 1;
    },

    async adoptFolder(parentId, name, reservedId, until, foundId) {
      const r = await db.run(
        'UPDATE batch_drive_folders SET drive_folder_id = ?, creating_until = NULL WHERE parent_id = ? AND name = ? AND drive_folder_id = ? AND creating_until = ?',
        foundId,
        parentId,
        name,
        reservedId,
        until,
      );
      return (r.changes ?? 0) === 1;
    },

    async folderMade(parentId, name, id) {
      await db.run('UPDATE batch_drive_folders SET creating_until = NULL WHERE parent_id = ? AND name = ? AND drive_folder_id = ?', parentId, name, id);
    },
  };
}
