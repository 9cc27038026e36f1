import crypto, { type Hash } from 'node:crypto';
import fs from 'node:fs';

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
  // Opened synchronously: a resumable upload opens its session file once per chunk, and two
  // thread-pool round trips (stat, open) before each chunk's first byte held up every 8 MiB chunk.
  const fd = fs.openSync(filePath, append ? 'a' : 'w');
  let size = append ? fs.fstatSync(fd).size : 0;
  // A write stream lets disk writes overlap with reading and hashing the next chunks; `drain`
  // keeps at most highWaterMark bytes queued, so memory stays flat.
  const ws = fs.createWriteStream(filePath, { fd, highWaterMark: 1 << 20 });
  let failure: Error | null = null;
  ws.on('error', (e) => {
    failure = e;
  });
  let closed: Promise<void> | null = null;
  return {
    get size() {
      return size;
    },
    write: async (chunk) => {
      if (failure) throw failure;
      size += chunk.length;
      onBytes(chunk.length);
      if (!ws.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = () => {
            ws.off('error', onError);
            resolve();
          };
          const onError = (e: Error) => {
            ws.off('drain', onDrain);
            reject(e);
          };
          ws.once('drain', onDrain);
          ws.once('error', onError);
        });
      }
    },
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
        if (ws.destroyed) {
          if (failure) reject(failure);
          else resolve();
          return;
        }
        ws.end((err?: Error | null) => (err ? reject(err) : resolve()));
      });
      return closed;
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
