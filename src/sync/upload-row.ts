import { basename } from 'node:path';
import { retryDelayMs } from '../drive/index.js';
import { configSecrets } from '../config/index.js';
import { redactText } from '../log/index.js';
import type { EnabledJob, FileRow } from '../db/index.js';
import { openJobFile, type LocalFile } from '../local/index.js';
import { fileAppProperties } from './app-properties.js';
import { fileUrl, previewUrl, uploadsPausedUntil, type SyncContext } from './context.js';
import { ensureJobFolder, ensureParentFolder, type KnownJobFolders } from './folders.js';
import { decide } from './outcome.js';
import { resumableProgressLog } from './progress-log.js';
import { assertRowOwnsFile, assertUpdatable, trustedResume } from './row-trust.js';

export type RowResult = 'uploaded' | 'failed' | 'retry' | 'paused' | 'lost';

/** Another worker took the row (its lease): not an error of the row, the upload just stops. */
class LeaseLost extends Error {
  override readonly name = 'LeaseLost';
}

/**
 * Uploads one claimed row and records the outcome. Never throws: every error becomes a row state.
 * Exactly once: the Drive id is reserved and stored before the first byte, so any retry or
 * restart re-sends to the same id and Drive answers 409 instead of keeping a duplicate.
 */
export interface UploadRowOptions {
  /** The drain's job folder ids (folders.ts). */
  folders?: KnownJobFolders | undefined;
  /**
   * An id the claim itself stored as the row's reserved_drive_id (fresh from the pool: no byte was
   * ever sent with it), passed with the row's reserved_drive_id left null: the upload uses it
   * without a statement of its own and without asking Drive whether it already holds the file.
   * If this attempt ends before any byte was sent with it, it is cleared again with the outcome.
   */
  reservedId?: string | undefined;
}

export async function uploadRow(
  ctx: SyncContext,
  row: FileRow,
  job: EnabledJob | undefined,
  shutdown: AbortSignal,
  opts: UploadRowOptions = {},
): Promise<RowResult> {
  // The lease is renewed while we work (a wait for the write pacer can outlast it); if another
  // worker took the row meanwhile, this upload stops at once.
  const rowAbort = new AbortController();
  const onShutdown = () => rowAbort.abort('shutdown');
  shutdown.addEventListener('abort', onShutdown, { once: true });
  if (shutdown.aborted) rowAbort.abort('shutdown');
  const renew = setInterval(
    () => {
      ctx.store
        .extendLease(row.id, ctx.owner, ctx.config.upload.lease_ms)
        .then((held) => {
          if (!held) rowAbort.abort('lease lost');
        })
        .catch(() => undefined); // a busy database: the next tick tries again
    },
    Math.max(1000, Math.floor(ctx.config.upload.lease_ms / 3)),
  );
  try {
    return await uploadRowLeased(ctx, row, job, rowAbort.signal, opts);
  } finally {
    clearInterval(renew);
    shutdown.removeEventListener('abort', onShutdown);
  }
}

async function uploadRowLeased(
  ctx: SyncContext,
  row: FileRow,
  job: EnabledJob | undefined,
  signal: AbortSignal,
  { folders, reservedId }: UploadRowOptions,
): Promise<RowResult> {
  const { store, log, owner } = ctx;
  const cfg = ctx.config;
  const started = ctx.now();
  const meta = { job: row.batch_job_id, file: row.original_filename, attempt: row.attempts };
  let bytes = row.local_size ?? 0;
  if (!job) return jobDisabled(ctx, row, reservedId);
  // Set just before the first byte could go out with the row's id: until then a reserved id the
  // claim stored can be cleared again (no file on Drive can carry it).
  let sending = false;
  // Opened (and checked) once per attempt; every byte of this attempt is read through it.
  let local: LocalFile | null = null;
  try {
    local = await openJobFile(cfg.watch.output_dir, row.batch_job_id, row.original_filename, ctx.jobDirs);
    bytes = local.size;
    // A file modified moments ago may still be written (e.g. a row the batch system inserted
    // before closing the file): wait until it has been still for stability_ms.
    // An mtime more than a minute ahead is clock skew (e.g. a network file system), not a writer.
    const quietAt = local.mtimeMs + cfg.watch.stability_ms;
    if (quietAt > ctx.now() && local.mtimeMs < ctx.now() + 60_000) {
      await store.markRetry(row.id, owner, {
        error: 'file still being written',
        reason: 'local:unstable',
        nextAttemptAt: Math.ceil(quietAt) + 50,
        refund: true,
        dropReservedId: reservedId,
      });
      return 'paused';
    }
    const jobFolderId = await ensureJobFolder(ctx, job, folders);
    // The stored job folder id is input: nothing is made or uploaded in it unless it lies under
    // the root folder (sub-folders are checked against their parent as they are resolved).
    await ctx.drive.assertInsideRoot(jobFolderId);
    const parentId = await ensureParentFolder(ctx, jobFolderId, row.original_filename);
    let fileId = row.drive_file_id ?? row.reserved_drive_id ?? reservedId ?? null;
    if (!fileId) {
      const [id] = await ctx.drive.reserveIds(1);
      if (!id) throw new Error('files.generateIds returned no id');
      if (!(await store.saveReservedId(row.id, owner, id))) return lostLease(ctx, row);
      fileId = id;
    }
    // Ids and session URIs in the row are input: checked before any use (row-trust.ts).
    const resume = await trustedResume(ctx, row, fileId);
    if (row.drive_file_id) await assertUpdatable(ctx, row, fileId);
    const progress = resumableProgressLog(ctx, row, local.size);
    sending = true;
    const res = await ctx.drive.upload({
      fileId,
      name: basename(row.original_filename),
      parentId,
      file: local,
      appProperties: fileAppProperties(row.batch_job_id, row.id),
      mode: row.drive_file_id ? 'update' : 'create',
      // An id reserved by an earlier attempt may already hold the file: ask before re-sending.
      maybeExists: !row.drive_file_id && row.reserved_drive_id !== null && !resume,
      resume,
      verifyExisting: (f) => assertRowOwnsFile(row, f, 'reserved_drive_id'),
      onCheckpoint: async (cp) => {
        if (!(await store.saveCheckpoint(row.id, owner, cp?.sessionUri ?? null, cp?.offset ?? null, cfg.upload.lease_ms))) {
          throw new LeaseLost('lease lost to another worker');
        }
        progress(cp?.offset ?? null);
      },
      signal,
    });
    const ok = await store.markUploaded(row.id, owner, {
      driveFileId: res.file.id,
      fileUrl: fileUrl(res.file.id),
      previewUrl: previewUrl(res.file.id),
      size: res.size,
      mtimeMs: local.mtimeMs,
      md5: res.md5,
    });
    if (!ok) return lostLease(ctx, row);
    ctx.authPause.succeeded();
    const ms = ctx.now() - started;
    ctx.metrics.uploadOutcome('uploaded', 'ok', res.bytesSent, ms);
    log.info('uploaded', {
      ...meta,
      bytes: res.size,
      drive_id: res.file.id,
      ms,
      sent: res.bytesSent,
      ...(res.alreadyPresent ? { already_present: true } : {}),
      ...(res.resumed ? { resumed: true } : {}),
      ...(row.drive_file_id ? { revision: true } : {}),
    });
    // The path names something else now (rewritten, replaced, swapped for a link): queue it again
    // now rather than at the next scan; the next attempt opens and checks it afresh.
    const now = await local.pathNow();
    if (now && !now.same) await store.upsertFile(row.batch_job_id, row.original_filename, { size: now.size, mtimeMs: now.mtimeMs });
    return 'uploaded';
  } catch (e) {
    // Whatever failed may have been the folder (gone, moved, its row changed): the next file of this job reads it afresh.
    folders?.delete(row.batch_job_id);
    if (e instanceof LeaseLost || (signal.aborted && signal.reason === 'lease lost')) return lostLease(ctx, row);
    const d = decide(e);
    const dropReservedId = sending ? undefined : reservedId;
    // upload_error is shown by `status` and read by other programs: no secret goes in (a Drive answer may echo one).
    d.message = redactText(d.message, configSecrets(cfg));
    const ms = ctx.now() - started;
    const errMeta = { ...meta, bytes, ms, error_class: d.reason, error: d.message };
    const backoff = () => retryDelayMs(row.attempts, { baseMs: cfg.upload.backoff_base_ms, maxMs: cfg.upload.backoff_max_ms }, ctx.random, d.retryAfterMs);
    // A bug of ours: say so loudly, with the stack; the row is retried like any other (bounded by max_attempts).
    if (d.internal) log.error('internal error while uploading (a bug)', { ...errMeta, stack: e instanceof Error ? e.stack : undefined });
    if (signal.aborted && d.action !== 'fail') {
      // Shutdown: put the row back at once, checkpoint kept, attempt refunded.
      await store.markRetry(row.id, owner, { error: 'interrupted by shutdown', reason: 'shutdown', nextAttemptAt: ctx.now(), refund: true, dropReservedId });
      log.notice('upload interrupted by shutdown; will resume', errMeta);
      return 'retry';
    }
    if (d.action === 'pause') {
      let logIt = false;
      if (d.reason.startsWith('auth')) logIt = ctx.authPause.authFailed(ctx.now(), d.message).first;
      const pausedUntil = uploadsPausedUntil(ctx);
      const next = pausedUntil ?? ctx.now() + backoff();
      await store.markRetry(row.id, owner, { error: d.message, reason: d.reason, nextAttemptAt: next, refund: true, dropReservedId });
      ctx.metrics.uploadOutcome('retry', d.reason, 0, ms);
      if (logIt) log.error('Drive refused our credentials: uploads paused for the account', { ...errMeta, resume_in_ms: next - ctx.now() });
      else log.debug('upload waiting for Drive', { ...errMeta, retry_in_ms: next - ctx.now() });
      return 'paused';
    }
    if (d.action === 'retry' && row.attempts < cfg.upload.max_attempts) {
      const delay = backoff();
      if (!(await store.markRetry(row.id, owner, { error: d.message, reason: d.reason, nextAttemptAt: ctx.now() + delay, dropReservedId })))
        return lostLease(ctx, row);
      ctx.metrics.uploadOutcome('retry', d.reason, 0, ms);
      // A database that cannot take a write (full disk, I/O error) needs the operator, whatever the file.
      (d.reason.startsWith('db:') ? log.error : log.warning)('upload failed, will retry', {
        ...errMeta,
        retry_in_ms: delay,
        max_attempts: cfg.upload.max_attempts,
      });
      return 'retry';
    }
    const message = d.action === 'retry' ? `${d.message} (gave up after ${row.attempts} attempts)` : d.message;
    if (!(await store.markFailed(row.id, owner, { error: message, reason: d.reason, dropReservedId }))) return lostLease(ctx, row);
    ctx.metrics.uploadOutcome('failed', d.reason, 0, ms);
    log.error('upload failed permanently', { ...errMeta, error: message });
    return 'failed';
  } finally {
    await local?.close().catch(() => undefined);
  }
}

/** The job was disabled after its row was claimed: leave the row pending (no attempt used) until it is enabled again. */
async function jobDisabled(ctx: SyncContext, row: FileRow, reservedId: string | undefined): Promise<RowResult> {
  const ok = await ctx.store.markRetry(row.id, ctx.owner, {
    error: 'job is no longer Drive-enabled; the file waits until it is enabled again',
    reason: 'job_disabled',
    nextAttemptAt: ctx.now(),
    refund: true,
    dropReservedId: reservedId,
  });
  if (!ok) return lostLease(ctx, row);
  ctx.log.notice('job no longer Drive-enabled; file left pending', { job: row.batch_job_id, file: row.original_filename });
  return 'paused';
}

function lostLease(ctx: SyncContext, row: FileRow): RowResult {
  ctx.log.warning('lease lost: another worker owns this row now; leaving it', { job: row.batch_job_id, file: row.original_filename });
  return 'lost';
}
