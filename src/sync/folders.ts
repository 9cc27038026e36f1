import { parseFolderPattern, renderFolderPattern } from '../config/index.js';
import type { EnabledJob, FolderStore } from '../db/index.js';
import type { FolderRegistry } from '../drive/index.js';
import { folderUrl, type SyncContext } from './context.js';

/**
 * Job folder ids already read or made during one drain, by job id: the stored row is read once
 * per job and drain instead of once per file (concurrent files of a job share the one read).
 * The caller forgets a job's entry when one of its uploads fails, so the next file reads the row
 * afresh; a read that fails is forgotten here.
 */
export type KnownJobFolders = Map<string, Promise<string>>;

/**
 * The job's Drive folder id: stored in batch_drive_metadata once made, else rendered from the
 * job's own pattern or drive.folder_pattern and found-or-created level by level.
 */
export function ensureJobFolder(ctx: SyncContext, job: EnabledJob, known?: KnownJobFolders): Promise<string> {
  const hit = known?.get(job.jobId);
  if (hit) return hit;
  const p = readOrMakeJobFolder(ctx, job);
  if (known) {
    known.set(job.jobId, p);
    p.catch(() => {
      if (known.get(job.jobId) === p) known.delete(job.jobId);
    });
  }
  return p;
}

async function readOrMakeJobFolder(ctx: SyncContext, job: EnabledJob): Promise<string> {
  const stored = await ctx.store.getJobFolder(job.jobId);
  if (stored) return stored.folderId;
  const inflight = ctx.jobFolders.get(job.jobId);
  if (inflight) return inflight;
  const p = (async () => {
    const pattern = parseFolderPattern(job.pattern ?? ctx.config.drive.folder_pattern);
    const names = renderFolderPattern(pattern, job.jobId, job.row, new Date(ctx.now()));
    const id = await ctx.drive.ensureFolderPath(ctx.config.drive.root_folder_id, names);
    await ctx.store.saveJobFolder(job.jobId, { folderId: id, url: folderUrl(id), path: names.join('/') });
    ctx.log.info('job folder ready', { job: job.jobId, folder: names.join('/'), drive_id: id });
    return id;
  })();
  ctx.jobFolders.set(job.jobId, p);
  try {
    return await p;
  } finally {
    ctx.jobFolders.delete(job.jobId);
  }
}

/** Parent folder of a file: the job folder, or its mirrored sub-folder for `pages/p-001.png`. */
export async function ensureParentFolder(ctx: SyncContext, jobFolderId: string, relPath: string): Promise<string> {
  const dirs = relPath.split('/').slice(0, -1);
  return dirs.length ? ctx.drive.ensureFolderPath(jobFolderId, dirs) : jobFolderId;
}

/** The Drive client's folder registry on the database's folder table: daemons sharing the database share it. */
export function folderRegistry(store: FolderStore): FolderRegistry {
  return {
    entry: (p, n) => store.folderEntry(p, n),
    claim: (p, n, id, until) => store.claimFolder(p, n, id, until),
    takeOver: (p, n, id, expired, until) => store.takeFolderCreation(p, n, id, expired, until),
    made: (p, n, id) => store.folderMade(p, n, id),
    adopt: (p, n, reserved, until, found) => store.adoptFolder(p, n, reserved, until, found),
  };
}
