// Uploads: multipart below the threshold, our own resumable protocol at or above it.
// Every byte is read through the caller's open file (req.file), never by path: one read stream
// per request or chunk; the md5 is computed from the same read where possible and Drive's md5
// and size are checked against it afterwards.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import type { drive_v3 } from '@googleapis/drive';
import type { LocalFile } from '../local/index.js';
import { FILE_FIELDS, toInfo, type DriveCore } from './core.js';
import { DriveChecksumError, DriveError, PermanentDriveError, RateLimitError, RetryableDriveError } from './errors.js';
import { sessionUriProblem } from './session-uri.js';
import type { DriveFileInfo, UploadCheckpoint, UploadRequest, UploadResult } from './types.js';

const GRANULE = 256 * 1024;

/** Hashes the file's bytes as they are read, once, in order: positions before `at` are skipped. */
interface RunningHash {
  hash: Hash;
  at: number;
}

interface Sent {
  file: DriveFileInfo;
  bytesSent: number;
  /** md5 of the local bytes read while sending, when the whole file was read in order. */
  md5: string | null;
  resumed: boolean;
  alreadyPresent: boolean;
}

/**
 * The local side of one request body. A read error must end the request (the generated client's
 * multipart pipe would not), and must surface as itself, not as the aborted request it causes.
 */
interface BodyReads {
  /** Aborts the request: the caller's signal, or a read error. */
  readonly signal: AbortSignal;
  /** The local read error that ended the request, if any. */
  failure: unknown;
  fail(e: unknown): void;
  unlink(): void;
}

function bodyReads(signal: AbortSignal | undefined): BodyReads {
  const ac = linkedAbort(signal);
  const r: BodyReads = {
    signal: ac.signal,
    failure: null,
    fail(e) {
      r.failure ??= e;
      ac.abort(e);
    },
    unlink: () => ac.unlink(),
  };
  return r;
}

// Bytes [start, end] of the open file, through a tap that feeds the running hash.
function openBody(
  file: LocalFile,
  start: number,
  end: number,
  running: RunningHash | null,
  counter: { bytes: number },
  onReadError: (e: unknown) => void,
): Readable {
  const src = file.read(start, end);
  let pos = start;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (running && pos <= running.at && pos + chunk.length > running.at) {
        running.hash.update(chunk.subarray(running.at - pos));
        running.at = pos + chunk.length;
      }
      pos += chunk.length;
      counter.bytes += chunk.length;
      cb(null, chunk);
    },
  });
  src.on('error', (e) => {
    onReadError(e);
    tap.destroy(e);
  });
  // The error reaches the caller through onReadError; the HTTP client may have let go of the body already.
  tap.on('error', () => undefined);
  tap.on('close', () => src.destroy());
  src.pipe(tap);
  return tap;
}

// The caller's signal lives as long as the daemon: unlink() must run when the request is over,
// or every multipart upload and chunk PUT leaves a listener on it for good.
function linkedAbort(signal: AbortSignal | undefined): AbortController & { unlink(): void } {
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal?.reason);
  if (signal?.aborted) ac.abort(signal.reason);
  else signal?.addEventListener('abort', onAbort, { once: true });
  return Object.assign(ac, { unlink: () => signal?.removeEventListener('abort', onAbort) });
}

export function createUploader(core: DriveCore) {
  const metaFor = (req: UploadRequest, mode: 'create' | 'update'): drive_v3.Schema$File => {
    // modifiedTime: when the file was really made (fstat of the open file), as rclone sends it.
    const m: drive_v3.Schema$File = { name: req.name, appProperties: req.appProperties, modifiedTime: new Date(req.file.mtimeMs).toISOString() };
    if (req.mimeType) m.mimeType = req.mimeType;
    if (mode === 'create') {
      m.id = req.fileId;
      m.parents = [req.parentId];
    }
    return m;
  };

  async function multipart(req: UploadRequest, mode: 'create' | 'update'): Promise<Sent> {
    const size = req.file.size;
    const counter = { bytes: 0 };
    let running: RunningHash | null = null;
    let reads: BodyReads | null = null;
    const res = await core
      .write(
        async () => {
          running = { hash: createHash('md5'), at: 0 };
          const r = bodyReads(req.signal);
          reads = r;
          const body = openBody(req.file, 0, size - 1, running, counter, (e) => r.fail(e));
          try {
            const media = { mimeType: req.mimeType ?? 'application/octet-stream', body };
            const opts = { retry: false, signal: r.signal };
            if (mode === 'create') {
              return await core.api.files.create({ requestBody: metaFor(req, 'create'), media, fields: FILE_FIELDS, supportsAllDrives: true }, opts);
            }
            return await core.api.files.update(
              { fileId: req.fileId, requestBody: metaFor(req, 'update'), media, fields: FILE_FIELDS, supportsAllDrives: true },
              opts,
            );
          } finally {
            r.unlink();
            body.destroy();
          }
        },
        { contentUpload: true, signal: req.signal },
      )
      .catch((e: unknown) => {
        throw (reads as BodyReads | null)?.failure ?? e;
      });
    const r = running as RunningHash | null;
    const md5 = r && r.at === size ? r.hash.digest('hex') : null;
    return { file: toInfo(res.data), bytesSent: counter.bytes, md5, resumed: false, alreadyPresent: false };
  }

  // --- resumable ---------------------------------------------------------------------------

  async function checkpoint(req: UploadRequest, cp: UploadCheckpoint | null): Promise<void> {
    // Not classified: the caller's own errors (e.g. a lost lease) pass through unchanged.
    if (req.onCheckpoint) await req.onCheckpoint(cp);
  }

  async function initiate(req: UploadRequest, mode: 'create' | 'update', size: number): Promise<string> {
    const base = core.endpoint.replace(/\/+$/, '');
    const url =
      mode === 'create'
        ? `${base}/upload/drive/v3/files?uploadType=resumable&supportsAllDrives=true&fields=${encodeURIComponent(FILE_FIELDS)}`
        : `${base}/upload/drive/v3/files/${encodeURIComponent(req.fileId)}?uploadType=resumable&supportsAllDrives=true&fields=${encodeURIComponent(FILE_FIELDS)}`;
    const res = await core.write(
      () =>
        core.auth.client.request({
          url,
          method: mode === 'create' ? 'POST' : 'PATCH',
          data: metaFor(req, mode),
          headers: {
            'Content-Type': 'application/json; charset=UTF-8',
            'X-Upload-Content-Type': req.mimeType ?? 'application/octet-stream',
            'X-Upload-Content-Length': String(size),
          },
          retry: false,
          ...(req.signal ? { signal: req.signal } : {}),
        }),
      { contentUpload: true, signal: req.signal },
    );
    const loc = res.headers.get('location');
    if (!loc) throw new RetryableDriveError('Drive started a resumable upload without a Location header', { reason: 'noLocation' });
    const href = new URL(loc, base + '/').href;
    // Every chunk carries our token to this URL: only where Drive's own sessions live.
    const problem = sessionUriProblem(core.endpoint, href, req.fileId);
    if (problem) throw new PermanentDriveError(`Drive answered a resumable session URI that is ${problem}; refused, no byte sent`, { reason: 'badSessionUri' });
    return href;
  }

  type PutAnswer = { done: true; file: drive_v3.Schema$File } | { done: false; offset: number };

  async function put(
    req: UploadRequest,
    sessionUri: string,
    size: number,
    range: { start: number; end: number } | null,
    running: RunningHash | null,
    counter: { bytes: number },
  ): Promise<PutAnswer> {
    let reads: BodyReads | null = null;
    const res = await core
      .call(async () => {
        const r = bodyReads(req.signal);
        reads = r;
        const body = range ? openBody(req.file, range.start, range.end, running, counter, (e) => r.fail(e)) : undefined;
        try {
          return await core.auth.client.request<drive_v3.Schema$File>({
            url: sessionUri,
            method: 'PUT',
            ...(body ? { data: body } : {}),
            headers: {
              'Content-Range': range ? `bytes ${range.start}-${range.end}/${size}` : `bytes */${size}`,
              'Content-Length': String(range ? range.end - range.start + 1 : 0),
            },
            validateStatus: (s) => (s >= 200 && s < 300) || s === 308,
            responseType: 'json',
            retry: false,
            signal: r.signal,
          });
        } finally {
          r.unlink();
          body?.destroy();
        }
      })
      .catch((e: unknown) => {
        throw (reads as BodyReads | null)?.failure ?? e;
      });
    if (res.status === 308) {
      const m = /bytes=0-(\d+)/.exec(res.headers.get('range') ?? '');
      return { done: false, offset: m ? Number(m[1]) + 1 : 0 };
    }
    return { done: true, file: res.data };
  }

  // Chunk PUTs are not paced (not writes), but the daily cap can answer them: keep the guard informed.
  async function chunkPut(...args: Parameters<typeof put>): Promise<PutAnswer> {
    const ticket = core.cap.enter();
    try {
      const a = await put(...args);
      ticket.success();
      return a;
    } catch (e) {
      if (e instanceof RateLimitError) throw ticket.rateLimited() ?? e;
      ticket.other();
      throw e;
    }
  }

  /** Where a stored session stands: its offset, a finished file, or gone (404/410 or unusable). */
  async function query(req: UploadRequest, sessionUri: string, size: number): Promise<PutAnswer | 'gone'> {
    try {
      return await put(req, sessionUri, size, null, null, { bytes: 0 });
    } catch (e) {
      if (e instanceof DriveError && e.status !== undefined && e.status >= 400 && e.status < 500 && e.status !== 401 && e.status !== 429) {
        core.log.info(`resumable session for ${req.fileId} is no longer usable (${e.message}); starting a new one`);
        return 'gone';
      }
      throw e;
    }
  }

  async function resumable(req: UploadRequest, mode: 'create' | 'update'): Promise<Sent> {
    const size = req.file.size;
    const chunk = Math.max(GRANULE, Math.floor(core.chunkSizeBytes / GRANULE) * GRANULE);
    const counter = { bytes: 0 };
    let sessionUri: string | null = null;
    let offset = 0;
    let resumed = false;
    if (req.resume) {
      const a = await query(req, req.resume.sessionUri, size);
      if (a === 'gone') {
        await checkpoint(req, null);
      } else if (a.done) {
        return { file: toInfo(a.file), bytesSent: 0, md5: null, resumed: true, alreadyPresent: true };
      } else {
        sessionUri = req.resume.sessionUri;
        offset = a.offset;
        resumed = true;
        if (offset !== req.resume.offset) await checkpoint(req, { sessionUri, offset });
      }
    }
    if (sessionUri === null) {
      sessionUri = await initiate(req, mode, size);
      offset = 0;
      await checkpoint(req, { sessionUri, offset: 0 });
    }
    // Hash while sending when we send from byte 0; a resumed upload hashes in a separate pass.
    const running: RunningHash | null = offset === 0 ? { hash: createHash('md5'), at: 0 } : null;
    // The confirmed offset is recorded while the next chunk is already on the wire (the stream
    // does not stop for a database write): one record in flight at a time, in order, and its
    // error (a lost lease) surfaces at the next record or at the end. A restart asks Drive for
    // the session's real offset, so a record one chunk behind re-sends nothing.
    const recorded: { last: Promise<void> | null } = { last: null };
    const record = async (cp: UploadCheckpoint) => {
      if (recorded.last) await recorded.last;
      const r = checkpoint(req, cp);
      r.catch(() => undefined); // awaited later; an upload that fails meanwhile must not leave it unhandled
      recorded.last = r;
    };
    for (;;) {
      const range = size === 0 ? null : { start: offset, end: Math.min(offset + chunk, size) - 1 };
      let a: PutAnswer;
      if (range === null) {
        // Empty file: a zero-length final PUT.
        a = await put(req, sessionUri, 0, null, running, counter);
        if (!a.done) a = await putEmpty(req, sessionUri);
      } else {
        a = await chunkPut(req, sessionUri, size, range, running, counter);
      }
      if (a.done) {
        if (recorded.last) await recorded.last;
        const md5 = running && running.at === size ? running.hash.digest('hex') : null;
        return { file: toInfo(a.file), bytesSent: counter.bytes, md5, resumed, alreadyPresent: false };
      }
      if (a.offset < offset) {
        throw new RetryableDriveError(`Drive resumable session went back from ${offset} to ${a.offset} bytes`, { reason: 'sessionRegressed' });
      }
      offset = a.offset;
      await record({ sessionUri, offset });
    }
  }

  async function putEmpty(req: UploadRequest, sessionUri: string): Promise<PutAnswer> {
    const res = await core.call(() =>
      core.auth.client.request<drive_v3.Schema$File>({
        url: sessionUri,
        method: 'PUT',
        headers: { 'Content-Length': '0' },
        validateStatus: (s) => (s >= 200 && s < 300) || s === 308,
        responseType: 'json',
        retry: false,
        ...(req.signal ? { signal: req.signal } : {}),
      }),
    );
    if (res.status === 308) throw new RetryableDriveError('Drive did not finish an empty resumable upload', { reason: 'emptyUpload' });
    return { done: true, file: res.data };
  }

  // --- the whole upload --------------------------------------------------------------------

  async function send(req: UploadRequest, mode: 'create' | 'update', useResumable: boolean): Promise<Sent | 'exists'> {
    try {
      return useResumable ? await resumable(req, mode) : await multipart(req, mode);
    } catch (e) {
      if (mode === 'create' && e instanceof DriveError && e.status === 409) return 'exists';
      throw e;
    }
  }

  return async function upload(req: UploadRequest): Promise<UploadResult> {
    const size = req.file.size;
    const useResumable = size >= core.resumableThresholdBytes || Boolean(req.resume);
    let localMd5: Promise<string> | null = null;
    const fullHash = (): Promise<string> => {
      localMd5 ??= req.file.md5();
      return localMd5;
    };
    if (req.resume) {
      // The bytes already on Drive were read by an earlier attempt: hash the file alongside.
      void fullHash().catch(() => undefined); // awaited (and its error surfaced) below
    }

    let mode = req.mode;
    let existing: DriveFileInfo | null = null;
    if (req.maybeExists && mode === 'create' && !req.resume) {
      existing = await core.getFile(req.fileId, req.signal);
    }
    let sent: Sent | 'exists' | null = null;
    if (existing === null) sent = await send(req, mode, useResumable);
    if (sent === 'exists' || existing !== null) {
      // Our reserved id is already on Drive (an earlier attempt got there): same content or a new revision.
      existing ??= await core.getFile(req.fileId, req.signal);
      if (!existing) throw new PermanentDriveError(`Drive 409 for id ${req.fileId} but files.get cannot see it`, { status: 409 });
      req.verifyExisting?.(existing);
      const md5 = await fullHash();
      if (existing.md5Checksum === md5 && existing.size === size) {
        return { file: existing, size, md5, bytesSent: 0, alreadyPresent: true, resumed: false };
      }
      mode = 'update';
      // A stored session was for the old content: drop it before starting the update.
      sent = await send({ ...req, resume: null }, mode, useResumable);
    }
    if (sent === null || sent === 'exists') throw new PermanentDriveError(`Drive 409 on update of ${req.fileId}`, { status: 409 });
    if (sent.file.id !== req.fileId) {
      // A stored session (from the database) that made some other file: never record that file as ours.
      if (useResumable) await checkpoint(req, null);
      throw new RetryableDriveError(`the resumable session finished Drive file ${sent.file.id}, not ${req.fileId}; session dropped, a new one starts`, {
        reason: 'foreignSession',
      });
    }

    const md5 = sent.md5 ?? (await fullHash());
    const changed = await req.file.changedSinceOpen();
    if (changed || sent.file.md5Checksum !== md5 || sent.file.size !== size) {
      // A finished session answers the same file forever: forget it so the retry compares afresh.
      if (useResumable) await checkpoint(req, null);
      const why = changed
        ? `local file changed while being uploaded: ${req.name}`
        : `Drive md5 ${sent.file.md5Checksum ?? 'none'} / size ${sent.file.size ?? 'none'} differs from local ${md5} / ${size} for ${req.name}`;
      throw new DriveChecksumError(why);
    }
    return {
      file: sent.file,
      size,
      md5,
      bytesSent: sent.bytesSent,
      alreadyPresent: sent.alreadyPresent,
      resumed: sent.resumed,
    };
  };
}
