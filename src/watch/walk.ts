import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';

export interface WalkedFile {
  relPath: string;
  size: number;
  mtimeMs: number;
  /** A symlink: reported so the caller can refuse it with a clear error if it leaves the job dir. */
  symlink: boolean;
}

/** Lists every file below `dir` (relative, `/`-separated), not following symlinks; skips ignored paths. */
export async function walkJobDir(dir: string, ignored: (relPath: string) => boolean): Promise<WalkedFile[]> {
  const out: WalkedFile[] = [];
  async function visit(abs: string, rel: string): Promise<void> {
    let d;
    try {
      d = await opendir(abs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for await (const ent of d) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (ignored(r)) continue;
      const a = join(abs, ent.name);
      if (ent.isDirectory()) await visit(a, r);
      else if (ent.isFile() || ent.isSymbolicLink()) {
        const st = await lstat(a).catch(() => null);
        if (st) out.push({ relPath: r, size: st.size, mtimeMs: st.mtimeMs, symlink: ent.isSymbolicLink() });
      }
    }
  }
  await visit(dir, '');
  return out;
}
