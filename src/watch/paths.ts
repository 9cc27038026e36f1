import { lstat, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';

/** A local path that must never be read: outside the job directory, a symlink out, or a bad name. Permanent. */
export class LocalPathError extends Error {
  override readonly name = 'LocalPathError';
  readonly retryable = false;
}

/** The local file is missing or cannot be read right now (deleted, still being written, I/O). */
export class LocalFileError extends Error {
  override readonly name = 'LocalFileError';
  readonly retryable: boolean;
  readonly code: string | undefined;
  constructor(message: string, opts: { retryable: boolean; code?: string | undefined; cause?: unknown }) {
    super(message, { cause: opts.cause });
    this.retryable = opts.retryable;
    this.code = opts.code;
  }
}

/** A job id usable as one directory name under output_dir. */
export function isSafeJobId(jobId: string): boolean {
  return jobId.length > 0 && jobId !== '.' && jobId !== '..' && !/[/\\\0]/.test(jobId);
}

/** Checks an original_filename: relative, `/`-separated, no `.`/`..`/empty segments, no NUL. (A backslash is an ordinary character on Linux.) */
export function checkRelativeName(relPath: string): string | null {
  if (relPath.length === 0) return 'is empty';
  if (relPath.includes('\0')) return 'contains a NUL byte';
  if (isAbsolute(relPath) || relPath.startsWith('/')) return 'is absolute; expected a path relative to the job directory';
  if (relPath.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'has an empty, "." or ".." segment; expected a plain relative path';
  return null;
}

export interface ResolvedFile {
  absPath: string;
  size: number;
  mtimeMs: number;
}

/**
 * Resolves `<outputDir>/<jobId>/<relPath>` and proves it stays inside the job directory
 * even through symlinks, before anything reads it.
 */
export async function resolveJobFile(outputDir: string, jobId: string, relPath: string): Promise<ResolvedFile> {
  if (!isSafeJobId(jobId)) throw new LocalPathError(`job id ${JSON.stringify(jobId)} cannot be a directory name under watch.output_dir`);
  const problem = checkRelativeName(relPath);
  if (problem) throw new LocalPathError(`original_filename ${JSON.stringify(relPath)} ${problem}; refused, never read`);
  const jobDir = join(outputDir, jobId);
  const absPath = join(jobDir, ...relPath.split('/'));
  let real: string;
  let realJobDir: string;
  try {
    await lstat(absPath);
    realJobDir = await realpath(jobDir);
    real = await realpath(absPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LocalFileError(`file ${relPath} not found in ${jobDir} (deleted, or not written yet)`, { retryable: true, code, cause: e });
    if (code === 'ELOOP') throw new LocalPathError(`file ${relPath}: symlink loop`);
    throw new LocalFileError(`file ${relPath}: cannot read it (${code ?? 'error'})`, { retryable: code !== 'EACCES', code, cause: e });
  }
  const rel = relative(realJobDir, real);
  if (rel === '' || rel.startsWith('..' + sep) || rel === '..' || isAbsolute(rel)) {
    throw new LocalPathError(`file ${relPath} resolves outside the job directory ${jobDir} (symlink to ${real}); refused, never read`);
  }
  const st = await stat(real).catch((e: unknown) => {
    const code = (e as NodeJS.ErrnoException).code;
    throw new LocalFileError(`file ${relPath}: cannot stat it (${code ?? 'error'})`, { retryable: true, code, cause: e });
  });
  if (!st.isFile()) throw new LocalPathError(`${relPath} is not a regular file`);
  return { absPath: real, size: st.size, mtimeMs: st.mtimeMs };
}
