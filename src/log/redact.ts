// The one redaction used wherever the daemon or the CLI writes something a person or a log
// shipper reads: log lines (both formats), check-config and error output, row errors.
// Secrets are found two ways: by what they look like (Google's token and secret formats,
// PEM keys, JWTs, auth headers, form and JSON fields) and, for values that look like nothing
// in particular, by being handed in literally (`known`, e.g. the configured client secret).

/** Keys whose values are never logged, whatever the caller passes. */
const SECRET_KEY_RE = /(token|secret|password|passwd|private_?key|authorization|assertion|credential|api_?key|cookie)/i;

const R = '[redacted]';
// Field names whose value is a secret in a form body, a query string or a JSON text.
const SECRET_FIELDS = 'access_token|refresh_token|id_token|client_secret|private_key|assertion|password|api_key|key';

/** Values that look like secrets wherever they appear. Group 1, when present, is kept (a prefix). */
const SECRET_VALUE_RES: readonly RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  // Google OAuth client secrets, access tokens, refresh tokens.
  /GOCSPX-[A-Za-z0-9_-]+/g,
  /ya29\.[A-Za-z0-9._~+/-]+/g,
  /(?<![A-Za-z0-9])1\/\/[0-9A-Za-z_-][0-9A-Za-z._~+/-]{8,}/g,
  // JWTs (service-account assertions, id tokens).
  /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g,
  // Authorization header values, in any spelling: "Bearer x", "authorization: Basic y", {"Authorization":"z"}.
  /((?:proxy-)?authorization["']?\s*[:=]\s*["']?)[^"'\r\n,;}]+/gi,
  /(\b(?:Bearer|Basic|Negotiate)\s+)[A-Za-z0-9._~+/=-]+/gi,
  // Form bodies and query strings: client_secret=…&refresh_token=…
  new RegExp(`((?:^|[?&\\s"'])(?:${SECRET_FIELDS})=)[^&\\s"']+`, 'gi'),
  // A URL's password (postgres://user:PASSWORD@host: database.url).
  /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+(?=@)/gi,
];
// JSON text: "refresh_token": "…" (the value stays a JSON string).
const SECRET_JSON_FIELD_RE = new RegExp(`("(?:${SECRET_FIELDS})"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi');

/** Whether a field of this name holds a secret (its value is never shown). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY_RE.test(key);
}

/** Replaces secret-looking substrings, and every occurrence of a `known` secret, in a string. */
export function redactText(s: string, known: readonly string[] = []): string {
  let out = s;
  for (const k of known) if (k.length >= 4 && out.includes(k)) out = out.split(k).join(R);
  out = out.replace(SECRET_JSON_FIELD_RE, (_m, prefix: string) => `${prefix}"${R}"`);
  for (const re of SECRET_VALUE_RES) out = out.replace(re, (_m, prefix: unknown) => (typeof prefix === 'string' ? prefix + R : R));
  return out;
}

const MAX_DEPTH = 64;

/**
 * Deep copy of `v` fit for output: secret keys and secret-looking strings replaced at any depth
 * (objects, arrays, Maps, Error causes, AggregateErrors, error configs), cycles cut. Errors become
 * their stack plus their cause chain as text; what is too deep to copy is dropped, never passed on.
 */
export function redact(v: unknown, known: readonly string[] = []): unknown {
  const seen = new WeakSet<object>();
  const walk = (x: unknown, depth: number): unknown => {
    if (typeof x === 'string') return redactText(x, known);
    if (x === null || typeof x !== 'object') return typeof x === 'function' || typeof x === 'symbol' ? undefined : x;
    if (depth > MAX_DEPTH) return '[too deep]';
    if (seen.has(x)) return '[circular]';
    seen.add(x);
    try {
      if (x instanceof Error) return errorText(x, known, depth, walk);
      if (x instanceof Date) return x;
      if (x instanceof URL || x instanceof URLSearchParams) return redactText(String(x), known);
      if (ArrayBuffer.isView(x) || x instanceof ArrayBuffer) return `[${x.byteLength} bytes]`;
      if (Array.isArray(x)) return x.map((y) => walk(y, depth + 1));
      if (x instanceof Set) return [...x].map((y) => walk(y, depth + 1));
      // Maps and Map-like objects (fetch Headers): their entries, not their (empty) own keys.
      const entries =
        x instanceof Map || (typeof (x as { entries?: unknown }).entries === 'function' && typeof (x as { forEach?: unknown }).forEach === 'function')
          ? [...(x as Map<unknown, unknown>).entries()].map(([k, val]) => [String(k), val] as const)
          : Object.entries(x);
      const out: Record<string, unknown> = {};
      for (const [k, val] of entries) out[k] = SECRET_KEY_RE.test(k) ? R : walk(val, depth + 1);
      return out;
    } finally {
      seen.delete(x);
    }
  };
  return walk(v, 0);
}

function errorText(e: Error, known: readonly string[], depth: number, walk: (x: unknown, d: number) => unknown): string {
  let text = redactText(e.stack ?? `${e.name}: ${e.message}`, known);
  if (e instanceof AggregateError) {
    for (const inner of e.errors as unknown[]) text += `\n  error: ${asText(walk(inner, depth + 1))}`;
  }
  if (e.cause !== undefined) text += `\ncaused by: ${asText(walk(e.cause, depth + 1))}`;
  return text;
}

function asText(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
}

/** The message of anything thrown (catch variables are `unknown`). Not redacted: output goes through redact/redactText. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
