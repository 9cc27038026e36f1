import { createHash } from 'node:crypto';
import { open, readFile, truncate } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import test from 'ava';
import { DriveChecksumError, RetryableDriveError, type UploadCheckpoint, type UploadRequest } from '../../src/drive/index.js';
import { LocalFileError } from '../../src/local/index.js';
import { ROOT_ID, setup, writeRandomFile, type Setup } from '../helpers/drive.js';

const CHUNK = 256 * 1024; // the helper's chunkSizeBytes; threshold 1 MiB

const md5 = async (p: string) =>
  createHash('md5')
    .update(await readFile(p))
    .digest('hex');
const liveFiles = (s: Setup) => s.emu.listFiles().filter((f) => f.mimeType !== 'application/vnd.google-apps.folder');

/** An upload request by path: each attempt (up()) opens the file afresh, as the daemon does. */
type Req = Omit<UploadRequest, 'file'> & { localPath: string };

async function request(s: Setup, name: string, size: number, extra: Partial<UploadRequest> = {}): Promise<Req> {
  const [fileId] = await s.drive.reserveIds(1);
  const localPath = await writeRandomFile(s.dir, name, size);
  return { fileId: fileId!, name, parentId: ROOT_ID, localPath, appProperties: { job: 'j1', row: name }, mode: 'create', ...extra };
}

const up = async (s: Setup, req: Req) => s.drive.upload({ ...req, file: await s.open(req.localPath) });

test('same reserved-id upload twice -> one file; the repeat sends no bytes (409 path and maybeExists path)', async (t) => {
  const s = await setup(t);
  const req = await request(s, 'once.bin', 50_000);
  const first = await up(s, req);
  t.false(first.alreadyPresent);
  t.is(first.file.id, req.fileId);
  t.is(first.bytesSent, 50_000);
  t.is(first.md5, await md5(req.localPath));
  const received = s.emu.stats().bytesReceived;

  const again = await up(s, req); // a retry that does not know the first one landed
  t.true(again.alreadyPresent);
  t.is(again.file.id, req.fileId);
  t.is(again.md5, first.md5);
  t.is(s.emu.stats().requests['POST /upload/drive/v3/files?uploadType=multipart']?.['409'], 1);

  const hinted = await up(s, { ...req, maybeExists: true });
  t.true(hinted.alreadyPresent);
  t.is(hinted.bytesSent, 0);
  t.is(s.emu.stats().bytesReceived, received, 'no content byte re-sent');
  t.is(liveFiles(s).length, 1);
});

test('same id, changed content -> a new revision of the same file (never a second file)', async (t) => {
  const s = await setup(t);
  const req = await request(s, 'rev.bin', 10_000);
  const first = await up(s, req);
  await writeRandomFile(s.dir, 'rev.bin', 12_345);
  const second = await up(s, req); // mode 'create' again: 409, content differs -> update
  t.is(second.file.id, req.fileId);
  t.not(second.md5, first.md5);
  t.is(second.md5, await md5(req.localPath));
  t.is(second.file.size, 12_345);
  await writeRandomFile(s.dir, 'rev.bin', 2 * 1024 * 1024 + 7); // now resumable, explicit update
  const third = await up(s, { ...req, mode: 'update' });
  t.is(third.file.md5Checksum, await md5(req.localPath));
  const files = liveFiles(s);
  t.is(files.length, 1);
  t.is(files[0]?.md5Checksum, third.md5);
  t.deepEqual(files[0]?.appProperties, req.appProperties);
});

test('resumable upload aborted after some chunks, resumed from the stored checkpoint -> at most one chunk re-sent', async (t) => {
  const s = await setup(t);
  const size = 3 * 1024 * 1024 + 1000;
  let stored: UploadCheckpoint | null = null;
  const ac = new AbortController();
  let checkpoints = 0;
  const req = await request(s, 'big.bin', size, {
    signal: ac.signal,
    onCheckpoint: async (cp) => {
      stored = cp;
      if (++checkpoints === 4) ac.abort();
    },
  });
  const e = await t.throwsAsync(up(s, req));
  t.true(e instanceof RetryableDriveError);
  t.is(e && (e as RetryableDriveError).reason, 'aborted');
  t.truthy(stored);
  const cp = stored as unknown as UploadCheckpoint;
  t.true(cp.offset > 0 && cp.offset < size);
  t.is(liveFiles(s).length, 0);

  const res = await up(s, { ...req, signal: undefined, resume: cp, onCheckpoint: async (c) => void (stored = c) });
  t.true(res.resumed);
  t.false(res.alreadyPresent);
  t.is(res.md5, await md5(req.localPath));
  t.is(res.file.md5Checksum, res.md5);
  t.is(res.bytesSent, size - cp.offset);
  const resent = s.emu.stats().bytesReceived - size;
  t.log(`bytes re-sent after the interruption: ${resent} (chunk ${CHUNK})`);
  t.true(resent <= CHUNK, `re-sent ${resent}`);
  t.is(liveFiles(s).length, 1);

  // The same checkpoint again (crash before recording success): finished session, nothing sent.
  const done = await up(s, { ...req, signal: undefined, resume: cp });
  t.true(done.alreadyPresent);
  t.is(done.bytesSent, 0);
  t.is(liveFiles(s).length, 1);
});

test('connection reset mid-upload -> retryable; resume continues from the confirmed offset', async (t) => {
  const s = await setup(t);
  let stored: UploadCheckpoint | null = null;
  let n = 0;
  const req = await request(s, 'reset.bin', 2 * 1024 * 1024, {
    onCheckpoint: async (cp) => {
      stored = cp;
      if (++n === 3) s.emu.setFaults({ resetRate: 1 });
    },
  });
  const e = await t.throwsAsync(up(s, req));
  t.true(e instanceof RetryableDriveError, String(e));
  t.is((e as RetryableDriveError).kind, 'retryable');
  s.emu.setFaults({ resetRate: 0 });
  const res = await up(s, { ...req, resume: stored, onCheckpoint: async () => undefined });
  t.is(res.file.md5Checksum, await md5(req.localPath));
  t.true(s.emu.stats().bytesReceived - 2 * 1024 * 1024 <= CHUNK);
  t.is(liveFiles(s).length, 1);
});

test('expired session -> forgotten (checkpoint null) and restarted cleanly', async (t) => {
  const s = await setup(t);
  const seen: Array<UploadCheckpoint | null> = [];
  const ac = new AbortController();
  const req = await request(s, 'expire.bin', 1024 * 1024 + 5, {
    signal: ac.signal,
    onCheckpoint: async (cp) => {
      seen.push(cp);
      if (seen.length === 2) ac.abort();
    },
  });
  await t.throwsAsync(up(s, req));
  const old = seen.at(-1)!;
  s.emu.expireSessions();
  seen.length = 0;
  const res = await up(s, { ...req, signal: undefined, resume: old, onCheckpoint: async (cp) => void seen.push(cp) });
  t.false(res.resumed);
  t.is(seen[0], null);
  t.not(seen[1]?.sessionUri, old.sessionUri);
  t.is(seen[1]?.offset, 0);
  t.is(res.file.md5Checksum, await md5(req.localPath));
  t.is(liveFiles(s).length, 1);
});

test('file changed between attempts -> DriveChecksumError, session forgotten, next attempt uploads the new content', async (t) => {
  const s = await setup(t);
  let stored: UploadCheckpoint | null = null;
  const ac = new AbortController();
  const size = 2 * 1024 * 1024;
  const req = await request(s, 'changing.bin', size, {
    signal: ac.signal,
    onCheckpoint: async (cp) => {
      stored = cp;
      if (cp && cp.offset >= 3 * CHUNK) ac.abort();
    },
  });
  await t.throwsAsync(up(s, req));
  // Same size, different first bytes (already on Drive).
  const fh = await open(req.localPath, 'r+');
  await fh.write(Buffer.alloc(1000, 7), 0, 1000, 0);
  await fh.close();
  const cps: Array<UploadCheckpoint | null> = [];
  const e = await t.throwsAsync<DriveChecksumError>(up(s, { ...req, signal: undefined, resume: stored, onCheckpoint: async (c) => void cps.push(c) }));
  t.true(e instanceof DriveChecksumError, String(e));
  t.true(e?.retryable);
  t.is(e?.kind, 'retryable');
  t.is(cps.at(-1), null);
  // The retry without a session: 409, content differs, update in place.
  const res = await up(s, { ...req, signal: undefined, resume: null });
  t.is(res.file.id, req.fileId);
  t.is(res.file.md5Checksum, await md5(req.localPath));
  t.is(liveFiles(s).length, 1);
});

test('a local read failing mid-upload surfaces as the LocalFileError (retryable "changed"), not as a Drive error', async (t) => {
  for (const size of [100_000, 2 * 1024 * 1024]) {
    const s = await setup(t);
    const req = await request(s, 'shrinks.bin', size);
    const file = await s.open(req.localPath);
    await truncate(req.localPath, size / 2); // after open: the descriptor's reads come up short
    const e = await t.throwsAsync(s.drive.upload({ ...req, file }));
    t.true(e instanceof LocalFileError, String(e));
    t.like(e, { code: 'changed', retryable: true });
    t.regex(e?.message ?? '', /shrank while it was being read/);
    t.is(liveFiles(s).length, 0, 'nothing half-read reached Drive');
  }
});

test('empty file and exact-threshold file upload and verify', async (t) => {
  const s = await setup(t);
  const empty = await up(s, await request(s, 'empty.bin', 0));
  t.is(empty.file.size, 0);
  t.is(empty.md5, 'd41d8cd98f00b204e9800998ecf8427e');
  const edge = await up(s, await request(s, 'edge.bin', 1024 * 1024));
  t.is(edge.file.md5Checksum, edge.md5);
  t.truthy(s.emu.stats().requests['POST /upload/drive/v3/files?uploadType=resumable']);
});

test('reserveIds pools ids: 1500 ids in 2 calls, 50 concurrent single ids share one call', async (t) => {
  const s = await setup(t);
  const ids = await s.drive.reserveIds(1500);
  t.is(new Set(ids).size, 1500);
  t.is(s.emu.stats().requests['GET /drive/v3/files/generateIds']?.['200'], 2);
  const more = await Promise.all(Array.from({ length: 50 }, () => s.drive.reserveIds(1)));
  t.is(new Set(more.flat()).size, 50);
  t.false(more.flat().some((id) => ids.includes(id)));
  t.is(s.emu.stats().requests['GET /drive/v3/files/generateIds']?.['200'], 2); // 500 left from the second batch
  const fresh = await s.make();
  await Promise.all(Array.from({ length: 50 }, () => fresh.reserveIds(1)));
  t.is(s.emu.stats().requests['GET /drive/v3/files/generateIds']?.['200'], 3);
});

test('upload bodies go through HTTPS_PROXY (a CONNECT tunnel) unless NO_PROXY names the host, as gaxios routes the metadata calls', async (t) => {
  // A CONNECT proxy on loopback that counts its tunnels and splices them to the emulator.
  const tunnels: string[] = [];
  const proxy = createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  proxy.unref();
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  const s = await setup(t);
  const emuHost = new URL(s.emu.url).host;
  const viaProxy = await s.make({ env: { HTTPS_PROXY: proxyUrl } });
  const small = await request(s, 'proxied-small.bin', 40_000);
  const large = await request(s, 'proxied-large.bin', 2 * 1024 * 1024 + 5);
  const a = await viaProxy.upload({ ...small, file: await s.open(small.localPath) });
  const b = await viaProxy.upload({ ...large, file: await s.open(large.localPath) });
  t.is(a.file.md5Checksum, await md5(small.localPath));
  t.is(b.file.md5Checksum, await md5(large.localPath));
  t.true(tunnels.length > 0, 'the media requests went through the proxy');
  t.true(
    tunnels.every((h) => h === emuHost),
    `tunnels to the emulator only: ${tunnels.join(', ')}`,
  );

  const seen = tunnels.length;
  const bypass = await s.make({ env: { HTTPS_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' } });
  const direct = await request(s, 'direct.bin', 30_000);
  const c = await bypass.upload({ ...direct, file: await s.open(direct.localPath) });
  t.is(c.file.md5Checksum, await md5(direct.localPath));
  t.is(tunnels.length, seen, 'NO_PROXY: no new tunnel');
});
