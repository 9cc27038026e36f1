import type { IncomingMessage, ServerResponse } from 'node:http';
import { DriveApiError, badRequest } from './errors.js';

/** What a handler answers; `handled` means it wrote the response itself (streams). */
export type Reply = { status: number; json?: unknown; headers?: Record<string, string> } | 'handled';

const JSON_LIMIT = 1 << 20;

/** Reads a small JSON object body (metadata, admin calls); empty body = {}. Bad JSON -> 400 parseError. */
export async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > JSON_LIMIT) throw badRequest('Metadata part is too large.');
    chunks.push(b);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new DriveApiError(400, { domain: 'global', reason: 'parseError', message: 'Parse Error' });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new DriveApiError(400, { domain: 'global', reason: 'parseError', message: 'Parse Error' });
  }
  return v as Record<string, unknown>;
}

export async function readFormBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > JSON_LIMIT) break;
    chunks.push(b);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const ct = req.headers['content-type'] ?? '';
  if (/json/i.test(ct)) {
    // gaxios may send JSON to the token endpoint; accept it as well.
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      return new URLSearchParams(Object.entries(o).map(([k, v]): [string, string] => [k, String(v)]));
    } catch {
      return new URLSearchParams();
    }
  }
  return new URLSearchParams(text);
}

/** Reads and discards the rest of a body, so the client sees our answer rather than a broken pipe. */
export async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return;
  for await (const chunk of req) void chunk;
}

/** Reason phrases Drive uses where Node's default differs (Node says "Permanent Redirect" for 308). */
const REASON: Record<number, string> = { 308: 'Resume Incomplete' };

/**
 * Writes a reply. JSON is indented like Google's (2 spaces) unless the request asked
 * `prettyPrint=false`, which Google answers compactly.
 */
export function send(res: ServerResponse, reply: Exclude<Reply, 'handled'>, pretty = true): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...reply.headers };
  const reason = REASON[reply.status];
  if (reply.json !== undefined) {
    const body = Buffer.from(pretty ? JSON.stringify(reply.json, null, 2) + '\n' : JSON.stringify(reply.json));
    headers['content-type'] = 'application/json; charset=UTF-8';
    headers['content-length'] = String(body.length);
    if (reason) res.writeHead(reply.status, reason, headers);
    else res.writeHead(reply.status, headers);
    res.end(body);
  } else {
    headers['content-length'] = '0';
    if (reason) res.writeHead(reply.status, reason, headers);
    else res.writeHead(reply.status, headers);
    res.end();
  }
}

export function sendError(res: ServerResponse, e: DriveApiError, pretty = true): void {
  send(res, { status: e.status, json: e.body(), headers: e.headers }, pretty);
}

/** Google reads `prettyPrint=false` as "compact JSON"; anything else (or nothing) is pretty. */
export const prettyOf = (url: URL | null): boolean => url?.searchParams.get('prettyPrint') !== 'false';

export const flag = (v: string | null): boolean => v === 'true';
