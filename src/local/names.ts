// Names from outside (job ids, original_filename, directory entries) checked before any use.
import { isUtf8 } from 'node:buffer';

/** Why `jobId` cannot be one directory name under output_dir, or null when it can. */
export function checkJobId(jobId: string): string | null {
  if (jobId.length === 0) return 'is empty';
  if (jobId === '.' || jobId === '..') return `is "${jobId}"`;
  if (jobId.includes('\0')) return 'contains a NUL byte';
  // A backslash is a plain character on Linux, but a path separator to many readers of the name.
  if (/[/\\]/.test(jobId)) return 'contains a path separator';
  if (Buffer.byteLength(jobId) > 255) return 'is longer than 255 bytes';
  return null;
}

/** A job id usable as one directory name under output_dir. */
export function isSafeJobId(jobId: string): boolean {
  return checkJobId(jobId) === null;
}

/** The refusal text for an unsafe job id (the watcher, the walk and the upload say the same). */
export function jobIdProblem(jobId: string): string | null {
  const why = checkJobId(jobId);
  return why === null ? null : `job id "${escapeName(jobId)}" ${why}: it cannot be a directory name under watch.output_dir`;
}

/** Checks an original_filename: relative, `/`-separated, no `.`/`..`/empty segments, no NUL. (A backslash is an ordinary character on Linux.) */
export function checkRelativeName(relPath: string): string | null {
  if (relPath.length === 0) return 'is empty';
  if (relPath.includes('\0')) return 'contains a NUL byte';
  if (relPath.startsWith('/')) return 'is absolute; expected a path relative to the job directory';
  if (relPath.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'has an empty, "." or ".." segment; expected a plain relative path';
  return null;
}

/**
 * A name made safe to show (logs, `status`, upload_error): valid UTF-8 stays as it is; bytes
 * that are not valid UTF-8 and control characters become `\xNN`. For display only: it is not
 * reversible (a name may itself contain a backslash).
 */
export function escapeName(name: string | Buffer): string {
  const s = typeof name === 'string' ? name : decodeLossless(name);
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** The name as text when its bytes are valid UTF-8, else null. */
export function utf8Name(name: Buffer): string | null {
  return isUtf8(name) ? name.toString('utf8') : null;
}

// Valid UTF-8 sequences decoded; each invalid byte as a `\xNN` escape.
function decodeLossless(b: Buffer): string {
  if (isUtf8(b)) return b.toString('utf8');
  let out = '';
  let i = 0;
  while (i < b.length) {
    const len = sequenceLength(b, i);
    if (len > 0) {
      out += b.subarray(i, i + len).toString('utf8');
      i += len;
    } else {
      out += `\\x${(b[i] ?? 0).toString(16).toUpperCase().padStart(2, '0')}`;
      i++;
    }
  }
  return out;
}

// Length of the valid UTF-8 sequence starting at b[i], or 0 when it is not one.
function sequenceLength(b: Buffer, i: number): number {
  for (const len of [1, 2, 3, 4]) {
    if (i + len <= b.length && isUtf8(b.subarray(i, i + len))) return len;
  }
  return 0;
}
