import type { EmulatorFaults } from './types.js';

export const DEFAULT_FAULTS: EmulatorFaults = {
  writeQuotaPerSec: null,
  rateLimitStatus: 403,
  dailyUploadCapBytes: null,
  storageQuotaBytes: null,
  error5xxRate: 0,
  resetRate: 0,
  burst429: null,
  latencyMs: 0,
  shortPageRate: 0,
  partialChunkRate: 0,
  partialChunkAnswer: 'reset',
  seed: 1,
};

/** mulberry32: small, fast, seedable; good enough for fault dice. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What to do with one Drive request before it is handled. */
export type FaultDecision = { kind: 'none' } | { kind: 'reset'; afterWork: boolean } | { kind: 'burst429' } | { kind: '5xx'; status: 500 | 503 };

export interface FaultEngine {
  readonly faults: EmulatorFaults;
  set(f: Partial<EmulatorFaults>): void;
  /** Draws the dice for one /drive or /upload request. */
  decide(): FaultDecision;
  /** Takes one token from the write bucket; false = over quota. */
  takeWrite(): boolean;
  /** Short-page fault for a page of `n` items: how many to answer (0..n-1), or null for all. */
  shortPage(n: number): number | null;
  /** Partial-chunk fault for a chunk of `blocks` new 256 KiB blocks: how many to keep (1..blocks-1), or null. */
  partialChunk(blocks: number): number | null;
  resetCounters(): void;
}

function validate(f: EmulatorFaults): void {
  const rate = (n: number, name: string) => {
    if (!Number.isFinite(n) || n < 0 || n > 1) throw new Error(`${name} must be between 0 and 1, got ${n}`);
  };
  rate(f.error5xxRate, 'error5xxRate');
  rate(f.resetRate, 'resetRate');
  rate(f.shortPageRate, 'shortPageRate');
  rate(f.partialChunkRate, 'partialChunkRate');
  if (f.partialChunkAnswer !== 'reset' && f.partialChunkAnswer !== '308') {
    throw new Error(`partialChunkAnswer must be "reset" or "308", got ${JSON.stringify(f.partialChunkAnswer)}`);
  }
  const nonNeg = (n: number | null, name: string) => {
    if (n !== null && (!Number.isFinite(n) || n < 0)) throw new Error(`${name} must be a non-negative number or null, got ${n}`);
  };
  nonNeg(f.writeQuotaPerSec, 'writeQuotaPerSec');
  nonNeg(f.dailyUploadCapBytes, 'dailyUploadCapBytes');
  nonNeg(f.storageQuotaBytes, 'storageQuotaBytes');
  nonNeg(f.latencyMs, 'latencyMs');
  if (f.rateLimitStatus !== 403 && f.rateLimitStatus !== 429) throw new Error(`rateLimitStatus must be 403 or 429, got ${String(f.rateLimitStatus)}`);
  if (f.burst429 && !(f.burst429.every > 0 && f.burst429.length >= 0)) throw new Error('burst429 needs every > 0 and length >= 0');
}

export function createFaultEngine(initial: Partial<EmulatorFaults> | undefined, clock: () => number): FaultEngine {
  const faults: EmulatorFaults = { ...DEFAULT_FAULTS, ...initial };
  validate(faults);
  let rand = mulberry32(faults.seed);
  const capacity = () => Math.max(faults.writeQuotaPerSec ?? 0, 1);
  let tokens = capacity();
  let lastRefill = clock();
  let driveCount = 0;

  return {
    faults,
    set: (f) => {
      const next = { ...faults, ...f };
      validate(next);
      const quotaChanged = f.writeQuotaPerSec !== undefined && f.writeQuotaPerSec !== faults.writeQuotaPerSec;
      Object.assign(faults, next);
      if (f.seed !== undefined) rand = mulberry32(f.seed);
      if (quotaChanged) {
        tokens = capacity();
        lastRefill = clock();
      }
      if (f.burst429 !== undefined) driveCount = 0;
    },
    decide: () => {
      const index = driveCount++;
      const b = faults.burst429;
      if (b && b.length > 0 && index % (b.every + b.length) >= b.every) return { kind: 'burst429' };
      if (faults.resetRate > 0 && rand() < faults.resetRate) return { kind: 'reset', afterWork: rand() < 0.5 };
      if (faults.error5xxRate > 0 && rand() < faults.error5xxRate) return { kind: '5xx', status: rand() < 0.5 ? 500 : 503 };
      return { kind: 'none' };
    },
    takeWrite: () => {
      const rate = faults.writeQuotaPerSec;
      if (rate === null) return true;
      const now = clock();
      tokens = Math.min(Math.max(rate, 1), tokens + ((now - lastRefill) / 1000) * rate);
      lastRefill = now;
      if (tokens >= 1) {
        tokens -= 1;
        return true;
      }
      return false;
    },
    // Dice are drawn only while a rate is above 0, so seeded sequences of the other faults stay as they were.
    shortPage: (n) => (faults.shortPageRate > 0 && n > 0 && rand() < faults.shortPageRate ? Math.floor(rand() * n) : null),
    partialChunk: (blocks) => (faults.partialChunkRate > 0 && blocks >= 2 && rand() < faults.partialChunkRate ? 1 + Math.floor(rand() * (blocks - 1)) : null),
    resetCounters: () => {
      driveCount = 0;
      rand = mulberry32(faults.seed);
      tokens = capacity();
      lastRefill = clock();
    },
  };
}
