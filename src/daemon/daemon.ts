import { ConfigError, loadConfig, packageVersion, type Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { errorMessage } from '../log/index.js';
import { createNoopMetrics, createPrometheusMetrics, scanHealth, startMetricsServer, type Metrics } from '../metrics/index.js';
import { createEnabledJobs, type SyncContext } from '../sync/index.js';
import type { WatchDir } from '../watch/index.js';
import { startJobWatch } from './job-watch.js';
import { startReconcileLoop } from './loop.js';
import { mergeReload } from './reload.js';
import { createScans, type ScanKind } from './scans.js';
import { loggerFor, openRuntime, type RuntimeOptions } from './runtime.js';
import { queueSnapshot, startStatusLine } from './status-line.js';
import { createNotifier, type Notifier } from './systemd-notify.js';
import { startWakeups } from './wakeup.js';

export interface DaemonOptions extends RuntimeOptions {
  configPath: string;
  notifier?: Notifier;
  /** How job directories are watched (fs.watch); tests inject the kernel's errors through it. */
  watchDir?: WatchDir;
}

export interface Daemon {
  /** Graceful stop: no new work, uploads get drain_timeout_ms, leases released. Idempotent. */
  stop(): Promise<void>;
  /** SIGHUP: re-read the config; an invalid one is reported and the running one kept. */
  reload(): Promise<boolean>;
  /** Run one scan now: `scheduled` (scan_cron's), `full` (full_scan_cron's walk of every job) or `startup`. */
  scan(kind?: ScanKind): Promise<void>;
  readonly log: Logger;
  /** Resolves when the daemon has stopped. */
  readonly stopped: Promise<void>;
}

const STATUS_INTERVAL_MS = 5_000;

/** Starts the daemon: config, database, watcher, cron, reconciler, metrics; then tells systemd READY. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  let cfg = loadConfig(opts.configPath, opts.env);
  const log = loggerFor(cfg, opts);
  const notifier = opts.notifier ?? createNotifier({ env: opts.env, log });
  // prom-client (and its default collectors) only when metrics are served.
  const prom = cfg.metrics.listen ? await createPrometheusMetrics({ version: packageVersion() }) : null;
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
      void notifier.watchdog(); // never rejects; the beat must not wait for systemd
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
    // The learned write rate survives a restart, a crash included (at most this old).
    const pacerTimer = setInterval(() => rt.savePacer(), 10_000);
    pacerTimer.unref();
    releasers.push(() => clearInterval(pacerTimer));

    // One "is this job enabled" for files the watcher reports; a scan re-reads the jobs and clears it.
    const enabled = createEnabledJobs(rt.ctx.store, { now: rt.ctx.now, ttlMs: 5_000 });
    const jobWatch = await startJobWatch({
      getCtx: () => ctx,
      log,
      enabled,
      signal: stopClaiming.signal,
      onWork: () => loop.nudge(),
      ...(opts.watchDir ? { watchDir: opts.watchDir } : {}),
    });
    releasers.push(() => jobWatch.close());

    const scans = createScans({
      getCtx: () => ctx,
      log,
      signal: stopClaiming.signal,
      covers: (id) => jobWatch.covers(id),
      afterScan: async () => {
        enabled.clear();
        loop.nudge();
        await jobWatch.refresh();
      },
    });
    await scans.schedule(cfg);
    releasers.push(() => scans.stop());

    const wakeups = await startWakeups({
      database: rt.database,
      getCtx: () => ctx,
      log,
      signal: stopClaiming.signal,
      onWork: () => loop.nudge(),
      onJobEnabled: async () => {
        enabled.clear();
        await jobWatch.refresh();
      },
      onResync: () => scans.scan(),
    });
    releasers.push(() => wakeups.close());

    let metricsServer: { url: string; close(): Promise<void> } | null = null;
    if (cfg.metrics.listen && prom) {
      // Unhealthy when three scan intervals pass without a finished scan (at least 3 minutes).
      const scanMaxAgeMs = 3 * Math.max(60_000, scans.intervalMs());
      metricsServer = await startMetricsServer({
        listen: cfg.metrics.listen,
        metrics: prom,
        // Gauges read the database when scraped, not at the end of an upload pass.
        beforeScrape: () => prom.refresh(() => queueSnapshot(ctx)),
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

    log.notice('daemon started', {
      output_dir: cfg.watch.output_dir,
      watch: cfg.watch.enabled,
      scan_cron: cfg.schedule.scan_cron,
      concurrency: cfg.upload.concurrency,
      endpoint: cfg.drive.api_endpoint,
    });
    // Watches first, then the walk: a file written meanwhile is seen by one or the other.
    await jobWatch.refresh({ walkNew: false });
    await scans.scan('startup');
    await notifier.ready('watching and uploading');
    // `systemctl status` shows a one-line summary of the queue, refreshed every few seconds.
    releasers.push(startStatusLine({ getCtx: () => ctx, notifier, log, intervalMs: STATUS_INTERVAL_MS }));

    let stopping: Promise<void> | null = null;
    let resolveStopped!: () => void;
    const stopped = new Promise<void>((r) => (resolveStopped = r));

    const stop = () => {
      stopping ??= (async () => {
        await notifier.stopping();
        log.notice('stopping: no new uploads; waiting for uploads in flight', { drain_timeout_ms: ctx.config.upload.drain_timeout_ms });
        await scans.stop();
        await wakeups.close().catch(() => undefined);
        await jobWatch.close().catch(() => undefined);
        stopClaiming.abort();
        const timer = setTimeout(() => {
          log.warning('drain deadline passed: stopping uploads in flight (they resume on restart)');
          abortUploads.abort();
        }, ctx.config.upload.drain_timeout_ms);
        await loop.done;
        clearTimeout(timer);
        const released = await ctx.store.releaseLeases(ctx.owner).catch(() => 0);
        // Release in reverse order of acquisition; keep going if one step throws.
        for (const r of releasers.reverse())
          await Promise.resolve()
            .then(r)
            .catch(() => undefined);
        log.notice('stopped', { leases_released: released });
        resolveStopped();
      })();
      return stopping;
    };

    const reload = async (): Promise<boolean> => {
      await notifier.reloading();
      try {
        let next: Readonly<Config>;
        try {
          next = loadConfig(opts.configPath, opts.env);
        } catch (e) {
          const problems = e instanceof ConfigError ? e.problems : [String(e)];
          log.error('config reload rejected; the running config stays in force', { problems });
          return false;
        }
        const { config: merged, needsRestart } = mergeReload(cfg, next);
        for (const key of needsRestart) log.warning('config change needs a restart; keeping the running value', { key });
        await scans.schedule(merged);
        log.setLevel(merged.log.level);
        cfg = Object.freeze(merged);
        ctx = { ...ctx, config: cfg };
        log.notice('config reloaded', {
          scan_cron: cfg.schedule.scan_cron,
          concurrency: cfg.upload.concurrency,
          folder_pattern: cfg.drive.folder_pattern,
          log_level: cfg.log.level,
        });
        loop.nudge();
        return true;
      } finally {
        await notifier.ready('config reloaded');
      }
    };

    return { stop, reload, scan: scans.scan, log, stopped };
  } catch (e) {
    stopClaiming.abort();
    abortUploads.abort();
    for (const r of releasers.reverse())
      await Promise.resolve()
        .then(r)
        .catch(() => undefined);
    throw e;
  }
}
