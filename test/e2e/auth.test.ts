// Credentials going bad while the daemon runs, end to end.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { setupE2E } from '../helpers/e2e.js';

// An auth failure pauses uploads for the whole account with a growing delay, logged once per
// pause: rows stay pending (never failed for bad credentials) and /token is not hammered.
test('revoked refresh token: uploads pause account-wide with a growing delay, one error line per pause', async (t) => {
  const e = await setupE2E(t, { backoffBaseMs: 200, backoffMaxMs: 60_000 });
  await e.addJob('auth');
  for (let i = 0; i < 10; i++) e.writeFile('auth', `f${i}.txt`, `f${i}`);
  e.emu.revokeRefreshToken(e.secrets.refreshToken);
  const d = await e.startedDaemon();
  const pauses: number[] = [];
  let from = d.mark();
  for (let n = 0; n < 3; n++) {
    const l = await d.waitForLog((x) => /credentials: uploads paused/.test(String(x.json?.message ?? '')), 20_000, from);
    from = d.mark();
    t.is(l.json?.error_class, 'auth:invalid_grant');
    pauses.push(Number(l.json?.resume_in_ms));
  }
  const tokenCalls = Object.values(e.emu.stats().requests['POST /token'] ?? {}).reduce((a, b) => a + b, 0);
  const errorLines = d.lines.filter((x) => x.json?.level === 'error').length;
  t.log(`pauses ${pauses.join(', ')} ms; /token requests ${tokenCalls}; error lines ${errorLines}`);
  t.true((pauses[1] ?? 0) > (pauses[0] ?? 0) && (pauses[2] ?? 0) > (pauses[1] ?? 0), `pauses grow: ${pauses.join(', ')}`);
  // 10 rows × 3 pauses: without the account pause this is one token request per row per retry.
  t.true(tokenCalls <= 3 * 4 + 2, `/token requests ${tokenCalls}`);
  t.true(
    (await e.rows('auth')).every((r) => r.upload_status === 'pending' || r.upload_status === 'uploading'),
    'never failed for bad credentials',
  );
  d.kill('SIGTERM');
  t.is((await d.exited).code, 0);
});

test('sync --once with revoked credentials exits 1 and says why; rows stay pending, not failed', async (t) => {
  const e = await setupE2E(t, { backoffBaseMs: 200, backoffMaxMs: 60_000 });
  await e.addJob('auth-once');
  for (let i = 0; i < 3; i++) e.writeFile('auth-once', `f${i}.txt`, `f${i}`);
  e.emu.revokeRefreshToken(e.secrets.refreshToken);
  const r = await e.cli(['sync', '--once', '--max-wait-ms', '5000']);
  t.is(r.code, 1, `${r.stdout}${r.stderr}`);
  t.regex(r.stderr, /uploads paused: Drive refused our credentials \(.*invalid_grant.*\); fix auth\.\* and run again/, r.stderr);
  t.regex(r.stdout, /uploaded 0, failed rows 0, pending rows 3/);
  const rows = await e.rows('auth-once');
  t.is(rows.length, 3);
  t.true(
    rows.every((x) => x.upload_status === 'pending' && /invalid_grant/.test(x.upload_error ?? '')),
    JSON.stringify(rows),
  );
  t.deepEqual(e.driveFiles(), []);

  // Credentials fixed (a new refresh token): the next pass uploads everything and exits 0.
  writeFileSync(join(e.dir, 'refresh-token'), `1//e2e-refresh-renewed-${Date.now()}\n`);
  const ok = await e.cli(['sync', '--once']);
  t.is(ok.code, 0, ok.stderr);
  t.is(e.driveFiles().length, 3);
});
