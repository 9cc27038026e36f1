// Adaptive pacer for Drive's per-account write quota (about 3 writes/s sustained).
//
// AIMD with an estimate: writes are spaced 1/rate apart. Each success that had to wait for its
// slot (the pacer was the bottleneck) adds a constant to the rate — fast before the first
// rejection ("slow start"), slow afterwards. A rate-limit answer cuts the rate once per epoch
// (answers to writes sent before the last cut are ignored) to 97 % of the measured accepted
// rate (see estimate()). The cut stays
// within [minCut, maxCut] of the current rate so a noisy estimate cannot collapse or keep it.
// Two guards against a burst of rejections that has nothing to do with our pace (Drive's
// 429 storms): after a cut, rejections within `cutHoldoffMs` do not cut again; and a rate far
// below the last quota estimate (several cuts in a row) climbs back fast to it, the way TCP's
// slow start climbs to ssthresh, instead of creeping up by additiveStep.

export interface PacerOptions {
  /** Writes per second to start with. */
  initialRatePerSec: number;
  /** Floor and ceiling of the rate. */
  minRatePerSec: number;
  maxRatePerSec: number;
  /** Added to the rate per paced success before the first rejection (exponential ramp of ~this fraction per second). */
  slowStartStep: number;
  /** Added to the rate per paced success after a rejection. */
  additiveStep: number;
  /** The cut is clamped to [minCut, maxCut] × current rate. */
  minCut: number;
  maxCut: number;
  /** Share of the estimated quota to run at after a cut. */
  targetShare: number;
  /** Window of successes the estimate looks at, in ms. */
  windowMs: number;
  /** Burst the quota is assumed to allow before the first rejection, in seconds of rate. */
  assumedBurstSec: number;
  /** After a cut, rejections for this long do not cut again (one burst, one cut). */
  cutHoldoffMs: number;
  /** Observer of each cut (tests, metrics). */
  onCut?: (e: { at: number; estimatePerSec: number | null; ratePerSec: number }) => void;
  /** What an earlier run learned (snapshot()): start at its rate instead of initialRatePerSec. */
  resume?: PacerSnapshot | null;
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** One granted write slot: report how it went exactly once. */
export interface PacerPermit {
  success(): void;
  /** A 403/429 rate-limit answer; retryAfterMs from the Retry-After header. */
  rateLimited(retryAfterMs?: number): void;
  /** Any other outcome (does not change the rate). */
  done(): void;
}

export interface PacerStats {
  ratePerSec: number;
  granted: number;
  successes: number;
  rejections: number;
  cuts: number;
  slowStart: boolean;
}

/** The learned part of the pacer, kept across restarts. */
export interface PacerSnapshot {
  ratePerSec: number;
  /** False once Drive has rejected a write: the rate is a measured one, not a guess. */
  slowStart: boolean;
  /** Rate the last quota estimate allowed (0: none). */
  recoverToPerSec: number;
}

export interface Pacer {
  /** Waits for the next write slot. Rejects with the signal's reason when aborted. */
  acquire(signal?: AbortSignal): Promise<PacerPermit>;
  ratePerSec(): number;
  atFloor(): boolean;
  stats(): PacerStats;
  snapshot(): PacerSnapshot;
}

/** Sleep with abort, for the real clock. */
export function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const t = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const DEFAULT_PACER_OPTIONS: Omit<PacerOptions, 'now' | 'sleep' | 'onCut'> = {
  initialRatePerSec: 3,
  minRatePerSec: 0.2,
  maxRatePerSec: 100,
  slowStartStep: 0.25,
  additiveStep: 0.001,
  minCut: 0.5,
  maxCut: 0.9,
  targetShare: 0.97,
  windowMs: 30_000,
  assumedBurstSec: 1,
  cutHoldoffMs: 3000,
};

interface Waiter {
  resolve: (p: PacerPermit) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
  /** The slot was not free when asked for: the pacer, not demand, set the pace. */
  waited: boolean;
}

/** Creates the shared write pacer of one Drive account. */
export function createPacer(opts: Partial<PacerOptions> = {}): Pacer {
  const o: PacerOptions = {
    ...DEFAULT_PACER_OPTIONS,
    now: () => Date.now(),
    sleep: defaultSleep,
    ...opts,
  };
  const resume = validSnapshot(o.resume);
  let rate = clamp(resume?.ratePerSec ?? o.initialRatePerSec);
  let nextAt = 0;
  let epoch = 0;
  let slowStart = resume?.slowStart ?? true;
  let lastCutAt = -Infinity;
  /** Rate the last quota estimate allows; below 90 % of it the rate climbs fast. */
  let recoverTo = resume?.recoverToPerSec ?? 0;
  const successTimes: number[] = [];
  const queue: Waiter[] = [];
  let pumping = false;
  const st = { granted: 0, successes: 0, rejections: 0, cuts: 0 };

  function clamp(r: number): number {
    return Math.min(o.maxRatePerSec, Math.max(o.minRatePerSec, r));
  }

  function prune(now: number): void {
    const from = now - o.windowMs;
    let i = 0;
    while (i < successTimes.length && (successTimes[i] ?? 0) < from) i++;
    if (i > 0) successTimes.splice(0, i);
  }

  // The quota's bucket is empty at a rejection, so for every window W ending now the quota R
  // satisfies successes(W) <= R*W + burst = R*(W + assumedBurstSec): each window gives a lower
  // bound on R, and the window that starts when the bucket was last full makes it tight.
  // "Empty" means less than one token left, so that window also gives R < (successes + 1)/(W + b):
  // take the middle. It matters at a cold start, where about ten successes before the first
  // rejection leave R uncertain by a tenth and the lower bound alone cut 3/s to 2.66/s.
  function estimate(now: number): number | null {
    prune(now);
    let best: number | null = null;
    const n = successTimes.length;
    for (let i = 0; i < n; i++) {
      const w = (now - (successTimes[i] ?? now)) / 1000;
      const r = (n - i + 0.5) / (w + o.assumedBurstSec);
      if (best === null || r > best) best = r;
    }
    return best;
  }

  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      while (queue.length > 0) {
        const now = o.now();
        if (now < nextAt) {
          for (const q of queue) q.waited = true;
          // nextAt may move later while we sleep (a cut); the loop re-checks.
          await o.sleep(nextAt - now);
          continue;
        }
        const w = queue.shift();
        if (!w) break;
        w.signal?.removeEventListener('abort', w.onAbort);
        nextAt = now + 1000 / rate;
        st.granted++;
        w.resolve(makePermit(epoch, w.waited));
      }
    } finally {
      pumping = false;
    }
  }

  function makePermit(permitEpoch: number, saturated: boolean): PacerPermit {
    let settled = false;
    return {
      success() {
        if (settled) return;
        settled = true;
        const now = o.now();
        st.successes++;
        successTimes.push(now);
        prune(now);
        if (saturated) rate = clamp(rate + (slowStart || rate < 0.9 * recoverTo ? o.slowStartStep : o.additiveStep));
      },
      rateLimited(retryAfterMs?: number) {
        if (settled) return;
        settled = true;
        st.rejections++;
        const now = o.now();
        if (permitEpoch === epoch && now - lastCutAt >= o.cutHoldoffMs) {
          const est = estimate(now);
          const target = est === null ? rate * o.maxCut : est * o.targetShare;
          // Keep the best recent estimate: a storm of rejections starves the window of successes.
          recoverTo = Math.max(est === null ? 0 : est * o.targetShare, now - lastCutAt < 10 * o.windowMs ? recoverTo : 0);
          lastCutAt = now;
          rate = clamp(Math.min(rate * o.maxCut, Math.max(rate * o.minCut, target)));
          epoch++;
          st.cuts++;
          slowStart = false;
          o.onCut?.({ at: now, estimatePerSec: est, ratePerSec: rate });
        }
        nextAt = Math.max(nextAt, now + Math.max(retryAfterMs ?? 0, 1000 / rate));
      },
      done() {
        settled = true;
      },
    };
  }

  return {
    acquire(signal?: AbortSignal): Promise<PacerPermit> {
      return new Promise<PacerPermit>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        const w: Waiter = {
          resolve,
          reject,
          signal,
          waited: false,
          onAbort: () => {
            const i = queue.indexOf(w);
            if (i >= 0) queue.splice(i, 1);
            reject(signal?.reason);
          },
        };
        signal?.addEventListener('abort', w.onAbort, { once: true });
        queue.push(w);
        void pump().catch((e: unknown) => {
          // sleep() only fails if the injected sleep is broken: fail every waiter rather than hang.
          for (const q of queue.splice(0)) q.reject(e);
        });
      });
    },
    ratePerSec: () => rate,
    atFloor: () => rate <= o.minRatePerSec * 1.0001,
    stats: () => ({ ratePerSec: rate, ...st, slowStart }),
    snapshot: () => ({ ratePerSec: rate, slowStart, recoverToPerSec: recoverTo }),
  };
}

/** A snapshot read back from disk is outside input: anything but finite positive numbers is ignored. */
function validSnapshot(s: PacerSnapshot | null | undefined): PacerSnapshot | null {
  if (!s || typeof s !== 'object') return null;
  const ok = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= 0;
  if (!ok(s.ratePerSec) || s.ratePerSec <= 0 || !ok(s.recoverToPerSec) || typeof s.slowStart !== 'boolean') return null;
  return s;
}
