import { lstatSync, type Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log/index.js';
import { errorMessage } from '../log/index.js';
import { isSafeJobId } from '../local/index.js';
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
  /**
   * Job `jobId` needs a walk: a directory appeared in it (or is the job directory itself), or
   * something the watcher does not report as a file appeared (a link, a FIFO, a name that is not
   * valid UTF-8, which fs.watch can only spell with U+FFFD): the walk reads and reports those.
   */
  onDir?: (jobId: string) => void;
  /** Polling instead of inotify (network file systems). */
  usePolling?: boolean;
}

export interface Watcher {
  /** Resolves once the output directory itself is being watched. */
  ready: Promise<void>;
  /**
   * The jobs whose directories are watched (the Drive-enabled ones; others cost nothing).
   * Returns the jobs newly watched: chokidar sets their
   * watches up asynchronously, so a file written meanwhile is only found by a walk of the job.
   */
  setJobs(jobIds: Iterable<string>): string[];
  /**
   * Re-reads a watched job's tree so that a sub-directory created in the instant its parent's
   * watch was being set up gets its own watch (the caller walks the job for the files).
   */
  resync(jobId: string): void;
  close(): Promise<void>;
}

/**
 * Watches `<outputDir>` for new job directories, and the directories of the jobs given to
 * setJobs() for files that have been stable for `stabilityMs`.
 * Holds no DB or Drive logic.
 */
export function createWatcher(opts: WatcherOptions): Watcher {
  const ignored = createIgnoreMatcher(opts.ignore);
  const watched = new Set<string>();
  /**
   * Where an absolute path sits: `jobId` alone for a job directory, plus `relPath` (below the
   * job directory, `/`-separated) for anything inside one; null outside <outputDir>/<job>.
   */
  const locate = (p: string): { jobId: string; relPath: string | null } | null => {
    const rel = relative(opts.outputDir, p).split(sep).join('/');
    if (rel === '' || rel === '..' || rel.startsWith('../')) return null;
    const slash = rel.indexOf('/');
    return slash < 0 ? { jobId: rel, relPath: null } : { jobId: rel.slice(0, slash), relPath: rel.slice(slash + 1) };
  };
  const common = { ignoreInitial: true, followSymlinks: false, persistent: true, usePolling: opts.usePolling ?? false } as const;

  // Depth 0: only the job directories themselves, so new jobs are noticed at no per-file cost.
  const root: FSWatcher = watch(opts.outputDir, { ...common, depth: 0, ignored: (_p: string, stats?: Stats) => Boolean(stats?.isFile()) });
  root.on('addDir', (p: string) => {
    const at = locate(p);
    if (!at || at.relPath !== null) return;
    // A wanted job whose directory did not exist yet: watch it now that it does.
    if (watched.has(at.jobId) && !added.has(at.jobId)) addJob(at.jobId);
    opts.onDir?.(at.jobId);
  });

  // Scans walk existing files; this watcher only reports what is written or changed later.
  // chokidar watches the job directories only (files are `ignored`, so no per-file watch:
  // ~8 KB and one inotify watch each); the directories' own fs.watch events ('raw') name the
  // file, and settle() reports it once its size and mtime have been still for stabilityMs
  // (what chokidar's awaitWriteFinish does, without its per-file watcher).
  const files: FSWatcher = watch([], {
    ...common,
    ignored: (p: string, stats?: Stats) => {
      if (stats?.isFile() || stats?.isSymbolicLink()) return true;
      // Patterns are relative to the job directory, as in the scans' walkJobDir.
      const rel = locate(p)?.relPath;
      return rel != null && ignored(rel);
    },
  });
  const settle = createSettler(opts.stabilityMs, (abs, st) => {
    const at = locate(abs);
    if (!at?.relPath || ignored(at.relPath)) return;
    if (st.isFile) opts.onFile({ jobId: at.jobId, relPath: at.relPath, size: st.size, mtimeMs: st.mtimeMs });
    else opts.onDir?.(at.jobId); // a link, a FIFO…: the walk decides (links to directories are skipped there)
  });
  files.on('raw', (_event, evPath, details) => {
    const dir = (details as { watchedPath?: unknown } | null)?.watchedPath;
    if (!evPath || typeof dir !== 'string') return;
    const abs = resolve(dir, evPath);
    const at = locate(abs);
    if (!at?.relPath || !watched.has(at.jobId)) return;
    // fs.watch decodes names as UTF-8, turning invalid bytes into U+FFFD: such a path cannot be
    // looked up. The walk reads the directory as bytes and reports the name instead of losing it.
    if (evPath.includes('\uFFFD')) opts.onDir?.(at.jobId);
    settle.touch(abs);
  });
  // Files written into a directory in the instant before its own watch is set up can be missed
  // by inotify; the caller re-walks that job once the directory has settled.
  files.on('addDir', (p: string) => {
    const at = locate(p);
    if (at?.relPath) opts.onDir?.(at.jobId);
  });
  const onError = (e: unknown) => opts.log.warning('watcher error', { error: errorMessage(e) });
  root.on('error', onError);
  files.on('error', onError);

  const added = new Set<string>();
  // Only a real directory named by a safe job id is watched: never a link (which could lead out
  // of output_dir), never `..` or a path.
  const addJob = (id: string) => {
    const dir = join(opts.outputDir, id);
    if (!isSafeJobId(id) || !lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) return;
    added.add(id);
    files.add(dir);
  };
  const ready = new Promise<void>((resolve) => root.once('ready', () => resolve()));
  return {
    ready,
    setJobs(jobIds) {
      const want = new Set(jobIds);
      const fresh: string[] = [];
      for (const id of watched) {
        if (!want.has(id)) {
          watched.delete(id);
          if (added.delete(id)) files.unwatch(join(opts.outputDir, id));
        }
      }
      for (const id of want) {
        if (!watched.has(id) && isSafeJobId(id)) {
          watched.add(id);
          fresh.push(id);
          // chokidar would watch a missing path through its parent and can then miss the
          // sub-directories made with it; the root watcher's addDir adds it (addJob skips a missing one).
          addJob(id);
        }
      }
      return fresh;
    },
    resync(jobId) {
      if (added.has(jobId)) files.add(join(opts.outputDir, jobId));
    },
    close: async () => {
      settle.close();
      await Promise.all([root.close(), files.close()]);
    },
  };
}

interface Settler {
  /** Something happened to this path: (re)start watching it settle. */
  touch(abs: string): void;
  close(): void;
}

/**
 * Reports a path that is not a directory (a file, a link, a FIFO…; `isFile` says which) once its
 * size and mtime have not changed for `stabilityMs`, polling it while it changes. Only paths in
 * flux are held.
 */
function createSettler(stabilityMs: number, onStable: (abs: string, st: { size: number; mtimeMs: number; isFile: boolean }) => void): Settler {
  const pollMs = Math.min(100, Math.max(10, Math.floor(stabilityMs / 4)));
  const pending = new Map<string, { size: number; mtimeMs: number; since: number; timer: NodeJS.Timeout | null }>();
  let closed = false;
  const check = async (abs: string) => {
    const p = pending.get(abs);
    if (!p || closed) return;
    p.timer = null;
    const st = await lstat(abs).catch(() => null);
    if (closed || pending.get(abs) !== p) return;
    if (!st || st.isDirectory()) {
      pending.delete(abs); // gone, or a directory (chokidar reports those)
      return;
    }
    const now = Date.now();
    if (st.size !== p.size || st.mtimeMs !== p.mtimeMs) {
      p.size = st.size;
      p.mtimeMs = st.mtimeMs;
      p.since = now;
    }
    if (now - p.since >= stabilityMs) {
      pending.delete(abs);
      onStable(abs, { size: st.size, mtimeMs: st.mtimeMs, isFile: st.isFile() });
      return;
    }
    p.timer = setTimeout(() => void check(abs), Math.min(pollMs, stabilityMs - (now - p.since)));
  };
  return {
    touch(abs) {
      if (closed) return;
      const p = pending.get(abs);
      if (p) {
        p.since = Date.now(); // a fresh write: the quiet period starts again
        return;
      }
      pending.set(abs, { size: -1, mtimeMs: -1, since: Date.now(), timer: null });
      void check(abs);
    },
    close() {
      closed = true;
      for (const p of pending.values()) if (p.timer) clearTimeout(p.timer);
      pending.clear();
    },
  };
}
