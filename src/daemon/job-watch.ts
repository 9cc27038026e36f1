import type { Logger } from '../log/index.js';
import { errorMessage } from '../log/index.js';
import { onFileReady, scanJobs, type EnabledJobs, type SyncContext } from '../sync/index.js';
import { createWatcher, type Watcher, type WatchDir } from '../watch/index.js';

export interface JobWatchOptions {
  getCtx: () => SyncContext;
  log: Logger;
  /** The enabled-job answers shared with the scan (cleared after each scan). */
  enabled: EnabledJobs;
  /** Aborted at shutdown: no more job scans start. */
  signal: AbortSignal;
  /** Rows may be due now (wakes the reconciler). */
  onWork: () => void;
  /** How a directory is watched (fs.watch); injected by tests to make the kernel's errors happen. */
  watchDir?: WatchDir;
}

export interface JobWatch {
  /** Resolves once the output directory is watched. */
  ready: Promise<void>;
  /**
   * Watch the directories of the enabled jobs that can still change (a finished, completed job
   * cannot: its watches are dropped). Newly watched jobs are walked once their watches are up,
   * unless `walkNew` is false (the start-up scan that follows walks them).
   */
  refresh(o?: { walkNew?: boolean }): Promise<void>;
  /** True when every directory of the job is watched: a scheduled scan need not walk it. */
  covers(jobId: string): boolean;
  /** Directory watches held. */
  watchCount(): number;
  close(): Promise<void>;
}

/**
 * The watcher side of the daemon: chokidar on the Drive-enabled jobs, files it reports recorded
 * as rows, and a debounced walk of a job whose directories appeared (files written before a new
 * directory's watch was set up are found by that walk). With `watch.enabled: false` it does nothing.
 */
export async function startJobWatch(opts: JobWatchOptions): Promise<JobWatch> {
  const { log } = opts;
  const cfg = opts.getCtx().config;
  if (!cfg.watch.enabled) {
    return { ready: Promise.resolve(), refresh: async () => undefined, covers: () => false, watchCount: () => 0, close: async () => undefined };
  }

  // New directories: re-walk their job once writes there have had time to settle.
  const dirScans = new Map<string, NodeJS.Timeout>();
  // Jobs with a new directory (or newly watched) whose walk has not run yet: until it has, the
  // watcher does not cover them (files written before the watches were up are in no row yet).
  const unwalked = new Set<string>();
  const onDir = (jobId: string) => {
    unwalked.add(jobId);
    clearTimeout(dirScans.get(jobId));
    dirScans.set(
      jobId,
      setTimeout(() => {
        dirScans.delete(jobId);
        if (opts.signal.aborted) return;
        watcher.resync(jobId);
        void scanJob(jobId);
      }, cfg.watch.stability_ms + 250),
    );
  };
  const scanJob = async (jobId: string) => {
    try {
      if (!(await opts.enabled.isEnabled(jobId))) return;
      await scanJobs(opts.getCtx(), { jobId, signal: opts.signal });
      if (!opts.signal.aborted && !dirScans.has(jobId)) unwalked.delete(jobId);
      opts.onWork();
      await refresh();
    } catch (e) {
      log.warning('job scan failed', { job: jobId, error: errorMessage(e) });
    }
  };

  const watcher: Watcher = createWatcher({
    outputDir: cfg.watch.output_dir,
    stabilityMs: cfg.watch.stability_ms,
    ignore: cfg.watch.ignore,
    log,
    onDir,
    ...(opts.watchDir ? { watchDir: opts.watchDir } : {}),
    onFile: (f) => {
      onFileReady(opts.getCtx(), f, opts.enabled.isEnabled)
        .then((work) => work && opts.onWork())
        .catch((e: unknown) => log.error('cannot record a detected file', { job: f.jobId, file: f.relPath, error: errorMessage(e) }));
    },
  });

  // The watcher follows the Drive-enabled jobs (one watch per directory, not per file).
  const refresh = async (o: { walkNew?: boolean } = {}) => {
    const jobs = await opts.getCtx().store.listEnabledJobs();
    const open = jobs.filter((j) => !(j.finished && j.row.drive_upload_status === 'completed'));
    const added = watcher.setJobs(open.map((j) => j.jobId));
    // Files written before the new watches existed: walk those jobs once writes have settled.
    if (o.walkNew !== false) for (const id of added) onDir(id);
  };

  try {
    await watcher.ready;
  } catch (e) {
    await watcher.close().catch(() => undefined);
    throw e;
  }
  let closing: Promise<void> | null = null;
  return {
    ready: watcher.ready,
    refresh,
    covers: (id) => !unwalked.has(id) && watcher.covers(id),
    watchCount: () => watcher.watchCount(),
    close: () => {
      closing ??= (async () => {
        dirScans.forEach((tm) => clearTimeout(tm));
        dirScans.clear();
        await watcher.close();
      })();
      return closing;
    },
  };
}
