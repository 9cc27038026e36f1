// Local file facts for uploads: existence, size, md5 (streamed, never buffered).
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { LocalFileError } from './errors.js';

/** stat() that turns "missing/unreadable/not a file" into LocalFileError. */
export async function statLocal(path: string): Promise<Stats> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (e) {
    throw localError(path, e);
  }
  if (!st.isFile()) throw new LocalFileError(`not a regular file: ${path}`, path, { reason: 'ENOTFILE' });
  return st;
}

export function localError(path: string, e: unknown): LocalFileError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code ?? 'EIO';
  const what = code === 'ENOENT' ? 'file gone locally' : `local file unreadable (${code})`;
  return new LocalFileError(`${what}: ${path}`, path, { reason: code });
}

/** md5 (hex) of a whole file or of [start, end]. */
export async function md5File(path: string): Promise<{ md5: string; bytes: number }> {
  const h = createHash('md5');
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      h.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } catch (e) {
    throw localError(path, e);
  }
  return { md5: h.digest('hex'), bytes };
}

/** Same file as when we started? (size and mtime; cheap change detection around an upload). */
export function sameFile(a: Stats, b: Stats): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}
