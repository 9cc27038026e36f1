/**
 * An account-wide pause after an auth failure (revoked refresh token, unusable key): every row
 * would fail the same way, so uploads stop for a growing delay instead of each row hammering
 * the token endpoint. Per runtime, not module state.
 */
export interface AccountPause {
  /** Epoch ms until which no row should be claimed; null when not paused. */
  until(now: number): number | null;
  /** Records an auth failure (and why); `first` is true when this starts a new pause (log it once). */
  authFailed(now: number, why?: string): { resumeAt: number; first: boolean };
  /** Why the last auth failure happened, until a success; null when none. */
  lastFailure(): string | null;
  /** Any success ends the streak. */
  succeeded(): void;
}

export function createAccountPause(policy: { baseMs: number; maxMs: number }): AccountPause {
  let streak = 0;
  let resumeAt = 0;
  let last: string | null = null;
  return {
    until: (now) => (resumeAt > now ? resumeAt : null),
    lastFailure: () => last,
    authFailed(now, why) {
      if (why !== undefined) last = why;
      if (resumeAt > now) return { resumeAt, first: false };
      streak++;
      resumeAt = now + Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(streak - 1, 20));
      return { resumeAt, first: true };
    },
    succeeded() {
      streak = 0;
      last = null;
      resumeAt = 0;
    },
  };
}
