// The one error model for local files: every problem reading the output tree is a LocalFileError
// whose `code` says what happened and whose `retryable` follows from the code alone.

/**
 * Codes that may clear up by themselves, so the row is retried (a bounded number of times,
 * `upload.max_attempts`). Everything else is permanent: trying again would find the same thing.
 *
 * ENOENT is retryable, wherever it is met (the file, its directory, the job directory): a row
 * exists because its file was seen or announced, so a missing file is most often one being
 * replaced (deleted and written again) or not written yet. A file that stays gone ends `failed`
 * ("not found") once the attempts are used up; if it comes back later, the scan queues it again.
 */
const RETRYABLE = new Set([
  'ENOENT', // gone or not there yet (see above)
  'changed', // the file changed while it was read: read it again
  'EAGAIN',
  'EBUSY',
  'EINTR',
  'EIO',
  'EMFILE',
  'ENFILE',
  'ENOMEM',
  'ESTALE',
  'ETIMEDOUT',
]);

/**
 * A local file (or directory) that cannot be read, or must not be. `code` is `refused` when the
 * daemon will not read it (outside the job directory, a symbolic link, not a regular file, an
 * unsafe name), `changed` when it changed under a read, else the errno code (`ENOENT`,
 * `EACCES`, `ENAMETOOLONG` …). Messages say what and why, with names escaped.
 */
export class LocalFileError extends Error {
  override readonly name = 'LocalFileError';
  readonly code: string;
  readonly retryable: boolean;
  constructor(message: string, code: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.retryable = RETRYABLE.has(code);
  }
}

/** A refusal: the daemon will not read this (the message ends with "refused, never read"). */
export function refused(what: string): LocalFileError {
  return new LocalFileError(`${what}; refused, never read`, 'refused');
}

const WORDS: Record<string, string> = {
  ENOENT: 'not found (deleted, or not written yet)',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENAMETOOLONG: 'name too long for the file system',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  EIO: 'I/O error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
};

/** A caught file-system error about `what` (e.g. "file a.txt") as a LocalFileError. */
export function fsError(what: string, e: unknown): LocalFileError {
  if (e instanceof LocalFileError) return e;
  const code = (e as NodeJS.ErrnoException | null)?.code ?? 'EIO';
  return new LocalFileError(`${what}: ${WORDS[code] ?? 'cannot read it'} (${code})`, code, e);
}
