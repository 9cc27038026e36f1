// Uploads: multipart below the threshold, our own resumable protocol at or above it.
// Every byte is read through the caller's open file (req.file), never by path, and sent by the
// media sender (media.ts: Node's http on the Drive agents, two reused buffers per request); the
// md5 is computed from the same reads where possible and Drive's md5 and size are checked
// against it afterwards. The resumable start is a metadata call and stays on google-auth-library.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import type { drive_v3 } from '@googleapis/drive';
import { LocalFileError } from '../local/index.js';
import { FILE_FIELDS, toInfo, type DriveCore } from './core.js';
import { DriveChecksumError, DriveError, PermanentDriveError, RateLimitError, RetryableDriveError } from './errors.js';
import type { MediaRequest, MediaResponse } from './media.js';
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

// Feeds the running hash (bytes at or past its position, once) and counts the bytes read.
function tap(running: RunningHash | null, counter: { bytes: number }) {
  return (bytes: Buffer, pos: number): void => {
    if (running && pos <= running.at && pos + bytes.length > running.at) {
      running.hash.update(running.at === pos ? bytes : bytes.subarray(running.at - pos));
      running.at = pos + bytes.length;
    }
    counter.bytes += bytes.length;
  };
}

function fileResource(res: MediaResponse): drive_v3.Schema$File {
  if (res.data === null || typeof res.data !== 'object') {
    throw new RetryableDriveError(`Drive answered ${res.status} without a file resource`, { status: res.status, reason: 'noFileResource' });
  }
  return res.data as drive_v3.Schema$File;
}

// A header value from our own data (a MIME type) must not carry a line break into the body's headers.
const safeMime = (m: string | undefined): string => (m && !/[\r\n]/.test(m) ? m : 'application/octet-stream');

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

  /**
   * One media request through the sender. The sender's errors go through core.call's
   * classification like any other; a local read error comes out as itself (the caller's
   * LocalFileError), not as the failed request it ended.
   */
  async function sendMedia(make: () => MediaRequest, via: (fn: () => Promise<MediaResponse>) => Promise<MediaResponse>): Promise<MediaResponse> {
    let local: unknown = null;
    return via(async () => {
      local = null;
      try {
        return await core.media.send(make());
      } catch (e) {
        if (e instanceof LocalFileError) local = e;
        throw e;
      }
    }).catch((e: unknown) => {
      throw local ?? e;
    });
  }

  const uploadUrl = (req: UploadRequest, mode: 'create' | 'update', uploadType: 'multipart' | 'resumable'): string => {
    const base = core.endpoint.replace(/\/+$/, '');
    const q = `uploadType=${uploadType}&supportsAllDrives=true&fields=${encodeURIComponent(FILE_FIELDS)}`;
    return mode === 'create' ? `${base}/upload/drive/v3/files?${q}` : `${base}/upload/drive/v3/files/${encodeURIComponent(req.fileId)}?${q}`;
  };

  async function multipart(req: UploadRequest, mode: 'create' | 'update'): Promise<Sent> {
    const size = req.file.size;
    const counter = { bytes: 0 };
    let running: RunningHash | null = null;
    const url = uploadUrl(req, mode, 'multipart');
    const meta = JSON.stringify(metaFor(req, mode));
    const res = await sendMedia(
      () => {
        running = { hash: createHash('md5'), at: 0 };
        counter.bytes = 0;
        // A fresh random boundary per request: the file's bytes cannot be made to contain it.
        const boundary = randomUUID();
        const head = Buffer.from(
          `--${boundary}\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n${meta}\r\n--${boundary}\r\ncontent-type: ${safeMime(req.mimeType)}\r\n\r\n`,
        );
        const tail = Buffer.from(`\r\n--${boundary}--`);
        return {
          url,
          method: mode === 'create' ? 'POST' : 'PATCH',
          headers: { 'content-type': `multipart/related; boundary=${boundary}` },
          body: size > 0 ? [head, { file: req.file, start: 0, end: size - 1 }, tail] : [head, tail],
          onFileBytes: tap(running, counter),
          signal: req.signal,
        };
      },
      (fn) => core.write(fn, { contentUpload: true, signal: req.signal }),
    );
    const r = running as RunningHash | null;
    const md5 = r && r.at === size ? r.hash.digest('hex') : null;
    return { file: toInfo(fileResource(res)), bytesSent: counter.bytes, md5, resumed: false, alreadyPresent: false };
  }

  // --- resumable ---------------------------------------------------------------------------

  async function checkpoint(req: UploadRequest, cp: UploadCheckpoint | null): Promise<void> {
    // Not classified: the caller's own errors (e.g. a lost lease) pass through unchanged.
    if (req.onCheckpoint) await req.onCheckpoint(cp);
  }

  async function initiate(req: UploadRequest, mode: 'create' | 'update', size: number): Promise<string> {
    const base = core.endpoint.replace(/\/+$/, '');
    const url = uploadUrl(req, mode, 'resumable');
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
    const res = await sendMedia(
      () => ({
        url: sessionUri,
        method: 'PUT',
        headers: { 'content-range': range ? `bytes ${range.start}-${range.end}/${size}` : `bytes */${size}` },
        body: range ? [{ file: req.file, start: range.start, end: range.end }] : [],
        onFileBytes: tap(running, counter),
        signal: req.signal,
      }),
      (fn) => core.call(fn),
    );
    if (res.status === 308) {
      const range = res.headers.range;
      const m = /bytes=0-(\d+)/.exec(typeof range === 'string' ? range : '');
      return { done: false, offset: m ? Number(m[1]) + 1 : 0 };
    }
    return { done: true, file: fileResource(res) };
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
    const res = await sendMedia(
      () => ({ url: sessionUri, method: 'PUT', headers: {}, body: [], signal: req.signal }),
      (fn) => core.call(fn),
    );
    if (res.status === 308) throw new RetryableDriveError('Drive did not finish an empty resumable upload', { reason: 'emptyUpload' });
    return { done: true, file: fileResource(res) };
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
