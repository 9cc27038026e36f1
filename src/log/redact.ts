/** Keys whose values are never logged, whatever the caller passes. */
const SECRET_KEY_RE = /(token|secret|password|private_key|authorization|assertion|credential)/i;
/** Values that look like secrets even under an innocent key (Google access/refresh tokens, PEM keys, JWTs). */
const SECRET_VALUE_RES: RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /\bya29\.[A-Za-z0-9._-]+/g,
  /\b1\/\/[A-Za-z0-9._-]{10,}/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g,
  /(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi,
  /((?:access_token|refresh_token|client_secret|assertion)=)[^&\s"]+/gi,
  // A database URL's password (postgres://user:PASSWORD@host) and a password= parameter.
  /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+(?=@)/gi,
  /([?&]password=)[^&\s"]+/gi,
];

/** Replaces secret-looking substrings in a string. */
export function redactText(s: string): string {
  let out = s;
  for (const re of SECRET_VALUE_RES) {
    out = out.replace(re, (_m, prefix: unknown) => (typeof prefix === 'string' && /[=\s:]$/.test(prefix) ? `${prefix}[redacted]` : '[redacted]'));
  }
  return out;
}

/** Deep copy of `v` with secret keys and secret-looking strings replaced. */
export function redact(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return redactText(v);
  if (depth > 6 || v === null || typeof v !== 'object') return v;
  if (v instanceof Error) return redactText(v.stack ?? v.message);
  if (Array.isArray(v)) return v.map((x) => redact(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) out[k] = SECRET_KEY_RE.test(k) ? '[redacted]' : redact(val, depth + 1);
  return out;
}

/** The message of anything thrown (catch variables are `unknown`). */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
