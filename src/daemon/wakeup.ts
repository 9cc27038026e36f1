import type { Database, WakeEvent } from '../db/index.js';
import type { Logger } from '../log/index.js';
import { errorMessage } from '../log/index.js';
import { scanJobs, type SyncContext } from '../sync/index.js';

export interface WakeupOptions {
  database: Database;
  getCtx: () => SyncContext;
  log: Logger;
  signal: AbortSignal;
  /** Rows may be due now (wakes the reconciler). */
  onWork: () => void;
  /** A job was enabled: forget cached "not enabled" answers and watch its directories. */
  onJobEnabled: () => Promise<void>;
  /** Notifications may have been missed (the LISTEN connection was lost): scan everything. */
  onResync: () => Promise<void>;
}

/**
 * Instant wake-ups from the database (PostgreSQL LISTEN/NOTIFY; nothing on SQLite, where the
 * watcher and the scans do it): a job enabled is walked at once, a row made due wakes the
 * reconciler. The scheduled scan stays as the safety net.
 */
export async function startWakeups(opts: WakeupOptions): Promise<{ close(): Promise<void> }> {
  const { log } = opts;
  // One walk per job at a time; a notification meanwhile asks for one more.
  const walking = new Map<string, boolean>();
  const walkJob = async (jobId: string) => {
    if (walking.has(jobId)) {
      walking.set(jobId, true);
      return;
    }
    walking.set(jobId, false);
    try {
      do {
        walking.set(jobId, false);
        await opts.onJobEnabled();
        if (opts.signal.aborted) break;
        await scanJobs(opts.getCtx(), { jobId, signal: opts.signal });
        opts.onWork();
      } while (walking.get(jobId));
    } catch (e) {
      log.warning('job scan after a wake-up failed; the next scan retries', { job: jobId, error: errorMessage(e) });
    } finally {
      walking.delete(jobId);
    }
  };
  const onWake = (e: WakeEvent) => {
    if (opts.signal.aborted) return;
    if (e.kind === 'file') opts.onWork();
    else if (e.kind === 'job') void walkJob(e.jobId);
    else void opts.onResync().catch((err: unknown) => log.warning('scan after reconnect failed', { error: errorMessage(err) }));
  };
  const listener = await opts.database.listen(onWake, log);
  if (listener) log.info('listening for database wake-ups', { database: opts.database.label });
  return { close: async () => listener?.close() };
}
