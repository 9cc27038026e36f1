import { classifyDriveError, DriveError } from '../drive/index.js';
import { PatternError } from '../config/index.js';
import { LocalFileError, LocalPathError } from '../watch/index.js';
import { errorMessage } from '../log/index.js';

/** What to do with a row after an error. Only sync decides between retry and fail. */
export interface ErrorDecision {
  /** retry: pending again later; fail: permanent; pause: pending again, attempt not counted. */
  action: 'retry' | 'fail' | 'pause';
  /** Machine-readable class, e.g. "retryable:backendError", "permanent:storageQuotaExceeded", "local:symlink". */
  reason: string;
  /** Short human text for upload_error (never secrets). */
  message: string;
  retryAfterMs?: number | undefined;
}

export function decide(e: unknown): ErrorDecision {
  if (e instanceof LocalPathError) return { action: 'fail', reason: 'local:refused', message: e.message };
  if (e instanceof PatternError) return { action: 'fail', reason: 'config:folder_pattern', message: e.message };
  // The database (busy, full disk, I/O): not Drive's fault and not the file's; try again later.
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    return { action: 'retry', reason: `db:${code}`, message: `database: ${errorMessage(e)}` };
  }
  if (e instanceof LocalFileError) {
    return { action: e.retryable ? 'retry' : 'fail', reason: `local:${e.code ?? 'io'}`, message: e.message };
  }
  const d: DriveError = e instanceof DriveError ? e : classifyDriveError(e);
  const reason = `${d.kind}:${d.reason ?? d.status ?? 'error'}`;
  switch (d.kind) {
    case 'daily_cap':
    case 'rate_limit':
      // Waiting for Drive's quota is not the file's fault: no attempt is burned.
      return { action: 'pause', reason, message: d.message, retryAfterMs: d.retryAfterMs };
    case 'auth':
      // Credentials affect every file: keep rows pending (operator must fix the key), never fail them.
      return { action: 'pause', reason, message: d.message, retryAfterMs: d.retryAfterMs };
    case 'local':
      return { action: d.retryable ? 'retry' : 'fail', reason, message: d.message };
    default:
      return { action: d.retryable ? 'retry' : 'fail', reason, message: errorMessage(d) };
  }
}
