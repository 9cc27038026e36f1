// The directory walk behind start-up and scheduled scans. Directories are read as bytes, so a
// name that is not valid UTF-8 is seen (and reported) instead of silently lost.
import { lstatSync, type Dirent, type Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fsError } from './errors.js';
import { escapeName, utf8Name } from './names.js';

export interface WalkedFile {
  /** `/`-separated, below the job directory. */
  relPath: string;
  size: number;
  mtimeMs: number;
}

export interface JobTree {
  /**
   * Every entry that is not a directory: regular files, links to files, FIFOs… (the upload
   * refuses what is not a regular file, with the reason on the row: nothing is dropped unseen).
   */
  files: WalkedFile[];
  /** Entries whose name is not valid UTF-8, escaped (`caf\xE9.txt`; directories end in `/`). Not uploaded. */
  badNames: string[];
  /** Symbolic links to directories: never followed (what they point at inside the job is walked under its own name). */
  dirLinks: string[];
  /** Sub-directories that cannot be read for good (EACCES …), with why; the rest of the tree is still walked. */
  unreadable: string[];
}

/**
 * Walks `dir` (a real path: see resolveJobDir) and everything below it, following no link.
 * A missing `dir` is an empty tree. A sub-directory that cannot be read for good is listed in
 * `unreadable`; `dir` itself unreadable, or a transient error anywhere, throws a LocalFileError.
 */
export async function walkJobDir(dir: string, ignored: (relPath: string) => boolean): Promise<JobTree> {
  const tree: JobTree = { files: [], badNames: [], dirLinks: [], unreadable: [] };
  async function visit(abs: string, rel: string): Promise<void> {
    let ents: Dirent<Buffer>[];
    try {
      ents = (await readdir(abs, { withFileTypes: true, encoding: 'buffer' as BufferEncoding })) as unknown as Dirent<Buffer>[];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // not made yet, or removed since listed
      const err = fsError(`directory ${escapeName(rel || abs)}`, e);
      if (rel === '' || err.retryable) throw err;
      tree.unreadable.push(err.message);
      return;
    }
    for (const [i, ent] of ents.entries()) {
      // lstat in-line: a few µs each from the kernel's cache, where a thread-pool round trip and a
      // promise per file made a start-up walk of 100,000 files take tens of seconds. Batches of
      // 256 keep the event loop answering in between.
      if (i % 256 === 255) await nextTurn();
      const raw = ent.name as unknown as Buffer;
      const name = utf8Name(raw);
      if (name === null) {
        if (ignored(rel ? `${rel}/${raw.toString('utf8')}` : raw.toString('utf8'))) continue;
        const shown = (rel ? `${escapeName(rel)}/` : '') + escapeName(raw);
        tree.badNames.push(ent.isDirectory() ? `${shown}/` : shown);
        continue;
      }
      const r = rel ? `${rel}/${name}` : name;
      if (ignored(r)) continue;
      const a = join(abs, name);
      let st: Stats | undefined;
      try {
        st = lstatSync(a, { throwIfNoEntry: false }); // undefined: removed since listed
      } catch (e) {
        throw fsError(`file ${escapeName(r)}`, e);
      }
      if (!st) continue;
      if (st.isDirectory()) await visit(a, r);
      else if (st.isSymbolicLink() && (await stat(a).catch(() => null))?.isDirectory()) tree.dirLinks.push(r);
      else tree.files.push({ relPath: r, size: st.size, mtimeMs: st.mtimeMs });
    }
  }
  await visit(dir, '');
  return tree;
}
