// Pool of ids reserved with files.generateIds: n ids cost about n/1000 requests, and concurrent
// callers share one in-flight request. Unused ids are simply never used (Drive does not mind).
import type { DriveCore } from './core.js';
import { RetryableDriveError } from './errors.js';

export interface IdPool {
  take(n: number): Promise<string[]>;
  /** Up to n ids already fetched, at once: never a request (an empty pool answers []). */
  takeFetched(n: number): string[];
  /** Ids taken but not used (stored nowhere): the next take hands them out again. */
  giveBack(ids: readonly string[]): void;
}

export function createIdPool(core: Pick<DriveCore, 'api' | 'call'>, opts: { batchSize: number }): IdPool {
  const batch = Math.min(1000, Math.max(1, opts.batchSize));
  const pool: string[] = [];
  let refill: Promise<void> | null = null;
  let waiting = 0; // ids wanted by callers blocked on the current refill

  async function fetchIds(count: number): Promise<void> {
    const res = await core.call(() => core.api.files.generateIds({ count, space: 'drive', type: 'files' }, { retry: false }));
    const ids = res.data.ids ?? [];
    if (ids.length === 0) throw new RetryableDriveError('Drive files.generateIds returned no ids', { reason: 'noIds' });
    pool.push(...ids);
  }

  return {
    takeFetched: (n) => pool.splice(0, Math.max(0, n)),
    giveBack(ids) {
      pool.unshift(...ids);
    },
    async take(n: number): Promise<string[]> {
      const out: string[] = [];
      while (out.length < n) {
        if (pool.length > 0) {
          out.push(...pool.splice(0, n - out.length));
          continue;
        }
        const need = n - out.length;
        waiting += need;
        try {
          refill ??= fetchIds(Math.min(1000, Math.max(batch, waiting))).finally(() => {
            refill = null;
          });
          await refill;
        } finally {
          waiting -= need;
        }
      }
      return out;
    },
  };
}
