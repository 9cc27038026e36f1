// Credentials going bad while the daemon runs, end to end.
import test from 'ava';
import { setupE2E } from '../helpers/e2e.js';

// KNOWN BUG (test.failing until fixed): src/sync/upload-row.ts, pause branch — an auth error refunds
// the attempt and computes retryDelayMs(row.attempts), so the delay never grows: every pending row
// asks /token again every ~backoff_base_ms forever and logs an error line each time. Remove
// `.failing` once auth errors back off (or pause uploads account-wide like the daily cap).
test.failing('revoked refresh token: rows stay pending and their retries back off (no /token hammering)', async (t) => {
  const e = await setupE2E(t, { backoffBaseMs: 200, backoffMaxMs: 60_000 });
  await e.addJob('auth');
  for (let i = 0; i < 10; i++) e.writeFile('auth', `f${i}.txt`, `f${i}`);
  e.emu.revokeRefreshToken(e.secrets.refreshToken);
  const d = await e.startedDaemon();
  const waits: number[] = [];
  for (let n = 0; n < 3; n++) {
    const from = d.mark();
    const l = await d.waitForLog((x) => x.json?.message === 'upload waiting for Drive' && x.json.file === 'f0.txt', 20_000, from);
    t.is(l.json?.error_class, 'auth:invalid_grant');
    waits.push(Number(l.json?.retry_in_ms));
  }
  const tokenCalls = Object.values(e.emu.stats().requests['POST /token'] ?? {}).reduce((a, b) => a + b, 0);
  t.log(`retry_in_ms of f0.txt: ${waits.join(', ')}; /token requests so far: ${tokenCalls}`);
  t.true((await e.rows('auth')).every((r) => r.upload_status === 'pending' || r.upload_status === 'uploading'), 'never failed for bad credentials');
  // Equal-jitter backoff: the 3rd wait is at least 2 × base; a delay that never grows re-asks /token for every row forever.
  t.true((waits[2] ?? 0) >= 400, `third retry of one row after ${waits[2]} ms: backoff does not grow (attempt refunded every time)`);
  d.kill('SIGTERM');
  t.is((await d.exited).code, 0);
});
