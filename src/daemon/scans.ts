import { schedule, type ScheduledTask } from 'node-cron';
import type { Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { errorMessage } from '../log/index.js';
import { scanJobs, type SyncContext } from '../sync/index.js';

export interface ScanOptions {
  getCtx: () => SyncContext;
  log: Logger;
  signal: AbortSignal;
  /** After every finished scan (clear caches, wake the reconciler, update the watches). */
  afterScan: () => Promise<void>;
}

export interface Scans {
  /** Runs a scan now; a call while one runs shares it. The first scan walks every job. */
  scan(): Promise<void>;
  /** Starts (or, after a reload, restarts) the cron schedule from the config. */
  schedule(cfg: Readonly<Config>): Promise<void>;
  /** Longest gap between two scheduled scans, in ms (for the health check). */
  intervalMs(): number;
  stop(): Promise<void>;
}

export function createScans(opts: ScanOptions): Scans {
  let scanning: Promise<void> | null = null;
  let scans = 0;
  let cron: ScheduledTask | null = null;
  let cronExpr: string | null = null;
  const scan = (): Promise<void> => {
    scanning ??= scanJobs(opts.getCtx(), { signal: opts.signal, skipCompleted: scans++ > 0 })
      .then(opts.afterScan)
      .catch((e: unknown) => opts.log.error('scan failed', { error: errorMessage(e) }))
      .finally(() => {
        scanning = null;
      });
    return scanning;
  };
  return {
    scan,
    async schedule(cfg) {
      if (cron && cronExpr === cfg.schedule.scan_cron) return;
      await cron?.stop();
      cronExpr = cfg.schedule.scan_cron;
      cron = schedule(cronExpr, () => scan(), { noOverlap: true, name: 'scan' });
    },
    intervalMs() {
      const [a, b] = cron?.getNextRuns(2) ?? [];
      return a && b ? b.getTime() - a.getTime() : 60_000;
    },
    async stop() {
      await cron?.stop();
    },
  };
}
