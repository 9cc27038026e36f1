/**
 * An account-wide pause after an auth failure (revoked refresh token, unusable key): every row
 * would fail the same way, so uploads stop for a growing delay instead of each row hammering
 * the token endpoint. Per runtime, not module state.
 */
export interface AccountPause {
  /** Epoch ms until which no row should be claimed; null when not paused. */
  until(now: number): number | null;
  /** Records an auth failure; `first` is true when this starts a new pause (log it once). */
  authFailed(now: number): { resumeAt: number; first: boolean };
  /** Any success ends the streak. */
  succeeded(): void;
}

export function createAccountPause(policy: { baseMs: number; maxMs: number }): AccountPause {
  let streak = 0;
  let resumeAt = 0;
  return {
    until: (now) => (resumeAt > now ? resumeAt : null),
    authFailed(now) {
      if (resumeAt > now) return { resumeAt, first: false };
      streak++;
      resumeAt = now + Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(streak - 1, 20));
      return { resumeAt, first: true };
    },
    succeeded() {
      streak = 0;
      resumeAt = 0;
    },
  };
}
