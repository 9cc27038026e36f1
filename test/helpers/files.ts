// File-tree helpers for the hostile-input tests: byte searches, non-UTF-8 names, inotify watches.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file below `dir` (followed by nothing: symlinks are not entered) whose bytes contain `needle`. */
export function filesContaining(dir: string, needle: Buffer | string): string[] {
  const n = typeof needle === 'string' ? Buffer.from(needle) : needle;
  const out: string[] = [];
  const visit = (d: string) => {
    for (const ent of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, ent.name);
      if (ent.isDirectory()) visit(p);
      else if (ent.isFile() && readFileSync(p).includes(n)) out.push(p);
    }
  };
  visit(dir);
  return out;
}

/** A path made of `parts`, where Buffers are raw name bytes (e.g. Latin-1 `caf\xE9.txt`, not valid UTF-8). */
export function bytePath(...parts: (string | Buffer)[]): Buffer {
  const bufs: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) bufs.push(Buffer.from('/'));
    bufs.push(typeof p === 'string' ? Buffer.from(p) : p);
  });
  return Buffer.concat(bufs);
}

/** Inode numbers watched by the inotify instances of process `pid` (from /proc/<pid>/fdinfo). */
export function inotifyWatchedInodes(pid: number): number[] {
  const out: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (target !== 'anon_inode:inotify') continue;
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    for (const m of info.matchAll(/^inotify wd:\S+ ino:([0-9a-f]+)/gm)) out.push(parseInt(m[1] ?? '0', 16));
  }
  return out;
}

/** Inode numbers of `dir` and every directory below it. */
export function directoryInodes(dir: string): number[] {
  const out = [statSync(dir).ino];
  for (const ent of readdirSync(dir, { withFileTypes: true })) if (ent.isDirectory()) out.push(...directoryInodes(join(dir, ent.name)));
  return out;
}
