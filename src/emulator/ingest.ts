import crypto, { type Hash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';

export interface ContentDigest {
  size: number;
  md5: string;
  sha256: string;
}

/** Appends bytes to a file while hashing them; never holds more than one chunk. */
export interface ContentSink {
  write(chunk: Buffer): Promise<void>;
  /** Bytes written so far (including what the file held when opened). */
  readonly size: number;
  close(): Promise<void>;
}

export async function openSink(filePath: string, append: boolean, onBytes: (n: number) => void): Promise<ContentSink> {
  const fh = await fsp.open(filePath, append ? 'a' : 'w');
  let size = append ? (await fh.stat()).size : 0;
  let closed = false;
  return {
    get size() {
      return size;
    },
    write: async (chunk) => {
      let off = 0;
      while (off < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
        off += bytesWritten;
      }
      size += chunk.length;
      onBytes(chunk.length);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}

/** md5 + sha256 + size of a file, read in chunks (memory stays flat). */
export async function digestFile(filePath: string): Promise<ContentDigest> {
  const md5 = crypto.createHash('md5');
  const sha = crypto.createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(filePath, { highWaterMark: 1 << 20 })) {
    const b = chunk as Buffer;
    md5.update(b);
    sha.update(b);
    size += b.length;
  }
  return { size, md5: md5.digest('hex'), sha256: sha.digest('hex') };
}

/** Incremental md5 + sha256. */
export interface Hasher {
  update(b: Buffer): void;
  digest(size: number): ContentDigest;
  copy(): Hasher;
}

export function createHasher(from?: { md5: Hash; sha: Hash }): Hasher {
  const md5 = from?.md5 ?? crypto.createHash('md5');
  const sha = from?.sha ?? crypto.createHash('sha256');
  return {
    update: (b) => {
      md5.update(b);
      sha.update(b);
    },
    digest: (size) => ({ size, md5: md5.digest('hex'), sha256: sha.digest('hex') }),
    copy: () => createHasher({ md5: md5.copy(), sha: sha.copy() }),
  };
}
