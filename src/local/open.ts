// The one way the daemon opens a file of a job: checked names, the job directory inside
// output_dir, one open() that follows no link, checks on the open descriptor, and every later
// read (chunks, md5) through that descriptor only. A path is never opened twice for one upload,
// so swapping the file for a link mid-upload cannot make the daemon read anything else.
import { createHash } from 'node:crypto';
import { constants, readlinkSync } from 'node:fs';
import { lstat, open, realpath, type FileHandle } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fsError, LocalFileError, refused } from './errors.js';
import { checkRelativeName, escapeName, jobIdProblem } from './names.js';

// O_NOFOLLOW: a link as the last part of the path fails with ELOOP instead of being followed.
// O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused as not a file).
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const READ_CHUNK = 1 << 20;

/** An open, checked regular file of a job. Close it when done. */
export interface LocalFile {
  /** The name it was opened by, below the job directory (`/`-separated). */
  readonly relPath: string;
  /** Size and modification time from fstat at open. */
  readonly size: number;
  readonly mtimeMs: number;
  /**
   * Fills `buf[0, length)` with the file's bytes from `position`, through the descriptor: the
   * caller's buffer, so a sender can reuse a few buffers instead of making garbage per read.
   * A file that ends before `position + length` is a `changed` LocalFileError (it shrank).
   */
  readInto(buf: Buffer, length: number, position: number): Promise<void>;
  /** md5 (hex) of the `size` bytes, read through the descriptor. */
  md5(): Promise<string>;
  /** True when the open file's size or mtime differ from those at open (fstat). */
  changedSinceOpen(): Promise<boolean>;
  /** What the path names now (lstat, no link followed): null when gone; `same` when it is still this file unchanged. */
  pathNow(): Promise<{ size: number; mtimeMs: number; same: boolean } | null>;
  close(): Promise<void>;
}

const inside = (dir: string, p: string): boolean => {
  const rel = relative(dir, p);
  return rel !== '' && rel !== '..' && !rel.startsWith('..' + sep) && !rel.startsWith(sep);
};

/**
 * The real path of `<outputDir>/<jobId>`, proved to lie inside the real output_dir. Throws a
 * refusal for an unsafe job id or a job directory that resolves outside (nothing is read), and
 * a retryable ENOENT while the directory does not exist.
 */
export async function resolveJobDir(outputDir: string, jobId: string): Promise<string> {
  const bad = jobIdProblem(jobId);
  if (bad) throw refused(bad);
  const jobDir = join(outputDir, jobId);
  let realOut: string;
  let realJob: string;
  try {
    realOut = await realpath(outputDir);
  } catch (e) {
    throw fsError(`watch.output_dir ${escapeName(outputDir)}`, e);
  }
  try {
    realJob = await realpath(jobDir);
  } catch (e) {
    throw fsError(`job directory ${escapeName(jobDir)}`, e);
  }
  if (!inside(realOut, realJob)) {
    throw refused(`job directory ${escapeName(jobDir)} resolves to ${escapeName(realJob)}, outside watch.output_dir ${escapeName(realOut)}`);
  }
  return realJob;
}

/**
 * Real job directories resolved recently (resolveJobDir), so an upload does not pay two
 * realpath() calls (a readlink per path component) for every file. A cached directory is only a
 * guess of where to open: openInside still opens without following a link and requires the
 * descriptor's real path to be exactly `<dir>/<relPath>`, so a job directory swapped for a link
 * since it was cached fails there, and is then resolved afresh (and refused if it now leads
 * outside). Entries expire after `ttlMs`, so a job directory or output_dir link pointed
 * elsewhere inside output_dir is followed within that time.
 */
export interface JobDirCache {
  get(outputDir: string, jobId: string): string | undefined;
  set(outputDir: string, jobId: string, realDir: string): void;
  delete(outputDir: string, jobId: string): void;
}

export function createJobDirCache(o: { now: () => number; ttlMs?: number; maxEntries?: number }): JobDirCache {
  const ttlMs = o.ttlMs ?? 5000;
  const maxEntries = o.maxEntries ?? 1000;
  const entries = new Map<string, { dir: string; until: number }>();
  const key = (outputDir: string, jobId: string) => `${outputDir}\0${jobId}`;
  return {
    get(outputDir, jobId) {
      const k = key(outputDir, jobId);
      const e = entries.get(k);
      if (!e) return undefined;
      if (e.until > o.now()) return e.dir;
      entries.delete(k);
      return undefined;
    },
    set(outputDir, jobId, realDir) {
      const k = key(outputDir, jobId);
      entries.delete(k);
      // The oldest entry goes first (a Map iterates in insertion order).
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      entries.set(k, { dir: realDir, until: o.now() + ttlMs });
    },
    delete(outputDir, jobId) {
      entries.delete(key(outputDir, jobId));
    },
  };
}

/**
 * Opens `<outputDir>/<jobId>/<relPath>` for reading, with every check; see openInside. With
 * `dirs`, the job directory resolved recently is reused; if opening through it fails for any
 * reason (moved, swapped for a link, …), it is forgotten and the open is done once more from a
 * fresh resolveJobDir, whose answer (or refusal) stands.
 */
export async function openJobFile(outputDir: string, jobId: string, relPath: string, dirs?: JobDirCache): Promise<LocalFile> {
  const problem = checkRelativeName(relPath);
  if (problem) throw refused(`original_filename ${JSON.stringify(escapeName(relPath))} ${problem}`);
  const cached = dirs?.get(outputDir, jobId);
  if (cached !== undefined) {
    try {
      return await openInside(cached, relPath);
    } catch {
      dirs?.delete(outputDir, jobId);
    }
  }
  const dir = await resolveJobDir(outputDir, jobId);
  dirs?.set(outputDir, jobId, dir);
  return openInside(dir, relPath);
}

/**
 * Opens `<dir>/<relPath>` (dir: a real path, no links in it) once, without following a link,
 * and accepts the descriptor only if it is a regular file whose real path is exactly
 * `<dir>/<relPath>`: no link anywhere below `dir`, nothing outside it.
 */
export async function openInside(dir: string, relPath: string): Promise<LocalFile> {
  const problem = checkRelativeName(relPath);
  if (problem) throw refused(`original_filename ${JSON.stringify(escapeName(relPath))} ${problem}`);
  const shown = `file ${escapeName(relPath)}`;
  const path = join(dir, ...relPath.split('/'));
  let fh: FileHandle;
  try {
    fh = await open(path, OPEN_FLAGS);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw refused(`${shown} is a symbolic link (links are never followed)`);
    throw fsError(shown, e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw refused(`${shown} is ${kindOf(st)}, not a regular file`);
    // The kernel's name for what was opened: any link followed on the way shows here. Read
    // synchronously: /proc answers from the open file itself (no disk or network I/O, so the
    // event loop cannot stall on it), which spares a thread-pool round trip per file.
    let real: string;
    try {
      real = readlinkSync(`/proc/self/fd/${fh.fd}`);
    } catch (e) {
      throw new LocalFileError(`cannot check where ${shown} really is: /proc/self/fd is not readable; the daemon needs /proc`, 'ENOPROC', e);
    }
    if (real !== path) {
      if (real.endsWith(' (deleted)')) throw new LocalFileError(`${shown}: deleted while it was opened`, 'ENOENT');
      if (!inside(dir, real)) throw refused(`${shown} resolves to ${escapeName(real)}, outside the job directory ${escapeName(dir)}`);
      throw refused(`${shown} is reached through a symbolic link (real path ${escapeName(real)}; links are never followed)`);
    }
    return localFile(fh, relPath, path, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw fsError(shown, e);
  }
}

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a file';
}

function localFile(fh: FileHandle, relPath: string, path: string, at: { size: number; mtimeMs: number; ino: number }): LocalFile {
  const shown = `file ${escapeName(relPath)}`;
  const readInto = async (buf: Buffer, length: number, position: number): Promise<void> => {
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, done, length - done, position + done));
      } catch (e) {
        throw fsError(shown, e);
      }
      if (n === 0) throw new LocalFileError(`${shown} shrank while it was being read`, 'changed');
      done += n;
    }
  };
  return {
    relPath,
    size: at.size,
    mtimeMs: at.mtimeMs,
    readInto,
    async md5() {
      // One buffer, reused: a fresh one per read is garbage that only a full GC returns.
      const h = createHash('md5');
      const buf = Buffer.allocUnsafeSlow(Math.min(READ_CHUNK, Math.max(at.size, 1)));
      for (let pos = 0; pos < at.size; pos += buf.length) {
        const n = Math.min(buf.length, at.size - pos);
        await readInto(buf, n, pos);
        h.update(buf.subarray(0, n));
      }
      return h.digest('hex');
    },
    async changedSinceOpen() {
      const st = await fh.stat().catch((e: unknown) => {
        throw fsError(shown, e);
      });
      return st.size !== at.size || st.mtimeMs !== at.mtimeMs;
    },
    async pathNow() {
      const st = await lstat(path).catch(() => null);
      if (!st) return null;
      return { size: st.size, mtimeMs: st.mtimeMs, same: st.ino === at.ino && st.size === at.size && st.mtimeMs === at.mtimeMs };
    },
    close: () => fh.close(),
  };
}
