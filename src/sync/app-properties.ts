import { createHash } from 'node:crypto';

/** Drive limits each appProperty to 124 bytes of key + value (UTF-8). */
const MAX_BYTES = 124;

/** Fits `value` under `key`: kept when short enough, else a readable prefix plus a hash of the whole. */
export function fitAppProperty(key: string, value: string): string {
  const room = MAX_BYTES - Buffer.byteLength(key, 'utf8');
  if (Buffer.byteLength(value, 'utf8') <= room) return value;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, 16);
  // Whole code points only: a lone surrogate would reach Drive as U+FFFD.
  const limit = room - hash.length - 1;
  let prefix = '';
  let used = 0;
  for (const ch of value) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (used + n > limit) break;
    prefix += ch;
    used += n;
  }
  return `${prefix}~${hash}`;
}

/** Properties that tie a Drive file back to its job and row (searchable with `appProperties has`). */
export function fileAppProperties(jobId: string, rowId: number): Record<string, string> {
  return { bdsJob: fitAppProperty('bdsJob', jobId), bdsRow: String(rowId) };
}
