import { schedule, type ScheduledTask } from 'node-cron';
import type { Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { errorMessage } from '../log/index.js';
import { scanJobs, type SyncContext } from '../sync/index.js';

/**
 * `startup`: walks every job that can still change (files written while the daemon was down).
 * `scheduled` (scan_cron): folders and statuses of every job; walks only the jobs the watcher
 * does not fully cover. `full` (full_scan_cron): walks every job that can still change, the
 * safety net for an event the watcher missed. None walks a `completed` job: it is finished and
 * every file is in Drive (`sync --once` walks those too).
 */
export type ScanKind = 'startup' | 'scheduled' | 'full';

export interface ScanOptions {
  getCtx: () => SyncContext;
  log: Logger;
  signal: AbortSignal;
  /** True when every directory of the job is watched. */
  covers: (jobId: string) => boolean;
  /** After every finished scan (clear caches, wake the reconciler, update the watches). */
  afterScan: () => Promise<void>;
}

export interface Scans {
  /** Runs a scan now. A scheduled scan asked while one runs shares it; a walk waits for it and runs next. */
  scan(kind?: ScanKind): Promise<void>;
  /** Starts (or, after a reload, restarts) the cron schedules from the config. */
  schedule(cfg: Readonly<Config>): Promise<void>;
  /** Longest gap between two scheduled scans, in ms (for the health check). */
  intervalMs(): number;
  stop(): Promise<void>;
}

export function createScans(opts: ScanOptions): Scans {
  let running: { kind: ScanKind; done: Promise<void> } | null = null;
  const crons = new Map<string, { expr: string; task: ScheduledTask }>();
  // A scheduled scan trusts the watcher only after a start-up or full scan has walked every job
  // with its watches up. Before that, a file written while the daemon was down is known to
  // nobody: a scheduled scan that skipped its job would read a finished job with no rows as
  // completed, and the start-up scan, which skips completed jobs, would never find the file.
  let walkedAll = false;
  const run = async (kind: ScanKind) => {
    try {
      await scanJobs(opts.getCtx(), {
        signal: opts.signal,
        skipCompleted: true,
        kind,
        ...(kind === 'scheduled' && walkedAll ? { walk: (id: string) => !opts.covers(id) } : {}),
      });
      if (kind !== 'scheduled' && !opts.signal.aborted) walkedAll = true;
      await opts.afterScan();
    } catch (e) {
      opts.log.error('scan failed', { kind, error: errorMessage(e) });
    }
  };
  const scan = (kind: ScanKind = 'scheduled'): Promise<void> => {
    if (running && (kind === 'scheduled' || running.kind !== 'scheduled')) return running.done;
    const prev = running?.done ?? Promise.resolve();
    const entry = { kind, done: prev.then(() => run(kind)) };
    running = entry;
    void entry.done.finally(() => {
      if (running === entry) running = null;
    });
    return entry.done;
  };
  const setCron = async (name: string, expr: string, kind: ScanKind) => {
    const cur = crons.get(name);
    if (cur?.expr === expr) return;
    await cur?.task.stop();
    crons.set(name, { expr, task: schedule(expr, () => scan(kind), { noOverlap: true, name }) });
  };
  return {
    scan,
    async schedule(cfg) {
      await setCron('scan', cfg.schedule.scan_cron, 'scheduled');
      await setCron('full-scan', cfg.schedule.full_scan_cron, 'full');
    },
    intervalMs() {
      const [a, b] = crons.get('scan')?.task.getNextRuns(2) ?? [];
      return a && b ? b.getTime() - a.getTime() : 60_000;
    },
    async stop() {
      for (const c of crons.values()) await c.task.stop();
    },
  };
}
