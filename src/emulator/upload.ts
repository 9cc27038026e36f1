import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import type { Content } from './drive.js';
import { DriveApiError, badRequest } from './errors.js';
import { drain, flag, readJsonBody, type Reply } from './http-util.js';
import { createHasher, digestFile, openSink } from './ingest.js';
import { boundaryOf, parseMultipart } from './multipart.js';
import type { Runtime } from './runtime.js';
import type { Identity, Item, Session } from './store.js';

const CHUNK_GRANULARITY = 256 * 1024;
const SESSION_LIFETIME_MS = 7 * 86_400_000;

/** Target of an upload: a new file, or new content for an existing one (PATCH /upload/.../{id}). */
export type UploadTarget = { kind: 'create' } | { kind: 'update'; id: string };

const sad = (url: URL): boolean => flag(url.searchParams.get('supportsAllDrives')) || flag(url.searchParams.get('supportsTeamDrives'));

/** Streams bytes to a fresh file under the upload dir while hashing; removes it on failure. */
async function receive(rt: Runtime, source: AsyncIterable<Buffer>): Promise<Content> {
  const tmpPath = path.join(rt.store.uploadDir, `tmp-${crypto.randomUUID()}`);
  const sink = await openSink(tmpPath, false, (n) => {
    rt.counters.bytesReceived += n;
  });
  const hasher = createHasher();
  try {
    for await (const chunk of source) {
      hasher.update(chunk);
      await sink.write(chunk);
    }
    await sink.close();
    return { digest: hasher.digest(sink.size), tmpPath };
  } catch (e) {
    await sink.close();
    await fsp.rm(tmpPath, { force: true });
    throw e;
  }
}

function cleanup(content: Content | null): void {
  // Once committed the temp file was renamed into the blob dir; otherwise it is dropped here.
  if (content) fs.rmSync(content.tmpPath, { force: true });
}

const ok = (rt: Runtime, item: Item, fields: string | null): Reply => ({ status: 200, json: rt.model.resource(item, fields) });

/** Streams a one-shot upload body to disk, commits it as a create or a new revision, answers the file. */
async function receiveAndCommit(rt: Runtime, body: AsyncIterable<Buffer>, commit: (c: Content) => Item, fields: string | null): Promise<Reply> {
  const content = await receive(rt, body);
  try {
    const item = commit(content);
    rt.counters.uploadsCompleted++;
    return ok(rt, item, fields);
  } finally {
    cleanup(content);
  }
}

/** uploadType=multipart: JSON metadata part, then the media part streamed to disk. */
export async function handleMultipart(rt: Runtime, req: IncomingMessage, url: URL, identity: Identity, target: UploadTarget): Promise<Reply> {
  const boundary = boundaryOf(req.headers['content-type']);
  if (!boundary) throw badRequest('Invalid multipart request: the Content-Type must be multipart/related with a boundary.');
  const existing = target.kind === 'update' ? rt.model.getVisible(target.id, sad(url)) : null;
  const mp = await parseMultipart(req as AsyncIterable<Buffer>, boundary);
  const q = url.searchParams;
  if (target.kind === 'create') {
    const draft = rt.model.prepareCreate(mp.metadata, identity, sad(url), mp.mediaType, true);
    rt.model.checkAllowance(null, 0);
    return receiveAndCommit(rt, mp.media, (c) => rt.model.commitCreate(draft, c), q.get('fields'));
  }
  const it = existing as Item;
  rt.model.checkPatch(it, mp.metadata, q.get('addParents'), q.get('removeParents'), sad(url));
  rt.model.checkAllowance(null, it.size ?? 0);
  return receiveAndCommit(
    rt,
    mp.media,
    (c) => rt.model.commitUpdate(it.id, mp.metadata, q.get('addParents'), q.get('removeParents'), sad(url), c),
    q.get('fields'),
  );
}

function declaredLength(req: IncomingMessage, header: string): number | null {
  const raw = req.headers[header];
  if (raw === undefined) return null;
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined || !/^\d+$/.test(v.trim())) throw badRequest(`Invalid ${header} header.`);
  return Number(v);
}

/** uploadType=media: the body is the content, no metadata. */
export async function handleMedia(rt: Runtime, req: IncomingMessage, url: URL, identity: Identity, target: UploadTarget): Promise<Reply> {
  const declared = declaredLength(req, 'content-length');
  const ct = req.headers['content-type'] ?? null;
  const q = url.searchParams;
  if (target.kind === 'create') {
    const draft = rt.model.prepareCreate({}, identity, sad(url), ct, true);
    rt.model.checkAllowance(declared, 0);
    return receiveAndCommit(rt, req as AsyncIterable<Buffer>, (c) => rt.model.commitCreate(draft, c), q.get('fields'));
  }
  const it = rt.model.getVisible(target.id, sad(url));
  rt.model.checkPatch(it, {}, q.get('addParents'), q.get('removeParents'), sad(url));
  rt.model.checkAllowance(declared, it.size ?? 0);
  return receiveAndCommit(
    rt,
    req as AsyncIterable<Buffer>,
    (c) => rt.model.commitUpdate(it.id, {}, q.get('addParents'), q.get('removeParents'), sad(url), c),
    q.get('fields'),
  );
}

/** uploadType=resumable POST/PATCH: validates the metadata now and answers the session URI. */
export async function handleResumableStart(rt: Runtime, req: IncomingMessage, url: URL, identity: Identity, target: UploadTarget): Promise<Reply> {
  const meta = await readJsonBody(req);
  const declared = declaredLength(req, 'x-upload-content-length');
  const contentType = (req.headers['x-upload-content-type'] as string | undefined) ?? null;
  const q = url.searchParams;
  let replacing = 0;
  if (target.kind === 'create') {
    rt.model.prepareCreate(meta, identity, sad(url), contentType, true);
  } else {
    const it = rt.model.getVisible(target.id, sad(url));
    rt.model.checkPatch(it, meta, q.get('addParents'), q.get('removeParents'), sad(url));
    replacing = it.size ?? 0;
  }
  rt.model.checkAllowance(declared, replacing);
  const session: Session = {
    id: `AEmu${crypto.randomBytes(45).toString('base64url')}`,
    mode: target.kind,
    fileId: target.kind === 'update' ? target.id : null,
    addParents: q.get('addParents'),
    removeParents: q.get('removeParents'),
    metadata: meta,
    identity,
    supportsAllDrives: sad(url),
    fields: q.get('fields'),
    declaredLength: declared,
    contentType: contentType ?? (typeof meta.mimeType === 'string' ? meta.mimeType : 'application/octet-stream'),
    offset: 0,
    createdAt: rt.clock(),
    completedFileId: null,
  };
  rt.store.putSession(session);
  const pathPart = target.kind === 'update' ? `/upload/drive/v3/files/${encodeURIComponent(target.id)}` : '/upload/drive/v3/files';
  // Drive's session URI repeats the initiating request's parameters (fields, supportsAllDrives, …)
  // before upload_id, so a client that PUTs to it as given gets the fields it asked for.
  const params = new URLSearchParams(q);
  params.delete('upload_id');
  params.set('uploadType', 'resumable');
  params.append('upload_id', session.id);
  const loc = `${rt.baseUrl(req.headers.host)}${pathPart}?${params.toString()}`;
  return { status: 200, headers: { location: loc, 'x-guploader-uploadid': session.id } };
}

type ContentRange =
  | { kind: 'status'; total: number | null }
  | { kind: 'chunk'; start: number; end: number; total: number | null }
  /** A PUT with neither Content-Range nor a body: "the content is empty" (Google finishes an empty upload). */
  | { kind: 'empty' };

function parseContentRange(req: IncomingMessage): ContentRange {
  const raw = req.headers['content-range'];
  const len = req.headers['content-length'] === undefined ? null : Number(req.headers['content-length']);
  if (raw === undefined) {
    // No Content-Range: the whole content in one request.
    if (len === null || len === 0) return { kind: 'empty' };
    return { kind: 'chunk', start: 0, end: len - 1, total: len };
  }
  let m = /^bytes \*\/(\d+|\*)$/.exec(raw.trim());
  if (m) return { kind: 'status', total: m[1] === '*' ? null : Number(m[1]) };
  m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(raw.trim());
  if (!m) throw badRequest('Failed to parse Content-Range header.');
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === '*' ? null : Number(m[3]);
  if (end < start || (total !== null && end >= total)) throw badRequest('Failed to parse Content-Range header.');
  if (len !== null && len !== end - start + 1) throw badRequest('Content-Range does not match the request body length.');
  return { kind: 'chunk', start, end, total };
}

const sessionPath = (rt: Runtime, s: Session): string => path.join(rt.store.uploadDir, `${s.id}.part`);

function incomplete(s: Session): Reply {
  const headers: Record<string, string> = { 'x-guploader-uploadid': s.id };
  if (s.offset > 0) headers.range = `bytes=0-${s.offset - 1}`;
  return { status: 308, headers };
}

function dropSession(rt: Runtime, s: Session): void {
  rt.store.deleteSession(s.id);
  rt.hashers.delete(s.id);
  fs.rmSync(sessionPath(rt, s), { force: true });
}

function sessionGone(uploadId: string): DriveApiError {
  return new DriveApiError(404, {
    domain: 'global',
    reason: 'notFound',
    message: `Upload session not found or expired: ${uploadId}.`,
    location: 'upload_id',
    locationType: 'parameter',
  });
}

async function finalize(rt: Runtime, s: Session, url: URL): Promise<Reply> {
  const file = sessionPath(rt, s);
  if (!fs.existsSync(file)) fs.writeFileSync(file, '');
  const h = rt.hashers.get(s.id);
  const digest = h && h.at === s.offset ? h.hasher.digest(s.offset) : await digestFile(file);
  const content: Content = { digest, tmpPath: file };
  let item: Item;
  try {
    if (s.mode === 'create') {
      const draft = rt.model.prepareCreate(s.metadata, s.identity, s.supportsAllDrives, s.contentType, true);
      item = rt.model.commitCreate(draft, content);
    } else {
      item = rt.model.commitUpdate(s.fileId as string, s.metadata, s.addParents, s.removeParents, s.supportsAllDrives, content);
    }
  } catch (e) {
    // A permanent refusal (duplicate id, quota, parent gone) ends the session.
    dropSession(rt, s);
    throw e;
  }
  rt.hashers.delete(s.id);
  rt.store.putSession({ ...s, completedFileId: item.id });
  rt.counters.uploadsCompleted++;
  return ok(rt, item, url.searchParams.get('fields') ?? s.fields);
}

/**
 * PUT on a session URI: a chunk (`bytes a-b/total`) or a status query (`bytes * /total`).
 * Drive's rules kept here: chunks other than the last must end on a 256 KiB boundary (else 400);
 * bytes before the confirmed offset are skipped (a client may resend an overlapping chunk);
 * a chunk starting past the confirmed offset leaves a gap, so it is discarded and answered 308 with the
 * current Range, telling the client where to resume. A chunk cut short (client abort) is discarded whole,
 * unless the partial-chunk fault cut it: then the whole 256 KiB blocks before the cut are kept.
 * The session URI itself is the credential, as in Drive: no Authorization header needed.
 */
export async function handleSessionPut(rt: Runtime, req: IncomingMessage, url: URL): Promise<Reply> {
  const uploadId = url.searchParams.get('upload_id') ?? '';
  const prev = rt.sessionLocks.get(uploadId) ?? Promise.resolve();
  const run = prev.then(() => sessionPutLocked(rt, req, url, uploadId));
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  rt.sessionLocks.set(uploadId, tail);
  try {
    return await run;
  } finally {
    if (rt.sessionLocks.get(uploadId) === tail) rt.sessionLocks.delete(uploadId);
  }
}

async function sessionPutLocked(rt: Runtime, req: IncomingMessage, url: URL, uploadId: string): Promise<Reply> {
  const s = rt.store.sessions.get(uploadId);
  if (!s) throw sessionGone(uploadId);
  if (s.createdAt + SESSION_LIFETIME_MS <= rt.clock()) {
    dropSession(rt, s);
    throw sessionGone(uploadId);
  }
  const range = parseContentRange(req);
  if (s.completedFileId !== null) {
    await drain(req);
    const it = rt.store.items.get(s.completedFileId);
    if (!it) throw sessionGone(uploadId);
    return ok(rt, it, url.searchParams.get('fields') ?? s.fields);
  }
  if (range.kind === 'empty') {
    await drain(req);
    // Nothing received yet and nothing (or 0) announced: the whole content is empty. Once bytes
    // have arrived a bare PUT cannot mean "empty", so it only reports where the session stands.
    if (s.offset === 0 && (s.declaredLength === null || s.declaredLength === 0)) return finalize(rt, s, url);
    return incomplete(s);
  }
  if (range.total !== null && s.declaredLength !== null && range.total !== s.declaredLength) {
    throw badRequest(`The total in Content-Range (${range.total}) does not match X-Upload-Content-Length (${s.declaredLength}).`);
  }
  if (range.kind === 'status') {
    await drain(req);
    if (range.total !== null && range.total === s.offset) return finalize(rt, s, url);
    return incomplete(s);
  }
  const { start, end, total } = range;
  const last = total !== null && end + 1 === total;
  if (!last && (end + 1) % CHUNK_GRANULARITY !== 0) {
    throw badRequest(
      `Invalid request. The number of bytes uploaded is required to be equal or greater than 262144, except for the final request (it's recommended to be the exact multiple of 262144). The received request contained ${end - start + 1} bytes, which does not meet this requirement.`,
    );
  }
  if (start > s.offset || end < s.offset) {
    // A gap, or nothing new: keep what we have and say where we stand.
    for await (const chunk of req) rt.counters.bytesReceived += (chunk as Buffer).length;
    return incomplete(s);
  }

  const file = sessionPath(rt, s);
  if (!fs.existsSync(file)) fs.writeFileSync(file, '');
  if (fs.statSync(file).size !== s.offset) fs.truncateSync(file, s.offset);
  const h = rt.hashers.get(s.id);
  const working = h && h.at === s.offset ? h.hasher.copy() : s.offset === 0 ? createHasher() : null;
  // Leaving the body loop early detaches the socket from the request: keep hold of it.
  const socket = req.socket;
  const sink = await openSink(file, true, () => undefined);
  const expected = end - start + 1;
  // Partial-chunk fault: keep only whole blocks up to `cutAt` (a file offset inside this chunk).
  const keep = rt.faults.partialChunk(Math.ceil((end + 1 - s.offset) / CHUNK_GRANULARITY));
  const cutAt = keep === null ? null : s.offset + keep * CHUNK_GRANULARITY;
  const answer = rt.faults.faults.partialChunkAnswer;
  let skip = s.offset - start;
  let received = 0;
  let pos = s.offset;
  try {
    for await (const c of req) {
      let chunk = c as Buffer;
      received += chunk.length;
      rt.counters.bytesReceived += chunk.length;
      if (received > expected) throw badRequest('The request body is longer than its Content-Range.');
      if (skip > 0) {
        const n = Math.min(skip, chunk.length);
        skip -= n;
        chunk = chunk.subarray(n);
        if (chunk.length === 0) continue;
      }
      if (cutAt !== null && pos + chunk.length > cutAt) chunk = chunk.subarray(0, Math.max(0, cutAt - pos));
      if (chunk.length > 0) {
        working?.update(chunk);
        await sink.write(chunk);
        pos += chunk.length;
      }
      if (cutAt !== null && pos === cutAt && answer === 'reset') break;
    }
    await sink.close();
    const cut = cutAt !== null && pos === cutAt;
    if (!(cut && answer === 'reset') && received !== expected) throw badRequest('The request body is shorter than its Content-Range.');
  } catch (e) {
    await sink.close();
    fs.truncateSync(file, s.offset);
    throw e;
  }
  const next: Session = { ...s, offset: pos };
  if (working) rt.hashers.set(s.id, { hasher: working, at: next.offset });
  else rt.hashers.delete(s.id);
  rt.store.putSession(next);
  if (cutAt !== null) {
    rt.counters.partialChunks++;
    if (answer === 'reset') {
      // Cut off mid-body, as a dropped connection would: the client learns the offset by asking.
      rt.counters.resets++;
      socket.destroy();
      return 'handled';
    }
    return incomplete(next);
  }
  if (last) return finalize(rt, next, url);
  return incomplete(next);
}

export function expireAllSessions(rt: Runtime): void {
  for (const s of [...rt.store.sessions.values()]) dropSession(rt, s);
}
