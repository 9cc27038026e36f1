// Values read from a database row are input, not instructions: another program writes that
// table. A stored session URI is used only on our endpoint (it is sent our token), and a stored
// Drive id is written to only when the file there carries this row's appProperties.
import { PermanentDriveError, sessionUriProblem, type DriveFileInfo, type UploadCheckpoint } from '../drive/index.js';
import type { FileRow } from '../db/index.js';
import { fileAppProperties } from './app-properties.js';
import type { SyncContext } from './context.js';

/**
 * The row's stored resumable session, when it is one of Drive's on the configured endpoint for
 * this file; otherwise null (a warning says why, the stored value is dropped, a new session starts).
 */
export async function trustedResume(ctx: SyncContext, row: FileRow, fileId: string): Promise<UploadCheckpoint | null> {
  const uri = row.resumable_session_uri;
  if (uri === null || uri === undefined) return null;
  const problem = typeof uri === 'string' ? sessionUriProblem(ctx.config.drive.api_endpoint, uri, fileId) : 'not text';
  if (problem === null) {
    const offset = Number(row.resumable_offset ?? 0);
    return { sessionUri: uri, offset: Number.isSafeInteger(offset) && offset >= 0 ? offset : 0 };
  }
  ctx.log.warning('stored resumable session URI refused; starting a new session', {
    job: row.batch_job_id,
    file: row.original_filename,
    reason: problem,
    session_uri: String(uri).slice(0, 200),
  });
  await ctx.store.saveCheckpoint(row.id, ctx.owner, null, null, ctx.config.upload.lease_ms);
  return null;
}

/** Throws (permanent, nothing touched) unless `f` is the Drive file this row made: its bdsJob and bdsRow. */
export function assertRowOwnsFile(row: FileRow, f: DriveFileInfo, column: 'drive_file_id' | 'reserved_drive_id'): void {
  const want = fileAppProperties(row.batch_job_id, row.id);
  const got = f.appProperties ?? {};
  if (got.bdsJob === want.bdsJob && got.bdsRow === want.bdsRow) return;
  const seen =
    got.bdsJob === undefined && got.bdsRow === undefined
      ? 'no bdsJob/bdsRow appProperties'
      : `bdsJob=${JSON.stringify(got.bdsJob ?? null)} bdsRow=${JSON.stringify(got.bdsRow ?? null)}`;
  throw new PermanentDriveError(
    `${column} ${f.id} names a Drive file this row did not make (${seen}; expected bdsJob=${JSON.stringify(want.bdsJob)} bdsRow=${JSON.stringify(want.bdsRow)}); refused, nothing on Drive was changed`,
    { reason: 'notOurFile' },
  );
}

/** Before a new revision (files.update) of the row's drive_file_id: the file must be ours. A missing file is left to the update's own 404. */
export async function assertUpdatable(ctx: SyncContext, row: FileRow, fileId: string): Promise<void> {
  const f = await ctx.drive.getFile(fileId);
  if (f) assertRowOwnsFile(row, f, 'drive_file_id');
}
