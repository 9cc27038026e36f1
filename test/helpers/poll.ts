// The one poll-with-deadline of the tests, benchmarks and chaos runs: wait for a state instead
// of sleeping for a guessed time.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Thrown inside a waitUntil() callback to stop waiting at once (e.g. the daemon died). */
export class GiveUp extends Error {
  override readonly name = 'GiveUp';
}

/**
 * Polls `fn` until it returns a truthy value and returns it. An error thrown by `fn` counts as
 * "not yet" (a file or table may not exist yet), except GiveUp, which ends the wait. After
 * `timeoutMs` it fails naming `what` and the last value or error seen.
 */
export async function waitUntil<T>(fn: () => T | Promise<T>, timeoutMs = 15_000, what = 'condition', intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      if (e instanceof GiveUp) throw e;
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await sleep(intervalMs);
  }
}
