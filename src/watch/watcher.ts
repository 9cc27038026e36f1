import type { Stats } from 'node:fs';
import { join, relative, sep } from 'node:path';
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
  /** Resolves once the output directory itself is being watched. */
  ready: Promise<void>;
  /**
   * The jobs whose directories are watched file by file: the Drive-enabled jobs that are not
   * completed. Others cost nothing (a year of finished jobs would otherwise hold one inotify
   * watch and some kilobytes per file). Returns the jobs newly watched: chokidar sets their
   * watches up asynchronously, so a file written meanwhile is only found by a walk of the job.
   */
  setJobs(jobIds: Iterable<string>): string[];
  close(): Promise<void>;
}

/**
 * Watches `<outputDir>` for new job directories, and the directories of the jobs given to
 * setJobs() for files that have been stable for `stabilityMs` (chokidar awaitWriteFinish).
 * Holds no DB or Drive logic.
 */
export function createWatcher(opts: WatcherOptions): Watcher {
  const ignored = createIgnoreMatcher(opts.ignore);
  const toRel = (p: string) => relative(opts.outputDir, p).split(sep).join('/');
  const common = { ignoreInitial: true, followSymlinks: false, persistent: true, usePolling: opts.usePolling ?? false } as const;

  // Depth 0: only the job directories themselves, so new jobs are noticed at no per-file cost.
  const root: FSWatcher = watch(opts.outputDir, { ...common, depth: 0, ignored: (p: string, stats?: Stats) => Boolean(stats?.isFile()) });
  root.on('addDir', (p: string) => {
    const rel = toRel(p);
    if (rel !== '' && !rel.startsWith('..') && !rel.includes('/')) opts.onDir?.(rel);
  });

  // Scans walk existing files; this watcher only reports what is written or changed later.
  const files: FSWatcher = watch([], {
    ...common,
    awaitWriteFinish:
      opts.stabilityMs > 0 ? { stabilityThreshold: opts.stabilityMs, pollInterval: Math.min(100, Math.max(10, Math.floor(opts.stabilityMs / 4))) } : false,
    ignored: (p: string) => {
      const rel = toRel(p);
      const slash = rel.indexOf('/');
      // Patterns are relative to the job directory, as in the scans' walkJobDir.
      return slash > 0 && !rel.startsWith('..') && ignored(rel.slice(slash + 1));
    },
  });
  const report = (p: string, stats?: Stats) => {
    const rel = toRel(p);
    const slash = rel.indexOf('/');
    if (slash <= 0) return;
    opts.onFile({ jobId: rel.slice(0, slash), relPath: rel.slice(slash + 1), size: stats?.size ?? -1, mtimeMs: stats?.mtimeMs ?? 0 });
  };
  files.on('add', report);
  files.on('change', report);
  // Files written into a directory in the instant before its own watch is set up can be missed
  // by inotify; the caller re-walks that job once the directory has settled.
  files.on('addDir', (p: string) => {
    const rel = toRel(p);
    const slash = rel.indexOf('/');
    if (slash > 0) opts.onDir?.(rel.slice(0, slash));
  });
  const onError = (e: unknown) => opts.log.warning('watcher error', { error: e instanceof Error ? e.message : String(e) });
  root.on('error', onError);
  files.on('error', onError);

  const watched = new Set<string>();
  const ready = new Promise<void>((resolve) => root.once('ready', () => resolve()));
  return {
    ready,
    setJobs(jobIds) {
      const want = new Set(jobIds);
      const added: string[] = [];
      for (const id of watched) {
        if (!want.has(id)) {
          watched.delete(id);
          files.unwatch(join(opts.outputDir, id));
        }
      }
      for (const id of want) {
        if (!watched.has(id)) {
          watched.add(id);
          added.push(id);
          files.add(join(opts.outputDir, id));
        }
      }
      return added;
    },
    close: async () => {
      await Promise.all([root.close(), files.close()]);
    },
  };
}
