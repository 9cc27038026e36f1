import type { Stats } from 'node:fs';
import { relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log/index.js';
import { createIgnoreMatcher } from './glob.js';

export interface FileReady {
  jobId: string;
  /** `/`-separated path below the job directory. */
  relPath: string;
  size: number;
  mtimeMs: number;
}

export interface WatcherOptions {
  outputDir: string;
  stabilityMs: number;
  ignore: readonly string[];
  log: Logger;
  onFile: (f: FileReady) => void;
  /** A directory appeared inside job `jobId` (or the job directory itself). */
  onDir?: (jobId: string) => void;
  /** Polling instead of inotify (network file systems). */
  usePolling?: boolean;
}

export interface Watcher {
  /** Resolves once the initial directory tree is being watched. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Watches `<outputDir>/<job>/**` and reports files once their size has been stable for
 * `stabilityMs` (chokidar awaitWriteFinish). Holds no DB or Drive logic.
 */
export function createWatcher(opts: WatcherOptions): Watcher {
  const ignored = createIgnoreMatcher(opts.ignore);
  const toRel = (p: string) => relative(opts.outputDir, p).split(sep).join('/');
  const w: FSWatcher = watch(opts.outputDir, {
    ignoreInitial: true, // start-up and scheduled scans walk existing files
    followSymlinks: false,
    persistent: true,
    usePolling: opts.usePolling ?? false,
    awaitWriteFinish: opts.stabilityMs > 0 ? { stabilityThreshold: opts.stabilityMs, pollInterval: Math.min(100, Math.max(10, Math.floor(opts.stabilityMs / 4))) } : false,
    ignored: (p: string, stats?: Stats) => {
      const rel = toRel(p);
      if (rel === '' || rel.startsWith('..')) return false;
      const slash = rel.indexOf('/');
      // Only directories and files inside a job directory matter.
      if (slash < 0) return stats?.isFile() ?? false;
      // Patterns are relative to the job directory, as in the scans' walkJobDir.
      return ignored(rel.slice(slash + 1));
    },
  });
  const report = (p: string, stats?: Stats) => {
    const rel = toRel(p);
    const slash = rel.indexOf('/');
    if (slash <= 0) return;
    opts.onFile({ jobId: rel.slice(0, slash), relPath: rel.slice(slash + 1), size: stats?.size ?? -1, mtimeMs: stats?.mtimeMs ?? 0 });
  };
  w.on('add', report);
  // Files written into a directory in the instant before its own watch is set up can be missed
  // by inotify; the caller re-walks that job once the directory has settled.
  w.on('addDir', (p: string) => {
    const rel = toRel(p);
    if (rel === '' || rel.startsWith('..')) return;
    const slash = rel.indexOf('/');
    opts.onDir?.(slash < 0 ? rel : rel.slice(0, slash));
  });
  w.on('change', report);
  w.on('error', (e: unknown) => opts.log.warning('watcher error', { error: e instanceof Error ? e.message : String(e) }));
  const ready = new Promise<void>((resolve) => w.once('ready', () => resolve()));
  return { ready, close: () => w.close() };
}
