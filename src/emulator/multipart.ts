import { badRequest } from './errors.js';

export interface MultipartUpload {
  metadata: Record<string, unknown>;
  mediaType: string | null;
  /** The media part's bytes, streamed; throws badRequest if the body ends before the closing boundary. */
  media: AsyncGenerator<Buffer>;
}

const HEAD_LIMIT = 1 << 20;
const CR = 0x0d;
const LF = 0x0a;

export function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\//i.test(contentType)) return null;
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m?.[1] ?? m?.[2] ?? null;
}

function headerValue(block: string, name: string): string | null {
  for (const line of block.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && line.slice(0, i).trim().toLowerCase() === name) return line.slice(i + 1).trim();
  }
  return null;
}

/**
 * Incremental multipart/related parser for Drive uploads: a small JSON metadata part (buffered, ≤ 1 MiB)
 * then a media part that is yielded chunk by chunk, so the body never sits in memory.
 * Line ends may be CRLF (RFC 2046, what gaxios sends) or bare LF (what Python's email generator,
 * and so Google's Python client, sends); Drive accepts both. The first boundary line decides.
 */
export async function parseMultipart(source: AsyncIterable<Buffer>, boundary: string): Promise<MultipartUpload> {
  const it = source[Symbol.asyncIterator]();
  let buf: Buffer = Buffer.alloc(0);
  const more = async (): Promise<boolean> => {
    const r = await it.next();
    if (r.done) return false;
    const chunk = r.value;
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    return true;
  };
  const malformed = () => badRequest('Malformed multipart body.');
  const need = async (pred: () => number): Promise<number> => {
    for (;;) {
      const i = pred();
      if (i >= 0) return i;
      if (buf.length > HEAD_LIMIT) throw malformed();
      if (!(await more())) throw malformed();
    }
  };

  const dash = Buffer.from(`--${boundary}`);

  // First boundary (a preamble before it is allowed); the line end after it sets the style.
  let i = await need(() => buf.indexOf(dash));
  buf = buf.subarray(i + dash.length);
  await need(() => (buf.length >= 2 ? 0 : -1));
  let eol: Buffer;
  if (buf[0] === CR && buf[1] === LF) eol = Buffer.from('\r\n');
  else if (buf[0] === LF) eol = Buffer.from('\n');
  else throw malformed();
  buf = buf.subarray(eol.length);
  const eol2 = Buffer.concat([eol, eol]);
  const delim = Buffer.concat([eol, dash]);
  const startsWithEol = (): boolean => buf.subarray(0, eol.length).equals(eol);

  // A part may have no headers at all: then the blank line follows the boundary line directly.
  const readHeaders = async (): Promise<string> => {
    await need(() => (buf.length >= eol.length ? 0 : -1));
    if (startsWithEol()) {
      buf = buf.subarray(eol.length);
      return '';
    }
    const at = await need(() => buf.indexOf(eol2));
    const block = buf.subarray(0, at).toString('utf8');
    buf = buf.subarray(at + eol2.length);
    return block;
  };

  await readHeaders();
  i = await need(() => buf.indexOf(delim));
  const json = buf.subarray(0, i).toString('utf8').trim();
  buf = buf.subarray(i + delim.length);
  let metadata: Record<string, unknown> = {};
  if (json !== '') {
    try {
      const v = JSON.parse(json) as unknown;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      metadata = v as Record<string, unknown>;
    } catch {
      throw badRequest('Invalid JSON payload received in the metadata part.');
    }
  }

  await need(() => (buf.length >= 2 ? 0 : -1));
  if (buf.subarray(0, 2).toString() === '--') {
    // Closing boundary right after the metadata: an upload with no media part, i.e. empty content.
    const empty = async function* (): AsyncGenerator<Buffer> {
      // Drain the closing "--" and any epilogue; there are no media bytes to give.
      while (await more()) buf = Buffer.alloc(0);
      yield* [];
    };
    return { metadata, mediaType: null, media: empty() };
  }
  if (!startsWithEol()) throw malformed();
  buf = buf.subarray(eol.length);
  const mediaType = headerValue(await readHeaders(), 'content-type');

  const media = async function* (): AsyncGenerator<Buffer> {
    const keep = delim.length - 1;
    for (;;) {
      const at = buf.indexOf(delim);
      if (at >= 0) {
        if (at > 0) yield buf.subarray(0, at);
        buf = Buffer.alloc(0);
        // Drain the closing "--" and any epilogue so the request completes.
        while (await more()) buf = Buffer.alloc(0);
        return;
      }
      if (buf.length > keep) {
        const out = buf.subarray(0, buf.length - keep);
        buf = Buffer.from(buf.subarray(buf.length - keep));
        yield out;
      }
      if (!(await more())) throw malformed();
    }
  };
  return { metadata, mediaType, media: media() };
}
