// Typed Drive errors. Only src/sync decides between "retry later" and "fail permanently";
// this module only says which kind of failure it was, in words safe to log.
import { redactText } from '../log/index.js';

export type DriveErrorKind = 'retryable' | 'rate_limit' | 'auth' | 'permanent' | 'daily_cap';

export interface DriveErrorDetails {
  status?: number;
  reason?: string;
  retryAfterMs?: number;
  /** A sanitised summary of the underlying failure (never a gaxios error: those carry headers). */
  cause?: unknown;
}

/** Base class of everything src/drive throws. */
export class DriveError extends Error {
  override readonly name: string = 'DriveError';
  readonly kind: DriveErrorKind;
  readonly retryable: boolean;
  readonly status?: number;
  readonly reason?: string;
  /** Server-requested wait (Retry-After), in milliseconds. */
  readonly retryAfterMs?: number;

  constructor(message: string, kind: DriveErrorKind, retryable: boolean, details: DriveErrorDetails = {}) {
    super(redactText(message), details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    this.retryable = retryable;
    if (details.status !== undefined) this.status = details.status;
    if (details.reason !== undefined) this.reason = details.reason;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }
}

/** Transient: 5xx, timeouts, connection resets, aborted requests. Retry with backoff. */
export class RetryableDriveError extends DriveError {
  override readonly name: string = 'RetryableDriveError';
  constructor(message: string, details: DriveErrorDetails = {}) {
    super(message, 'retryable', true, details);
  }
}

/** Drive's content does not match the local file (it probably changed while being sent). Retryable. */
export class DriveChecksumError extends RetryableDriveError {
  override readonly name: string = 'DriveChecksumError';
  constructor(message: string) {
    super(message, { reason: 'checksumMismatch' });
  }
}

/** 429 or a 403 rate-limit reason. Retryable; a rate-limit wait should not cost the caller an attempt. */
export class RateLimitError extends DriveError {
  override readonly name: string = 'RateLimitError';
  constructor(message: string, details: DriveErrorDetails = {}) {
    super(message, 'rate_limit', true, details);
  }
}

/** No usable token: 401 after one forced refresh, invalid_grant, bad credentials. */
export class DriveAuthError extends DriveError {
  override readonly name: string = 'DriveAuthError';
  constructor(message: string, details: DriveErrorDetails = {}) {
    super(message, 'auth', false, details);
  }
}

/** Will fail the same way again: storage quota, missing parent, bad request, no permission. */
export class PermanentDriveError extends DriveError {
  override readonly name: string = 'PermanentDriveError';
  constructor(message: string, details: DriveErrorDetails = {}) {
    super(message, 'permanent', false, details);
  }
}

/** Uploads for the account are paused (Drive's daily upload cap); the client's uploadsPausedUntil() says until when. No attempt is counted. */
export class DailyCapError extends DriveError {
  override readonly name: string = 'DailyCapError';
  constructor(message: string, details: DriveErrorDetails = {}) {
    super(message, 'daily_cap', true, details);
  }
}

const RATE_LIMIT_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded']);
const RETRYABLE_REASONS = new Set(['backendError', 'internalError', 'transientError']);
const DAILY_REASONS = new Set(['dailyLimitExceeded', 'dailyLimitExceededUnreg']);
const AUTH_REASONS = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client', 'authError', 'invalid_token']);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'TimeoutError',
]);
const NETWORK_MESSAGE_RE = /socket hang up|aborted|other side closed|premature close|ECONNRESET|EPIPE|ETIMEDOUT|network timeout/i;

interface Fields {
  name?: string;
  message?: string;
  code?: string;
  status?: number;
  data?: unknown;
  retryAfterMs?: number;
  method?: string;
  url?: string;
  cause?: unknown;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
}

/** Parses Retry-After (seconds or HTTP date) into milliseconds. */
export function parseRetryAfter(v: string | null | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s) && s >= 0) return Math.round(s * 1000);
  const d = Date.parse(v);
  return Number.isNaN(d) ? undefined : Math.max(0, d - now);
}

function headerOf(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  }
  const h = record(headers);
  return h ? str(h[name] ?? h[name.toLowerCase()]) : undefined;
}

// Keeps only the parts of a URL that are safe and useful in a log: origin, path, uploadType.
function safeUrl(u: unknown): string | undefined {
  const s = u instanceof URL ? u.href : str(u);
  if (!s) return undefined;
  try {
    const url = new URL(s);
    const t = url.searchParams.get('uploadType');
    return `${url.origin}${url.pathname}${t ? `?uploadType=${t}` : ''}`;
  } catch {
    return undefined; // not a URL: drop it rather than risk logging something odd
  }
}

function extract(e: unknown): Fields {
  const r = record(e);
  if (!r) return { message: String(e) };
  const f: Fields = {};
  const name = str(r.name) ?? (e instanceof Error ? e.name : undefined);
  if (name !== undefined) f.name = name;
  const message = str(r.message);
  if (message !== undefined) f.message = message;
  const code = r.code;
  if (typeof code === 'string') f.code = code;
  const response = record(r.response);
  if (response) {
    if (typeof response.status === 'number') f.status = response.status;
    f.data = response.data;
    const ra = parseRetryAfter(headerOf(response.headers, 'retry-after'));
    if (ra !== undefined) f.retryAfterMs = ra;
  } else if (typeof r.status === 'number') {
    f.status = r.status;
  }
  const config = record(r.config);
  if (config) {
    const m = str(config.method);
    if (m) f.method = m.toUpperCase();
    const u = safeUrl(config.url);
    if (u) f.url = u;
  }
  f.cause = r.cause;
  return f;
}

interface GoogleBody {
  reason?: string;
  message?: string;
}

function parseBody(data: unknown): GoogleBody {
  let d: unknown = data;
  if (typeof data === 'string') {
    try {
      d = JSON.parse(data);
    } catch {
      return data.length > 0 && data.length < 200 && !data.includes('<') ? { message: data } : {};
    }
  }
  const body = record(d);
  if (!body) return {};
  const err = body.error;
  // OAuth token endpoint: {error: 'invalid_grant', error_description: '...'}
  if (typeof err === 'string') {
    const out: GoogleBody = { reason: err };
    const desc = str(body.error_description);
    if (desc !== undefined) out.message = desc;
    return out;
  }
  const e = record(err);
  if (!e) return {};
  const out: GoogleBody = {};
  const first = Array.isArray(e.errors) ? record(e.errors[0]) : undefined;
  const reason = str(first?.reason) ?? str(e.status);
  if (reason !== undefined) out.reason = reason;
  const message = str(e.message) ?? str(first?.message);
  if (message !== undefined) out.message = message;
  return out;
}

// The first error code up the cause chain (gaxios -> node-fetch FetchError -> Node error) that `wanted` accepts.
function codeInChain(f: Fields, wanted: (code: string) => boolean): string | undefined {
  if (f.code && wanted(f.code)) return f.code;
  let c: unknown = f.cause;
  for (let i = 0; i < 5 && c; i++) {
    const r = record(c);
    if (!r) break;
    const code = str(r.code);
    if (code && wanted(code)) return code;
    c = r.cause;
  }
  return undefined;
}

// A Node system error code.
const networkCode = (f: Fields) => codeInChain(f, (c) => NETWORK_CODES.has(c) || /^E[A-Z]+$/.test(c));

// OpenSSL's verification codes as Node reports them (err.code).
const TLS_CODE_RE = /^(UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_SELF_SIGNED_|CERT_|ERR_TLS_CERT_ALTNAME_INVALID$|HOSTNAME_MISMATCH$)/;
const tlsCode = (f: Fields) => codeInChain(f, (c) => TLS_CODE_RE.test(c));

function isAbort(f: Fields): boolean {
  if (f.name === 'AbortError' || f.code === 'ABORT_ERR' || f.code === 'AbortError') return true;
  let c: unknown = f.cause;
  for (let i = 0; i < 5 && c; i++) {
    const r = record(c);
    if (!r) break;
    if (r.name === 'AbortError' || r.code === 'ABORT_ERR') return true;
    c = r.cause;
  }
  return false;
}

function summary(f: Fields, what: string): Error {
  const where = f.method && f.url ? ` (${f.method} ${f.url})` : f.url ? ` (${f.url})` : '';
  return new Error(redactText(`${what}${where}`));
}

/**
 * Normalises anything thrown while talking to Drive into a DriveError. Never keeps the original
 * gaxios error (its config carries the Authorization header): `cause` is a short summary.
 */
export function classifyDriveError(e: unknown): DriveError {
  if (e instanceof DriveError) return e;
  const f = extract(e);
  if (f.status !== undefined && f.status > 0) return fromStatus(f.status, parseBody(f.data), f);
  if (isAbort(f)) {
    return new RetryableDriveError('Drive request aborted', { reason: 'aborted', cause: summary(f, 'aborted') });
  }
  const msg = (f.message ?? '').slice(0, 200);
  const tls = tlsCode(f);
  if (tls !== undefined) {
    // The operator's to fix, not the file's: a clear message, retried with backoff meanwhile.
    return new RetryableDriveError(
      `Drive's TLS certificate is not trusted (${tls}): set drive.ca_file (or NODE_EXTRA_CA_CERTS) to the CA that signed it${msg && !msg.includes(tls) ? `; ${msg}` : ''}`,
      { reason: tls, cause: summary(f, tls) },
    );
  }
  const code = networkCode(f);
  if (code !== undefined || NETWORK_MESSAGE_RE.test(msg) || f.name === 'FetchError') {
    const reason = code ?? (/socket hang up/i.test(msg) ? 'socket hang up' : 'network');
    return new RetryableDriveError(`Drive request failed: ${reason}${msg && !msg.includes(reason) ? ` (${msg})` : ''}`, {
      reason,
      cause: summary(f, reason),
    });
  }
  return new RetryableDriveError(`Drive request failed: ${msg || 'unknown error'}`, {
    reason: 'unknown',
    cause: summary(f, f.name ?? 'error'),
  });
}

function fromStatus(status: number, body: GoogleBody, f: Fields): DriveError {
  const reason = body.reason;
  const text = (body.message ?? '').replace(/\s+/g, ' ').trim().slice(0, 300);
  const message = `Drive ${status}${reason ? ` ${reason}` : ''}${text ? `: ${text}` : ''}`;
  const details: DriveErrorDetails = { status, cause: summary(f, `HTTP ${status}`) };
  if (reason !== undefined) details.reason = reason;
  if (f.retryAfterMs !== undefined) details.retryAfterMs = f.retryAfterMs;
  if (reason !== undefined && AUTH_REASONS.has(reason)) return new DriveAuthError(message, details);
  if (status === 401) return new DriveAuthError(message, details);
  if (status === 429 || (reason !== undefined && RATE_LIMIT_REASONS.has(reason))) return new RateLimitError(message, details);
  // A project's daily quota lasts until Google's day ends: wait an hour before the row is tried again.
  if (reason !== undefined && DAILY_REASONS.has(reason)) return new DailyCapError(message, { retryAfterMs: 3_600_000, ...details });
  if (status >= 500 || status === 408 || (reason !== undefined && RETRYABLE_REASONS.has(reason))) {
    return new RetryableDriveError(message, details);
  }
  return new PermanentDriveError(message, details);
}

/** Backoff policy shape for retryDelayMs. */
export interface RetryDelayPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Full-jitter exponential backoff: random() * min(max, base * 2^(attempt-1)).
 * A server-given Retry-After wins (capped at maxMs). Pure: the caller persists the result.
 */
export function retryDelayMs(attempt: number, policy: RetryDelayPolicy, random: () => number = Math.random, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0) return Math.min(retryAfterMs, policy.maxMs);
  const exp = Math.min(Math.max(attempt, 1) - 1, 30);
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** exp);
  return Math.floor(random() * cap);
}
