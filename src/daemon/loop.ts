import type { SyncContext } from '../sync/index.js';
import { drainDue, uploadsPausedUntil } from '../sync/index.js';
import { errorMessage } from '../log/index.js';

export interface ReconcileLoop {
  /** Run a pass as soon as possible (coalesced: many nudges during a pass cause one more pass). */
  nudge(): void;
  /** Resolves when the loop has stopped and every upload in flight has settled. */
  done: Promise<void>;
}

export interface LoopOptions {
  getCtx: () => SyncContext;
  stopClaiming: AbortSignal;
  abortUploads: AbortSignal;
  onProgress: () => void;
  /** Longest idle wait between passes; keeps the watchdog fed and catches rows made due by others. */
  maxIdleMs: number;
}

/** The reconciler loop: drain due rows, then sleep until the next row is due, a nudge, or stop. */
export function startReconcileLoop(opts: LoopOptions): ReconcileLoop {
  let again = false;
  let wake: (() => void) | null = null;
  const nudge = () => {
    again = true;
    wake?.();
  };
  const done = (async () => {
    let failures = 0;
    while (!opts.stopClaiming.aborted) {
      const ctx = opts.getCtx();
      again = false;
      let waitMs: number;
      try {
        await drainDue(ctx, { stopClaiming: opts.stopClaiming, abortUploads: opts.abortUploads, onProgress: opts.onProgress });
        failures = 0;
        opts.onProgress();
        const next = await ctx.store.nextDueAt();
        const paused = uploadsPausedUntil(ctx);
        const t = ctx.now();
        waitMs = next === null ? opts.maxIdleMs : Math.max(0, next - t);
        if (paused !== null) waitMs = Math.max(waitMs, paused - t);
      } catch (e) {
        // A database hiccup must not end the daemon: log, back off, try again.
        failures++;
        waitMs = Math.min(30_000, 500 * 2 ** Math.min(failures, 6));
        ctx.log.error('reconcile pass failed; retrying', { error: errorMessage(e), retry_in_ms: waitMs });
      }
      if (again || opts.stopClaiming.aborted) continue;
      waitMs = Math.min(waitMs, opts.maxIdleMs);
      if (waitMs <= 0) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done() {
          clearTimeout(timer);
          wake = null;
          opts.stopClaiming.removeEventListener('abort', done);
          resolve();
        }
        wake = done;
        opts.stopClaiming.addEventListener('abort', done, { once: true });
      });
    }
  })();
  return { nudge, done };
}
