import { lstatSync, readdirSync, watch as fsWatch, type Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
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

/** One directory's watch (an inotify watch on Linux). */
export interface DirWatch {
  close(): void;
}

/**
 * Starts watching one directory (not its sub-directories): `onEvent` gets the name of the entry
 * that changed (null when the kernel did not say). Throws as fs.watch does (ENOSPC at the
 * kernel's watch limit, ENOENT for a directory already gone).
 */
export type WatchDir = (dir: string, onEvent: (name: string | null) => void, onError: (e: Error) => void) => DirWatch;

const watchDirWithFs: WatchDir = (dir, onEvent, onError) => {
  const w = fsWatch(dir, { persistent: true }, (_event, name) => onEvent(name === null ? null : String(name)));
  w.on('error', onError);
  return w;
};

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
  /** Polling instead of inotify for the output directory (network file systems). */
  usePolling?: boolean;
  /** How a job's directory is watched; fs.watch unless a test injects the kernel's errors. */
  watchDir?: WatchDir;
}

export interface Watcher {
  /** Resolves once the output directory itself is being watched. */
  ready: Promise<void>;
  /**
   * The jobs whose directories are watched (the Drive-enabled ones that can still change;
   * others cost nothing). Returns the jobs newly watched: a file written before a directory's
   * watch existed is only found by a walk of the job, which the caller does.
   */
  setJobs(jobIds: Iterable<string>): string[];
  /** Adds watches for directories of a watched job that have none yet (a sub-directory made in the instant its parent's watch was set up). */
  resync(jobId: string): void;
  /** True when every directory of the job has a watch, so a scheduled scan need not walk it. */
  covers(jobId: string): boolean;
  /** Directory watches held (inotify watches on Linux). */
  watchCount(): number;
  close(): Promise<void>;
}

interface JobWatches {
  /** Absolute directory → its watch. */
  dirs: Map<string, DirWatch>;
  /** A directory of the job could not be watched (the kernel's watch limit): scans walk the job. */
  incomplete: boolean;
}

/**
 * Watches `<outputDir>` (chokidar, depth 0) for new job directories, and every directory of the
 * jobs given to setJobs() (one fs.watch each) for files that have been stable for `stabilityMs`.
 * Holds no DB or Drive logic.
 */
export function createWatcher(opts: WatcherOptions): Watcher {
  const ignored = createIgnoreMatcher(opts.ignore);
  const watchDir = opts.watchDir ?? watchDirWithFs;
  const wanted = new Set<string>();
  const jobs = new Map<string, JobWatches>();
  let closed = false;
  let limitWarned = false;
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

  // Depth 0: only the job directories themselves, so new jobs are noticed at no per-file cost.
  const root: FSWatcher = watch(opts.outputDir, {
    ignoreInitial: true,
    followSymlinks: false,
    persistent: true,
    usePolling: opts.usePolling ?? false,
    depth: 0,
    ignored: (_p: string, stats?: Stats) => Boolean(stats?.isFile()),
  });
  root.on('addDir', (p: string) => {
    const at = locate(p);
    if (!at || at.relPath !== null) return;
    // A wanted job whose directory did not exist yet: watch it now that it does.
    if (wanted.has(at.jobId) && !jobs.has(at.jobId)) addJob(at.jobId);
    opts.onDir?.(at.jobId);
  });
  root.on('unlinkDir', (p: string) => {
    const at = locate(p);
    if (at && at.relPath === null) dropJob(at.jobId);
  });
  root.on('error', (e: unknown) => opts.log.warning('watcher error', { error: errorMessage(e) }));

  // Scans walk existing files; the watches only report what is written or changed later. A
  // directory's events name the entry; settle() reports a file once its size and mtime have been
  // still for stabilityMs, and a new directory gets its own watch. chokidar would lstat every file
  // of every job directory when it starts watching it (57 MB and 0.9 s of CPU for 10,000 files);
  // fs.watch on the directories costs a readdir of each.
  const settle = createSettler(opts.stabilityMs, {
    file: (abs, st) => {
      const at = locate(abs);
      if (!at?.relPath || ignored(at.relPath) || !jobs.has(at.jobId)) return;
      if (st.isFile) opts.onFile({ jobId: at.jobId, relPath: at.relPath, size: st.size, mtimeMs: st.mtimeMs });
      else opts.onDir?.(at.jobId); // a link, a FIFO…: the walk decides (links to directories are skipped there)
    },
    dir: (abs) => {
      const at = locate(abs);
      const job = at && jobs.get(at.jobId);
      if (!at?.relPath || !job || job.dirs.has(abs)) return;
      watchTree(at.jobId, job, abs);
      // Files written into it before its watch existed: the caller walks the job.
      opts.onDir?.(at.jobId);
    },
    gone: (abs) => {
      const at = locate(abs);
      const job = at && jobs.get(at.jobId);
      if (job?.dirs.has(abs)) unwatchTree(job, abs);
    },
  });

  const onEvent = (jobId: string, dir: string, name: string | null) => {
    if (closed) return;
    if (name === null) {
      // The kernel did not name the entry: re-read the tree; the caller walks the job.
      const job = jobs.get(jobId);
      if (job) watchTree(jobId, job, dir);
      opts.onDir?.(jobId);
      return;
    }
    const abs = join(dir, name);
    const rel = locate(abs)?.relPath;
    if (!rel || ignored(rel)) return;
    // fs.watch decodes names as UTF-8, turning invalid bytes into U+FFFD: such a path cannot be
    // looked up. The walk reads the directory as bytes and reports the name instead of losing it.
    if (name.includes('\uFFFD')) opts.onDir?.(jobId);
    settle.touch(abs);
  };

  /** Watches `dir` and every directory below it that has no watch yet (not following symlinks). */
  const watchTree = (jobId: string, job: JobWatches, dir: string) => {
    if (closed) return;
    if (!job.dirs.has(dir)) {
      try {
        const w = watchDir(
          dir,
          (name) => onEvent(jobId, dir, name),
          (e) => {
            // The directory went away (or the watch broke): forget it; a scan still walks the job.
            opts.log.debug('directory watch ended', { job: jobId, dir, error: errorMessage(e) });
            unwatchTree(job, dir);
          },
        );
        job.dirs.set(dir, w);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        job.incomplete = true;
        if (code === 'ENOSPC' || code === 'EMFILE') {
          // One warning until watches fit again; scans walk every job that is not fully watched.
          if (!limitWarned) {
            limitWarned = true;
            opts.log.warning(
              'inotify watch limit reached: some job directories are not watched; scheduled scans walk those jobs instead (raise fs.inotify.max_user_watches)',
              { job: jobId, dir, error: code, watches: count() },
            );
          }
        } else opts.log.warning('cannot watch a job directory; scheduled scans walk the job instead', { job: jobId, dir, error: errorMessage(e) });
        return;
      }
    }
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // gone meanwhile: its parent's event says so
    }
    for (const ent of entries) {
      if (!ent.isDirectory()) continue;
      const abs = join(dir, ent.name);
      const rel = locate(abs)?.relPath;
      if (rel && !ignored(rel)) watchTree(jobId, job, abs);
    }
  };

  const unwatchTree = (job: JobWatches, dir: string) => {
    const prefix = dir + sep;
    for (const [d, w] of job.dirs) {
      if (d === dir || d.startsWith(prefix)) {
        w.close();
        job.dirs.delete(d);
      }
    }
  };

  // Only a real directory named by a safe job id is watched: never a link (which could lead out
  // of output_dir), never `..` or a path.
  const addJob = (id: string) => {
    const dir = join(opts.outputDir, id);
    if (!isSafeJobId(id) || !lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) return;
    const job: JobWatches = { dirs: new Map(), incomplete: false };
    jobs.set(id, job);
    watchTree(id, job, join(opts.outputDir, id));
  };
  const dropJob = (id: string) => {
    const job = jobs.get(id);
    if (!job) return;
    for (const w of job.dirs.values()) w.close();
    jobs.delete(id);
    // Watches were freed: should the limit be reached again, say so again.
    limitWarned = false;
  };
  const count = () => {
    let n = 0;
    for (const j of jobs.values()) n += j.dirs.size;
    return n;
  };

  const ready = new Promise<void>((resolve) => root.once('ready', () => resolve()));
  return {
    ready,
    setJobs(jobIds) {
      const want = new Set(jobIds);
      const fresh: string[] = [];
      for (const id of wanted) {
        if (!want.has(id)) {
          wanted.delete(id);
          dropJob(id);
        }
      }
      for (const id of want) {
        const job = jobs.get(id);
        if (job?.incomplete) {
          // Watches that did not fit last time may fit now (jobs were unwatched meanwhile).
          job.incomplete = false;
          watchTree(id, job, join(opts.outputDir, id));
        }
        if (wanted.has(id) || !isSafeJobId(id)) continue;
        wanted.add(id);
        fresh.push(id);
        // A job directory that does not exist yet is watched once the root watcher sees it (addJob skips a missing one).
        addJob(id);
      }
      return fresh;
    },
    resync(jobId) {
      const job = jobs.get(jobId);
      if (job) watchTree(jobId, job, join(opts.outputDir, jobId));
    },
    covers(jobId) {
      const job = jobs.get(jobId);
      return job !== undefined && !job.incomplete && job.dirs.size > 0;
    },
    watchCount: count,
    close: async () => {
      closed = true;
      settle.close();
      for (const id of [...jobs.keys()]) dropJob(id);
      await root.close();
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
 * size and mtime have not changed for `stabilityMs`, polling it while it changes; a directory at
 * once; a path that is gone once.
 * Only paths in flux are held.
 */
function createSettler(
  stabilityMs: number,
  on: { file: (abs: string, st: { size: number; mtimeMs: number; isFile: boolean }) => void; dir: (abs: string) => void; gone: (abs: string) => void },
): Settler {
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
      pending.delete(abs);
      if (!st) on.gone(abs);
      else if (st.isDirectory()) on.dir(abs);
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
      on.file(abs, { size: st.size, mtimeMs: st.mtimeMs, isFile: st.isFile() });
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
