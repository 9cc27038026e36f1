import crypto from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import test from 'ava';
import { api, md5, oauthClient, userToken, withEmulator } from '../helpers/emulator.js';
import type { Emulator } from '../../src/emulator/index.js';
import { waitUntil } from '../helpers/poll.js';

const KIB256 = 256 * 1024;

async function startSession(
  emu: Emulator,
  token: string,
  meta: Record<string, unknown>,
  total: number | null,
  path = '/upload/drive/v3/files',
  method = 'POST',
): Promise<string> {
  const headers: Record<string, string> = { 'x-upload-content-type': 'application/octet-stream' };
  if (total !== null) headers['x-upload-content-length'] = String(total);
  const res = await api(emu, token, method, `${path}?uploadType=resumable`, meta, headers);
  if (res.status !== 200) throw new Error(`start failed: ${res.status} ${JSON.stringify(res.json)}`);
  return res.headers.get('location') as string;
}

const put = (emu: Emulator, url: string, body: Buffer | string, range: string) =>
  api(emu, null, 'PUT', url, typeof body === 'string' ? body : new Uint8Array(body), { 'content-range': range });

/** Sends the start of a chunk and then kills the connection, like a crashed client. */
function abortedPut(url: string, range: string, declared: number, sent: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'PUT', headers: { 'content-range': range, 'content-length': String(declared) } });
    req.on('error', () => resolve());
    req.write(sent, () => {
      setImmediate(() => {
        req.destroy();
        resolve();
      });
    });
  });
}

test('resumable: initiate -> 200 + Location; chunks -> 308 + Range; last chunk -> file', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const data = crypto.randomBytes(KIB256 * 2 + 1000);
  const loc = await startSession(emu, token, { name: 'big.bin', appProperties: { job: 'j' } }, data.length);
  t.regex(loc, new RegExp(`^${emu.url}/upload/drive/v3/files\\?uploadType=resumable&upload_id=[A-Za-z0-9_-]+$`));

  const empty = await put(emu, loc, '', `bytes */${data.length}`);
  t.is(empty.status, 308);
  t.is(empty.headers.get('range'), null, 'no Range before any byte arrived');

  const c1 = await put(emu, loc, data.subarray(0, KIB256), `bytes 0-${KIB256 - 1}/${data.length}`);
  t.is(c1.status, 308);
  t.is(c1.headers.get('range'), `bytes=0-${KIB256 - 1}`);
  const c2 = await put(emu, loc, data.subarray(KIB256, 2 * KIB256), `bytes ${KIB256}-${2 * KIB256 - 1}/*`);
  t.is(c2.headers.get('range'), `bytes=0-${2 * KIB256 - 1}`);
  const last = await put(
    emu,
    `${loc}&fields=id,name,size,md5Checksum,appProperties`,
    data.subarray(2 * KIB256),
    `bytes ${2 * KIB256}-${data.length - 1}/${data.length}`,
  );
  t.is(last.status, 200);
  t.deepEqual(last.json, { id: last.json.id, name: 'big.bin', size: String(data.length), md5Checksum: md5(data), appProperties: { job: 'j' } });
  // Asking again after completion answers the file.
  const again = await put(emu, loc, '', `bytes */${data.length}`);
  t.is(again.status, 200);
  t.is(again.json.id, last.json.id);
  const s = emu.stats();
  t.deepEqual(s.requests['POST /upload/drive/v3/files?uploadType=resumable'], { '200': 1 });
  t.deepEqual(s.requests['PUT resumable'], { '200': 2, '308': 3 });
  t.is(s.writeRequests, 1, 'only the initiating POST is a write');
  t.is(s.bytesReceived, data.length);
});

test('resumable: interrupted chunk is discarded, status query tells where to resume', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const data = crypto.randomBytes(KIB256 * 4);
  const loc = await startSession(emu, token, { name: 'r.bin' }, data.length);
  t.is((await put(emu, loc, data.subarray(0, KIB256), `bytes 0-${KIB256 - 1}/${data.length}`)).status, 308);
  // Crash halfway through the second (2-block) chunk.
  await abortedPut(loc, `bytes ${KIB256}-${3 * KIB256 - 1}/${data.length}`, 2 * KIB256, data.subarray(KIB256, KIB256 + 100_000));
  await waitUntil(() => emu.stats().concurrentRequests === 0, 5000, 'no request in flight');
  const status = await put(emu, loc, '', `bytes */${data.length}`);
  t.is(status.status, 308);
  t.is(status.headers.get('range'), `bytes=0-${KIB256 - 1}`);
  // Resume from the confirmed offset, re-sending an overlapping block too: the overlap is skipped.
  const rest = await put(emu, loc, data.subarray(0), `bytes 0-${data.length - 1}/${data.length}`);
  t.is(rest.status, 200);
  t.is(rest.json.id.length, 33);
  const file = emu.listFiles().find((f) => f.id === rest.json.id);
  t.is(file?.md5Checksum, md5(data));
  t.is(file?.size, data.length);
  t.true(emu.stats().bytesReceived >= data.length + KIB256, 're-sent bytes are counted');
});

test('resumable: chunk not on a 256 KiB boundary -> 400; gap -> 308 with current Range', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const data = crypto.randomBytes(KIB256 * 3);
  const loc = await startSession(emu, token, { name: 'x' }, data.length);
  const odd = await put(emu, loc, data.subarray(0, 1000), `bytes 0-999/${data.length}`);
  t.is(odd.status, 400);
  t.is(odd.json.error.errors[0].reason, 'badRequest');
  t.regex(odd.json.error.message, /262144/);
  await put(emu, loc, data.subarray(0, KIB256), `bytes 0-${KIB256 - 1}/${data.length}`);
  const gap = await put(emu, loc, data.subarray(2 * KIB256), `bytes ${2 * KIB256}-${data.length - 1}/${data.length}`);
  t.is(gap.status, 308);
  t.is(gap.headers.get('range'), `bytes=0-${KIB256 - 1}`);
  const badRange = await put(emu, loc, 'abc', 'bytes 5-1/10');
  t.is(badRange.status, 400);
  const mismatch = await put(emu, loc, data.subarray(KIB256, 2 * KIB256), `bytes ${KIB256}-${2 * KIB256 - 1}/999999999`);
  t.is(mismatch.status, 400);
  const fin = await put(emu, loc, data.subarray(KIB256), `bytes ${KIB256}-${data.length - 1}/${data.length}`);
  t.is(fin.status, 200);
});

test('resumable: sessions expire after 7 days by the clock, or at once via /__emulator/expire-sessions', async (t) => {
  let now = Date.UTC(2025, 5, 1);
  const emu = await withEmulator(t, { clock: () => now });
  const token = await userToken(emu);
  const loc = await startSession(emu, token, { name: 'x' }, 10);
  now += 6 * 86_400_000;
  t.is((await put(emu, loc, '', 'bytes */10')).status, 308);
  now += 86_400_000;
  const gone = await put(emu, loc, '', 'bytes */10');
  t.is(gone.status, 404);
  t.is(gone.json.error.errors[0].reason, 'notFound');
  const token2 = await userToken(emu);
  const loc2 = await startSession(emu, token2, { name: 'y' }, 10);
  t.is((await api(emu, null, 'POST', '/__emulator/expire-sessions')).status, 200);
  t.is((await put(emu, loc2, '0123456789', 'bytes 0-9/10')).status, 404);
});

test('resumable: zero-byte file completes with bytes */0; update of existing content via PATCH', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const loc = await startSession(emu, token, { name: 'empty' }, 0);
  const done = await put(emu, `${loc}&fields=id,size,md5Checksum`, '', 'bytes */0');
  t.is(done.status, 200);
  t.deepEqual(done.json, { id: done.json.id, size: '0', md5Checksum: md5('') });
  const upd = await startSession(emu, token, { name: 'renamed' }, 5, `/upload/drive/v3/files/${done.json.id}`, 'PATCH');
  t.true(upd.includes(`/upload/drive/v3/files/${done.json.id}?uploadType=resumable&upload_id=`));
  const res = await put(emu, `${upd}&fields=id,name,size,version,md5Checksum`, 'hello', 'bytes 0-4/5');
  t.deepEqual(res.json, { id: done.json.id, name: 'renamed', size: '5', version: '2', md5Checksum: md5('hello') });
  t.deepEqual(emu.stats().requests['PATCH /upload/drive/v3/files/{id}?uploadType=resumable'], { '200': 1 });
});

test('resumable: 409 for a reused id at initiation and at completion', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const id = (await api(emu, token, 'GET', '/drive/v3/files/generateIds?count=1')).json.ids[0];
  const a = await startSession(emu, token, { id, name: 'a' }, 3);
  const b = await startSession(emu, token, { id, name: 'b' }, 3);
  t.is((await put(emu, a, 'abc', 'bytes 0-2/3')).status, 200);
  const second = await put(emu, b, 'abc', 'bytes 0-2/3');
  t.is(second.status, 409);
  t.is(second.json.error.errors[0].reason, 'duplicate');
  const third = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=resumable', { id, name: 'c' });
  t.is(third.status, 409);
  t.is(emu.listFiles().length, 1);
});

test('resumable through google-auth-library auth.request with streamed chunks', async (t) => {
  const emu = await withEmulator(t);
  const auth = oauthClient(emu);
  const data = crypto.randomBytes(KIB256 * 2 + 7);
  const start = await auth.request<unknown>({
    url: 'https://www.googleapis.com/upload/drive/v3/files?uploadType=resumable',
    method: 'POST',
    data: { name: 'via-auth.bin' },
    headers: { 'X-Upload-Content-Length': String(data.length), 'X-Upload-Content-Type': 'application/octet-stream' },
    retry: false,
  });
  const location = start.headers.get('location') as string;
  t.truthy(location);
  let offset = 0;
  let last: { status: number; data: unknown } | null = null;
  while (offset < data.length) {
    const end = Math.min(offset + KIB256, data.length) - 1;
    last = await auth.request({
      url: location,
      method: 'PUT',
      data: Readable.from(data.subarray(offset, end + 1)),
      headers: { 'Content-Range': `bytes ${offset}-${end}/${data.length}`, 'Content-Length': String(end - offset + 1) },
      validateStatus: (s) => s === 308 || (s >= 200 && s < 300),
      retry: false,
    });
    offset = end + 1;
  }
  t.is(last?.status, 200);
  t.is(emu.listFiles()[0]?.md5Checksum, md5(data));
});
