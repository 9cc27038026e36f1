// Media bytes (multipart upload bodies, resumable chunks and their status queries) go out through
// Node's own http/https request on the Drive agents, from two reused buffers per request, instead
// of through google-auth-library's transporter (gaxios → node-fetch). node-fetch pipes a body
// stream into the request, so every read needs a fresh buffer (the stream cannot know when the
// socket is done with one): at 1 MiB a read that was ~40 MB of garbage waiting for a full GC and
// a page fault per 4 KiB, i.e. most of the daemon's RSS and a third of its CPU while streaming
// (figures in the README). Here a buffer is read into again only after its write has completed.
// Metadata calls (and the resumable start) stay on googleapis / gaxios.
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LocalFile } from '../local/index.js';
import type { DriveAgents } from './agent.js';

/** Bytes [start, end] (inclusive) of an open local file. */
export interface FileRange {
  file: LocalFile;
  start: number;
  end: number;
}

export type BodyPart = Buffer | FileRange;

export interface MediaRequest {
  url: string;
  method: 'POST' | 'PUT' | 'PATCH';
  /** Besides Authorization and Content-Length, which are set here. */
  headers: Record<string, string>;
  body: BodyPart[];
  /** Sees every file byte as it is read, in order, with its position in the file (the md5 tap). */
  onFileBytes?: (bytes: Buffer, position: number) => void;
  signal?: AbortSignal | undefined;
}

export interface MediaResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The JSON body parsed, else its text ('' when empty). */
  data: unknown;
}

/**
 * A refused HTTP status, shaped like gaxios' errors (response.status/data/headers, config.method/url)
 * so classifyDriveError and the 401 refresh read it the same way. The URL keeps no query (a
 * session URI's upload_id is a credential).
 */
export class MediaStatusError extends Error {
  override readonly name = 'MediaStatusError';
  readonly response: { status: number; data: unknown; headers: IncomingHttpHeaders };
  readonly config: { method: string; url: string };
  constructor(method: string, url: URL, res: MediaResponse) {
    super(`Drive answered ${res.status} to ${method} ${url.origin}${url.pathname}`);
    this.response = { status: res.status, data: res.data, headers: res.headers };
    this.config = { method, url: `${url.origin}${url.pathname}` };
  }
}

export interface MediaSender {
  /** Sends one request; resolves with a 2xx or 308 answer, rejects with anything else (a local read error as itself). */
  send(r: MediaRequest): Promise<MediaResponse>;
}

export interface MediaSenderOptions {
  agents: DriveAgents;
  /** Authorization (and any other auth) headers for a URL: google-auth-library's getRequestHeaders. */
  authHeaders(url: URL): Promise<Headers>;
  /** Proxy variables (HTTPS_PROXY, NO_PROXY, …) are read from here, as gaxios reads them; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Bytes per read (and per socket write); two buffers per request in flight. Default 1 MiB. */
  bufferBytes?: number;
}

const MAX_RESPONSE = 1 << 20;

/** Buffers handed back after use, so a long upload allocates two once instead of two per MiB. */
function bufferPool(size: number, keep: number) {
  const free: Buffer[] = [];
  return {
    take: (): Buffer => free.pop() ?? Buffer.allocUnsafeSlow(size),
    give(b: Buffer): void {
      if (free.length < keep) free.push(b);
    },
  };
}

// gaxios' rule, kept so media bytes take the proxy the metadata calls take.
function proxyFor(url: URL, env: NodeJS.ProcessEnv): string | null {
  const proxy = env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy;
  if (!proxy) return null;
  for (const raw of (env.NO_PROXY ?? env.no_proxy ?? '').split(',')) {
    const rule = raw.trim();
    if (!rule) continue;
    if (rule.startsWith('*.') || rule.startsWith('.')) {
      if (url.hostname.endsWith(rule.replace(/^\*\./, '.'))) return null;
    } else if (rule === url.origin || rule === url.hostname || rule === url.href) return null;
  }
  return proxy;
}

async function readResponse(res: IncomingMessage): Promise<MediaResponse> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    const b = c as Buffer;
    n += b.length;
    if (n > MAX_RESPONSE) throw new Error(`Drive response larger than ${MAX_RESPONSE} bytes`);
    parts.push(b);
  }
  const text = Buffer.concat(parts).toString('utf8');
  let data: unknown = text;
  if (text && /json/i.test(res.headers['content-type'] ?? '')) {
    try {
      data = JSON.parse(text);
    } catch {
      // kept as text: classifyDriveError reads a short text body as the message
    }
  }
  return { status: res.statusCode ?? 0, headers: res.headers, data };
}

export function createMediaSender(o: MediaSenderOptions): MediaSender {
  const env = o.env ?? process.env;
  const size = o.bufferBytes ?? 1 << 20;
  const pool = bufferPool(size, 8);
  const proxyAgents = new Map<string, Promise<http.Agent>>();

  function agentFor(url: URL): http.Agent | Promise<http.Agent> {
    const proxy = proxyFor(url, env);
    if (!proxy) return o.agents.for(url);
    let a = proxyAgents.get(proxy);
    if (!a) {
      a = import('https-proxy-agent').then(({ HttpsProxyAgent }) => new HttpsProxyAgent(proxy) as unknown as http.Agent);
      proxyAgents.set(proxy, a);
    }
    return a;
  }

  async function send(r: MediaRequest): Promise<MediaResponse> {
    const url = new URL(r.url);
    const headers: Record<string, string> = {};
    for (const [k, v] of await o.authHeaders(url)) headers[k] = v;
    for (const [k, v] of Object.entries(r.headers)) headers[k.toLowerCase()] = v;
    let length = 0;
    for (const p of r.body) length += Buffer.isBuffer(p) ? p.length : p.end - p.start + 1;
    headers['content-length'] = String(length);
    headers['user-agent'] ??= 'batch-drive-sync';
    const agent = await agentFor(url);
    const req = (url.protocol === 'https:' ? https : http).request(url, { method: r.method, headers, agent, ...(r.signal ? { signal: r.signal } : {}) });
    // Errors surface through `response` (or the body read); later ones must not go unhandled.
    req.on('error', () => undefined);
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
    });
    const closed = new Promise<void>((resolve) => req.once('close', resolve));

    let bodyDone = false;
    let localFailure: unknown = null;
    const written = (b: Buffer): Promise<void> => Promise.race([new Promise<void>((resolve) => req.write(b, () => resolve())), closed]);

    // Two buffers: one is read into (and hashed) while the other is on its way to the socket.
    const writing = (async () => {
      const bufs: Buffer[] = [];
      const pending: Promise<void>[] = [];
      let slot = 0;
      let corked = true;
      try {
        req.cork();
        for (const p of r.body) {
          if (Buffer.isBuffer(p)) {
            if (p.length) req.write(p);
            continue;
          }
          for (let pos = p.start; pos <= p.end;) {
            // From the second read on, the bytes so far must leave while we read (and the second
            // buffer's wait needs the first written). A body read in one go (a small file) stays
            // corked to end(): headers, preamble, file and epilogue go out in one writev.
            if (corked && slot > 0) {
              corked = false;
              req.uncork();
            }
            const i = slot++ % 2;
            await pending[i];
            if (req.destroyed) return;
            const buf = (bufs[i] ??= pool.take());
            const n = Math.min(buf.length, p.end + 1 - pos);
            await p.file.readInto(buf, n, pos);
            if (req.destroyed) return;
            const bytes = n === buf.length ? buf : buf.subarray(0, n);
            pending[i] = written(bytes);
            // Hashed once handed to the socket: the md5 runs while the bytes travel (the buffer
            // is not touched again until its write is done).
            r.onFileBytes?.(bytes, pos);
            pos += n;
          }
        }
        req.end();
        bodyDone = true;
      } catch (e) {
        localFailure = e;
        req.destroy(e as Error);
      } finally {
        // A buffer goes back only when no write holds it (written, or the request is gone).
        await Promise.all(pending);
        for (const b of bufs) pool.give(b);
      }
    })();

    let res: MediaResponse;
    try {
      res = await readResponse(await response);
    } catch (e) {
      req.destroy();
      await writing;
      throw localFailure ?? e;
    }
    // An answer before the whole body was sent (an error, usually): the connection is not reusable.
    if (!bodyDone) req.destroy();
    await writing;
    if (localFailure) throw localFailure;
    if ((res.status >= 200 && res.status < 300) || res.status === 308) return res;
    throw new MediaStatusError(r.method, url, res);
  }

  return { send };
}
