import type { EnabledJob, UploadStore } from '../db/index.js';

/** "Is this job Drive-enabled, and with which row": the one answer the watcher path and the reconciler share. */
export interface EnabledJobs {
  /** The job when it is Drive-enabled, else undefined. Concurrent asks for one job share one query. */
  get(jobId: string): Promise<EnabledJob | undefined>;
  isEnabled(jobId: string): Promise<boolean>;
  /** Forget every answer (a scan has just re-read the jobs). */
  clear(): void;
}

/**
 * Answers from `batch_jobs`, each kept for `ttlMs` (Infinity: for the caller's lifetime, as one
 * reconcile pass does). A job disabled meanwhile is seen once its answer expires; uploadRow
 * refuses rows whose job is gone, so a stale "enabled" costs at most one refused attempt.
 */
export function createEnabledJobs(store: Pick<UploadStore, 'listEnabledJobs'>, opts: { now: () => number; ttlMs: number }): EnabledJobs {
  const cache = new Map<string, { job: Promise<EnabledJob | undefined>; at: number }>();
  const get = (jobId: string) => {
    const hit = cache.get(jobId);
    if (hit && opts.now() - hit.at < opts.ttlMs) return hit.job;
    const job = store.listEnabledJobs(jobId).then((j) => j[0]);
    const entry = { job, at: opts.now() };
    cache.set(jobId, entry);
    // A failed query is not an answer: the next ask tries again.
    job.catch(() => {
      if (cache.get(jobId) === entry) cache.delete(jobId);
    });
    return job;
  };
  return {
    get,
    isEnabled: async (jobId) => (await get(jobId)) !== undefined,
    clear: () => cache.clear(),
  };
}
