// Test files: small ones with distinct content, big ones written fast without being all zeros.
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, writeSync, closeSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Writes `perJob` small files (size in [minB, maxB]) into each job directory; returns their count and bytes. */
export async function writeSmallFiles(
  outputDir: string,
  jobIds: string[],
  perJob: number,
  o: { minB?: number; maxB?: number; rand?: () => number } = {},
): Promise<{ files: number; bytes: number }> {
  const minB = o.minB ?? 512;
  const maxB = o.maxB ?? 4096;
  const rand = o.rand ?? Math.random;
  let files = 0;
  let bytes = 0;
  for (const job of jobIds) {
    const batch: Promise<void>[] = [];
    for (let i = 0; i < perJob; i++) {
      const size = minB + Math.floor(rand() * (maxB - minB + 1));
      const p = join(outputDir, job, `f-${String(i).padStart(5, '0')}.bin`);
      batch.push(writeFile(p, randomBytes(size)));
      files++;
      bytes += size;
      if (batch.length >= 256) await Promise.all(batch.splice(0));
    }
    await Promise.all(batch);
  }
  return { files, bytes };
}

/** A big file of pseudo-random content (a 4 MiB random block, each MiB stamped with its index), written in 4 MiB writes. */
export function writeBigFile(path: string, size: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const block = randomBytes(4 * 1024 * 1024);
  const fd = openSync(path, 'w');
  try {
    let pos = 0;
    while (pos < size) {
      const n = Math.min(block.length, size - pos);
      for (let m = 0; m < n; m += 1024 * 1024) block.writeUInt32LE((pos + m) / (1024 * 1024), m);
      writeSync(fd, block, 0, n, pos);
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}
