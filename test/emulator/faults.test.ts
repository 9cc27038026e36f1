import http from 'node:http';
import test from 'ava';
import { api, userToken, withEmulator } from '../helpers/emulator.js';
import { waitUntil } from '../helpers/poll.js';
import type { Emulator } from '../../src/emulator/index.js';

const FOLDER = 'application/vnd.google-apps.folder';

async function statuses(emu: Emulator, token: string, n: number, path = '/drive/v3/files?pageSize=1'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    try {
      out.push((await api(emu, token, 'GET', path)).status);
    } catch {
      out.push(-1); // connection reset
    }
  }
  return out;
}

test('error5xxRate 10% over 500 requests: about 50 backendErrors, repeatable with the seed', async (t) => {
  const runs: number[][] = [];
  for (let r = 0; r < 2; r++) {
    const emu = await withEmulator(t, { faults: { error5xxRate: 0.1, seed: 42 } });
    const token = await userToken(emu);
    runs.push(await statuses(emu, token, 500));
    const failed = runs[r]!.filter((s) => s >= 500).length;
    t.true(failed >= 30 && failed <= 70, `got ${failed}`);
    t.is(emu.stats().injected5xx, failed);
    t.true(runs[r]!.every((s) => s === 200 || s === 500 || s === 503));
    t.true(runs[r]!.includes(500) && runs[r]!.includes(503));
  }
  t.deepEqual(runs[0], runs[1], 'same seed, same sequence');
  const emu = await withEmulator(t, { faults: { error5xxRate: 1 } });
  const res = await api(emu, await userToken(emu), 'POST', '/drive/v3/files', { name: 'x', mimeType: FOLDER });
  t.true(res.status === 500 || res.status === 503);
  t.is(res.json.error.errors[0].reason, 'backendError');
  t.is(emu.listFiles().length, 0);
});

test('resetRate 10%: about 10% of connections destroyed; writes are sometimes done before the reset', async (t) => {
  const emu = await withEmulator(t, { faults: { resetRate: 0.1, seed: 7 } });
  const token = await userToken(emu);
  const out = await statuses(emu, token, 300);
  const resets = out.filter((s) => s === -1).length;
  t.true(resets >= 15 && resets <= 45, `got ${resets}`);
  t.is(emu.stats().resets, resets);
  t.is(emu.stats().requests['GET /drive/v3/files']?.reset, resets);

  emu.setFaults({ resetRate: 1 });
  let failures = 0;
  for (let i = 0; i < 20; i++) {
    await api(emu, token, 'POST', '/drive/v3/files', { name: `f${i}`, mimeType: FOLDER }).catch(() => failures++);
  }
  t.is(failures, 20);
  const made = emu.listFiles().length;
  t.true(made > 0 && made < 20, `response lost after the work for some: ${made}`);
});

test('burst429: after every N requests the next L get 429 rateLimitExceeded', async (t) => {
  const emu = await withEmulator(t, { faults: { burst429: { every: 5, length: 2 } } });
  const token = await userToken(emu);
  const out = await statuses(emu, token, 14);
  t.deepEqual(out, [200, 200, 200, 200, 200, 429, 429, 200, 200, 200, 200, 200, 429, 429]);
  const res = await api(emu, token, 'GET', '/drive/v3/files');
  t.is(res.status, 200);
  emu.setFaults({ burst429: { every: 1, length: 1 } });
  t.is((await api(emu, token, 'GET', '/drive/v3/files')).status, 200, 'setting burst429 restarts its cycle');
  const limited = await api(emu, token, 'GET', '/drive/v3/files');
  t.deepEqual(limited.json.error.errors[0], { domain: 'usageLimits', reason: 'rateLimitExceeded', message: 'Rate limit exceeded.' });
  t.is(emu.stats().rejectedRateLimit, 5);
});

test('write quota: token bucket of writeQuotaPerSec, refilled by the clock', async (t) => {
  let now = Date.UTC(2025, 0, 1);
  const emu = await withEmulator(t, { clock: () => now, faults: { writeQuotaPerSec: 5 } });
  const token = await userToken(emu);
  const write = () => api(emu, token, 'POST', '/drive/v3/files', { name: 'x', mimeType: FOLDER });
  const first: number[] = [];
  for (let i = 0; i < 8; i++) first.push((await write()).status);
  t.deepEqual(first, [200, 200, 200, 200, 200, 403, 403, 403]);
  const denied = await write();
  t.deepEqual(denied.json.error.errors[0], { domain: 'usageLimits', reason: 'userRateLimitExceeded', message: 'User rate limit exceeded.' });
  // Reads and generateIds are not writes.
  t.is((await api(emu, token, 'GET', '/drive/v3/files')).status, 200);
  t.is((await api(emu, token, 'GET', '/drive/v3/files/generateIds?count=2')).status, 200);
  now += 400;
  t.deepEqual([(await write()).status, (await write()).status, (await write()).status], [200, 200, 403]);
  now += 10_000;
  const burst: number[] = [];
  for (let i = 0; i < 6; i++) burst.push((await write()).status);
  t.deepEqual(burst, [200, 200, 200, 200, 200, 403], 'capacity is one second worth');
  emu.setFaults({ rateLimitStatus: 429 });
  const r429 = await write();
  t.is(r429.status, 429);
  t.is(r429.json.error.errors[0].reason, 'rateLimitExceeded');
  const s = emu.stats();
  t.is(s.writeRequests, 8 + 1 + 3 + 6 + 1);
  t.is(s.writesAccepted, 5 + 2 + 5);
  t.is(s.rejectedRateLimit, s.writeRequests - s.writesAccepted);
});

test('write quota on the real clock: never more than burst + rate x elapsed', async (t) => {
  const emu = await withEmulator(t, { faults: { writeQuotaPerSec: 20 } });
  const token = await userToken(emu);
  const started = Date.now();
  let accepted = 0;
  let attempts = 0;
  while (Date.now() - started < 1000) {
    // Batches of concurrent writes keep the bucket empty even on a slow machine.
    const batch = await Promise.all(Array.from({ length: 10 }, () => api(emu, token, 'POST', '/drive/v3/files', { name: 'x', mimeType: FOLDER })));
    attempts += batch.length;
    accepted += batch.filter((r) => r.status === 200).length;
  }
  const elapsedS = (Date.now() - started) / 1000;
  const ceiling = 20 + 20 * elapsedS;
  t.true(accepted <= ceiling + 1, `accepted ${accepted}, ceiling ${ceiling.toFixed(1)}`);
  t.true(accepted >= Math.min(attempts, 20), `accepted ${accepted} of ${attempts}`);
  t.is(emu.stats().rejectedRateLimit, attempts - accepted);
});

test('daily upload cap: 403 userRateLimitExceeded until the next UTC day', async (t) => {
  let now = Date.UTC(2025, 2, 3, 12);
  const emu = await withEmulator(t, { clock: () => now, faults: { dailyUploadCapBytes: 100 } });
  let token = await userToken(emu);
  const up = (n: number) => api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=media', 'x'.repeat(n), { 'content-type': 'text/plain' });
  t.is((await up(60)).status, 200);
  const over = await up(60);
  t.is(over.status, 403);
  t.deepEqual(over.json.error, {
    code: 403,
    message: 'User rate limit exceeded.',
    errors: [{ domain: 'usageLimits', reason: 'userRateLimitExceeded', message: 'User rate limit exceeded.' }],
    status: 'PERMISSION_DENIED',
  });
  t.is((await up(40)).status, 200);
  t.is((await up(1)).status, 403);
  // Resumable announces its size: refused at initiation.
  const rs = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=resumable', { name: 'r' }, { 'x-upload-content-length': '10' });
  t.is(rs.status, 403);
  t.is(emu.stats().uploadedBytesToday, 100);
  now = Date.UTC(2025, 2, 4, 0, 0, 1);
  token = await userToken(emu); // the old one expired with the clock jump
  t.is((await up(60)).status, 200);
  t.is(emu.stats().rejectedRateLimit, 3);
});

test('storage quota: 403 storageQuotaExceeded, freed by delete', async (t) => {
  const emu = await withEmulator(t, { faults: { storageQuotaBytes: 100 } });
  const token = await userToken(emu);
  const up = (n: number) => api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=media', 'y'.repeat(n), { 'content-type': 'text/plain' });
  const first = await up(60);
  t.is(first.status, 200);
  const over = await up(60);
  t.is(over.status, 403);
  t.deepEqual(over.json.error.errors[0], {
    domain: 'usageLimits',
    reason: 'storageQuotaExceeded',
    message: "The user's Drive storage quota has been exceeded.",
  });
  const mp = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=multipart', `--b\r\n\r\n{"name":"m"}\r\n--b\r\n\r\n${'z'.repeat(50)}\r\n--b--`, {
    'content-type': 'multipart/related; boundary=b',
  });
  t.is(mp.status, 403);
  t.is((await api(emu, token, 'DELETE', `/drive/v3/files/${first.json.id}`)).status, 204);
  t.is((await up(60)).status, 200);
  t.is(emu.stats().storedBytes, 60);
  t.is(emu.listFiles().length, 1);
});

test('latency and concurrency are observable; faults settable at run time over HTTP', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const set = await api(emu, null, 'POST', '/__emulator/faults', { latencyMs: 80 });
  t.is(set.status, 200);
  t.is(set.json.latencyMs, 80);
  const started = Date.now();
  await api(emu, token, 'GET', '/drive/v3/files');
  t.true(Date.now() - started >= 75, 'the latency is a lower bound on every answer');
  // Concurrency: 8 uploads whose bodies are held open are all in flight at once, however slow
  // the machine is; the counters see exactly them.
  await api(emu, null, 'POST', '/__emulator/faults', { latencyMs: 0 });
  const held = Array.from({ length: 8 }, () => {
    const req = http.request(`${emu.url}/upload/drive/v3/files?uploadType=media`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain', 'content-length': '4' },
    });
    const answered = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => (res.resume(), resolve(res.statusCode ?? 0)));
      req.on('error', reject);
    });
    req.write('ab');
    return { req, answered };
  });
  await waitUntil(() => emu.stats().concurrentRequests === 8, 20_000, '8 uploads in flight', 10);
  for (const h of held) h.req.end('cd');
  t.deepEqual(await Promise.all(held.map((h) => h.answered)), Array(8).fill(200));
  t.is(emu.stats().peakConcurrentRequests, 8);
  const bad = await api(emu, null, 'POST', '/__emulator/faults', { error5xxRate: 2 });
  t.is(bad.status, 400);
  t.regex(bad.json.error, /error5xxRate/);
  t.is((await api(emu, null, 'POST', '/__emulator/faults', { latencyMs: 0, error5xxRate: 1 })).status, 200);
  t.true((await api(emu, token, 'GET', '/drive/v3/files')).status >= 500);
  t.is((await api(emu, null, 'GET', '/__emulator/faults')).json.error5xxRate, 1);
  t.is((await api(emu, null, 'GET', '/__emulator/stats')).status, 200, 'inspection routes are never faulted');
});
