import { DriveError } from '../drive/index.js';
import { PatternError } from '../config/index.js';
import { LocalFileError } from '../local/index.js';
import { errorMessage } from '../log/index.js';

/** What to do with a row after an error. Only sync decides between retry and fail. */
export interface ErrorDecision {
  /** retry: pending again later; fail: permanent; pause: pending again, attempt not counted. */
  action: 'retry' | 'fail' | 'pause';
  /** Machine-readable class, e.g. "retryable:backendError", "permanent:storageQuotaExceeded", "local:refused", "internal:TypeError". */
  reason: string;
  /** Short human text for upload_error (never secrets). */
  message: string;
  retryAfterMs?: number | undefined;
  /** A failure of our own code (a bug): logged with its stack. */
  internal?: boolean;
}

/**
 * The one place an error becomes a row decision. Each kind is what its layer raised: local files
 * (src/local), folder patterns (config), the database, and Drive (only DriveErrors: what src/drive
 * raised). Anything else is ours, `internal`: retried a bounded number of times, never Drive's.
 */
export function decide(e: unknown): ErrorDecision {
  if (e instanceof LocalFileError) return { action: e.retryable ? 'retry' : 'fail', reason: `local:${e.code}`, message: e.message };
  if (e instanceof PatternError) return { action: 'fail', reason: 'config:folder_pattern', message: e.message };
  // The database (busy, full disk, I/O): not Drive's fault and not the file's; try again later.
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    return { action: 'retry', reason: `db:${code}`, message: `database: ${errorMessage(e)}` };
  }
  if (e instanceof DriveError) {
    const reason = `${e.kind}:${e.reason ?? e.status ?? 'error'}`;
    switch (e.kind) {
      case 'daily_cap':
      case 'rate_limit':
        // Waiting for Drive's quota is not the file's fault: no attempt is burned.
        return { action: 'pause', reason, message: e.message, retryAfterMs: e.retryAfterMs };
      case 'auth':
        // Credentials affect every file: keep rows pending (operator must fix the key), never fail them.
        return { action: 'pause', reason, message: e.message, retryAfterMs: e.retryAfterMs };
      case 'retryable':
      case 'permanent':
        return { action: e.retryable ? 'retry' : 'fail', reason, message: e.message };
    }
  }
  const name = e instanceof Error ? e.name : typeof e;
  return { action: 'retry', reason: `internal:${name}`, message: `internal error (${name}: ${errorMessage(e)})`, internal: true };
}
