import { schedule, type ScheduledTask } from 'node-cron';
import { ConfigError, loadConfig, type Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { errorMessage } from '../log/index.js';
import { createNoopMetrics, createPrometheusMetrics, scanHealth, startMetricsServer, type Metrics } from '../metrics/index.js';
import { onFileReady, scanJobs, type SyncContext } from '../sync/index.js';
import { createWatcher, type Watcher } from '../watch/index.js';
import { startReconcileLoop } from './loop.js';
import { loggerFor, openRuntime, type RuntimeOptions } from './runtime.js';
import { createNotifier, type Notifier } from './systemd-notify.js';

export interface DaemonOptions extends RuntimeOptions {
  configPath: string;
  notifier?: Notifier;
}

export interface Daemon {
  /** Graceful stop: no new work, uploads get drain_timeout_ms, leases released. Idempotent. */
  stop(): Promise<void>;
  /** SIGHUP: re-read the config; an invalid one is reported and the running one kept. */
  reload(): Promise<boolean>;
  /** Run one scan now (also what the cron schedule does). */
  scan(): Promise<void>;
  readonly log: Logger;
  /** Resolves when the daemon has stopped. */
  readonly stopped: Promise<void>;
}

/** Keys that take effect only at start: a reload that changes them keeps the old value and says so. */
const RESTART_ONLY: readonly (readonly [keyof Config, string?])[] = [
  ['database'],
  ['watch'],
  ['auth'],
  ['metrics'],
  ['drive', 'api_endpoint'],
  ['drive', 'root_folder_id'],
  ['drive', 'shared_drive_id'],
  ['upload', 'resumable_threshold_bytes'],
  ['upload', 'chunk_size_bytes'],
];

/** Starts the daemon: config, database, watcher, cron, reconciler, metrics; then tells systemd READY. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  let cfg = loadConfig(opts.configPath, opts.env);
  const log = loggerFor(cfg, opts);
  const notifier = opts.notifier ?? createNotifier({ env: opts.env, log });
  // prom-client (and its default collectors) only when metrics are served.
  const prom = cfg.metrics.listen ? await createPrometheusMetrics() : null;
  const metrics: Metrics = prom ?? createNoopMetrics();
  const rt = await openRuntime(cfg, log, { ...opts, metrics });
  let ctx: SyncContext = rt.ctx;
  const releasers: (() => Promise<unknown> | unknown)[] = [() => rt.close()];
  const stopClaiming = new AbortController();
  const abortUploads = new AbortController();

  let lastBeat = 0;
  const watchdogMs = notifier.watchdogIntervalMs();
  const onProgress = () => {
    // Pinged from the loop's own progress, so a wedged loop lets systemd restart us.
    const t = Date.now();
    if (watchdogMs !== null && t - lastBeat >= watchdogMs / 2) {
      lastBeat = t;
      notifier.watchdog();
    }
  };

  try {
    const loop = startReconcileLoop({
      getCtx: () => ctx,
      stopClaiming: stopClaiming.signal,
      abortUploads: abortUploads.signal,
      onProgress,
      maxIdleMs: Math.min(15_000, watchdogMs ?? 15_000),
    });
    releasers.push(() => loop.done);

    const enabledCache = new Map<string, { enabled: boolean; at: number }>();
    const isEnabled = async (jobId: string) => {
      const hit = enabledCache.get(jobId);
      if (hit && ctx.now() - hit.at < 5_000) return hit.enabled;
      const enabled = (await ctx.store.listEnabledJobs(jobId)).length > 0;
      enabledCache.set(jobId, { enabled, at: ctx.now() });
      return enabled;
    };

    let watcher: Watcher | null = null;
    // The watcher follows the Drive-enabled jobs (one watch per directory, not per file).
    const refreshWatchedJobs = async () => {
      if (!watcher) return;
      const jobs = await ctx.store.listEnabledJobs();
      const added = watcher.setJobs(jobs.map((j) => j.jobId));
      // Close the gap while chokidar sets the new watches up: walk those jobs once it has.
      for (const id of added) onDir(id);
    };

    let scanning: Promise<void> | null = null;
    let scans = 0;
    const scan = (): Promise<void> => {
      // Overlapping cron ticks share the scan in progress. The first scan walks every job.
      scanning ??= scanJobs(ctx, { signal: stopClaiming.signal, skipCompleted: scans++ > 0 })
        .then(async () => {
          enabledCache.clear();
          loop.nudge();
          await refreshWatchedJobs();
        })
        .catch((e: unknown) => log.error('scan failed', { error: errorMessage(e) }))
        .finally(() => {
          scanning = null;
        });
      return scanning;
    };

    // New directories: re-walk their job once writes there have had time to settle.
    const dirScans = new Map<string, NodeJS.Timeout>();
    releasers.push(() => dirScans.forEach((tm) => clearTimeout(tm)));
    const onDir = (jobId: string) => {
      clearTimeout(dirScans.get(jobId));
      dirScans.set(
        jobId,
        setTimeout(() => {
          dirScans.delete(jobId);
          if (stopClaiming.signal.aborted) return;
          watcher?.resync(jobId);
          isEnabled(jobId)
            .then(async (on) => {
              if (!on) return;
              await scanJobs(ctx, { jobId, signal: stopClaiming.signal });
              loop.nudge();
              await refreshWatchedJobs();
            })
            .catch((e: unknown) => log.warning('job scan failed', { job: jobId, error: errorMessage(e) }));
        }, cfg.watch.stability_ms + 250),
      );
    };

    if (cfg.watch.enabled) {
      watcher = createWatcher({
        outputDir: cfg.watch.output_dir,
        stabilityMs: cfg.watch.stability_ms,
        ignore: cfg.watch.ignore,
        log,
        onDir,
        onFile: (f) => {
          onFileReady(ctx, f, isEnabled)
            .then((work) => work && loop.nudge())
            .catch((e: unknown) => log.error('cannot record a detected file', { job: f.jobId, file: f.relPath, error: errorMessage(e) }));
        },
      });
      const w = watcher;
      releasers.push(() => w.close());
      await watcher.ready;
    }

    let cron: ScheduledTask = schedule(cfg.schedule.scan_cron, () => scan(), { noOverlap: true, name: 'scan' });
    releasers.push(() => cron.stop());

    let metricsServer: { url: string; close(): Promise<void> } | null = null;
    if (cfg.metrics.listen && prom) {
      // Unhealthy when three scan intervals pass without a finished scan (at least 3 minutes).
      const [a, b] = cron.getNextRuns(2);
      const scanMaxAgeMs = 3 * Math.max(60_000, a && b ? b.getTime() - a.getTime() : 60_000);
      metricsServer = await startMetricsServer({
        listen: cfg.metrics.listen,
        metrics: prom,
        health: async () => {
          const problems = scanHealth(prom.lastScanAt(), Date.now(), scanMaxAgeMs);
          await rt.database.ping().catch((e: unknown) => problems.push(`database: ${errorMessage(e)}`));
          return { ok: problems.length === 0, problems };
        },
      });
      const m = metricsServer;
      releasers.push(() => m.close());
      log.info('metrics listening', { url: m.url });
    }

    await scan();
    log.notice('daemon started', {
      output_dir: cfg.watch.output_dir,
      watch: cfg.watch.enabled,
      scan_cron: cfg.schedule.scan_cron,
      concurrency: cfg.upload.concurrency,
      endpoint: cfg.drive.api_endpoint,
    });
    notifier.ready('watching and uploading');

    let stopping: Promise<void> | null = null;
    let resolveStopped!: () => void;
    const stopped = new Promise<void>((r) => (resolveStopped = r));

    const stop = () => {
      stopping ??= (async () => {
        notifier.stopping();
        log.notice('stopping: no new uploads; waiting for uploads in flight', { drain_timeout_ms: ctx.config.upload.drain_timeout_ms });
        await cron.stop();
        if (watcher) await watcher.close().catch(() => undefined);
        stopClaiming.abort();
        const timer = setTimeout(() => {
          log.warning('drain deadline passed: stopping uploads in flight (they resume on restart)');
          abortUploads.abort();
        }, ctx.config.upload.drain_timeout_ms);
        await loop.done;
        clearTimeout(timer);
        const released = await ctx.store.releaseLeases(ctx.owner).catch(() => 0);
        // Release in reverse order of acquisition; keep going if one step throws.
        for (const r of releasers.reverse()) await Promise.resolve().then(r).catch(() => undefined);
        log.notice('stopped', { leases_released: released });
        resolveStopped();
      })();
      return stopping;
    };

    const reload = async (): Promise<boolean> => {
      notifier.reloading();
      try {
        let next: Readonly<Config>;
        try {
          next = loadConfig(opts.configPath, opts.env);
        } catch (e) {
          const problems = e instanceof ConfigError ? e.problems : [String(e)];
          log.error('config reload rejected; the running config stays in force', { problems });
          return false;
        }
        const merged = structuredClone(next) as Config;
        for (const [section, key] of RESTART_ONLY) {
          const a = key ? (cfg[section] as Record<string, unknown>)[key] : cfg[section];
          const b = key ? (merged[section] as Record<string, unknown>)[key] : merged[section];
          if (JSON.stringify(a) !== JSON.stringify(b)) {
            log.warning('config change needs a restart; keeping the running value', { key: key ? `${section}.${key}` : section });
            if (key) (merged[section] as Record<string, unknown>)[key] = a;
            else (merged as Record<string, unknown>)[section] = structuredClone(cfg[section]);
          }
        }
        if (merged.schedule.scan_cron !== cfg.schedule.scan_cron) {
          await cron.stop();
          cron = schedule(merged.schedule.scan_cron, () => scan(), { noOverlap: true, name: 'scan' });
        }
        log.setLevel(merged.log.level);
        cfg = Object.freeze(merged);
        ctx = { ...ctx, config: cfg };
        log.notice('config reloaded', { scan_cron: cfg.schedule.scan_cron, concurrency: cfg.upload.concurrency, folder_pattern: cfg.drive.folder_pattern, log_level: cfg.log.level });
        loop.nudge();
        return true;
      } finally {
        notifier.ready('config reloaded');
      }
    };

    return { stop, reload, scan, log, stopped };
  } catch (e) {
    stopClaiming.abort();
    abortUploads.abort();
    for (const r of releasers.reverse()) await Promise.resolve().then(r).catch(() => undefined);
    throw e;
  }
}
