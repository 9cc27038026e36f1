import { ConfigError } from '../config/errors.js';
import { DbError } from '../db/errors.js';
import { redactText } from '../log/redact.js';

/** Wrong command-line usage: exit 64 (EX_USAGE). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const EXIT = { ok: 0, failure: 1, usage: 64, config: 78 } as const;

/**
 * Exit code for an error that ended a command. 78 (EX_CONFIG) for what a restart cannot fix:
 * bad config, unusable credentials, wrong or unmigrated database — systemd does not restart-loop on it.
 */
export function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError) return EXIT.usage;
  if (e instanceof ConfigError) return EXIT.config;
  if (e instanceof DbError && e.permanent) return EXIT.config;
  const kind = (e as { kind?: unknown } | null)?.kind;
  const name = (e as { name?: unknown } | null)?.name;
  if (kind === 'auth' || name === 'DriveAuthError') return EXIT.config;
  return EXIT.failure;
}

/**
 * One readable message for stderr; ConfigError lists every problem on its own line. No class
 * names (`DbError:`): the operator needs what is wrong, not which of our classes said it.
 */
export function describeError(e: unknown): string {
  if (e instanceof ConfigError) return e.problems.map((p) => redactText(`config error: ${p}`)).join('\n');
  // Belt and braces: no token or key text reaches the terminal even if a library put one in a message.
  if (e instanceof UsageError) return redactText(`usage error: ${e.message}`);
  return redactText(`error: ${e instanceof Error ? e.message : String(e)}`);
}
