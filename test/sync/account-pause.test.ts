// The account-wide pause after an auth failure.
import test from 'ava';
import { createAccountPause } from '../../src/sync/index.js';

test('auth failures pause with a growing delay, capped; only the failure that starts a pause is "first"', (t) => {
  const p = createAccountPause({ baseMs: 1000, maxMs: 5000 });
  const t0 = 1_000_000;
  t.is(p.until(t0), null, 'not paused at first');

  const a = p.authFailed(t0);
  t.deepEqual(a, { resumeAt: t0 + 1000, first: true });
  t.is(p.until(t0), t0 + 1000);
  // Other rows failing during the same pause neither extend it nor log again.
  t.deepEqual(p.authFailed(t0 + 500), { resumeAt: t0 + 1000, first: false });
  t.is(p.until(t0 + 999), t0 + 1000);
  t.is(p.until(t0 + 1000), null, 'over at resumeAt');

  const b = p.authFailed(t0 + 1000);
  t.deepEqual(b, { resumeAt: t0 + 1000 + 2000, first: true });
  const c = p.authFailed(b.resumeAt);
  t.deepEqual(c, { resumeAt: b.resumeAt + 4000, first: true });
  const d = p.authFailed(c.resumeAt);
  t.deepEqual(d, { resumeAt: c.resumeAt + 5000, first: true }, 'capped at maxMs');
  const e = p.authFailed(d.resumeAt);
  t.is(e.resumeAt - d.resumeAt, 5000, 'stays capped');
});

test('a success ends the pause and resets the growth', (t) => {
  const p = createAccountPause({ baseMs: 1000, maxMs: 60_000 });
  let at = 0;
  for (let i = 0; i < 4; i++) at = p.authFailed(at).resumeAt;
  t.is(p.until(at - 1), at);
  p.succeeded();
  t.is(p.until(at - 1), null, 'no longer paused');
  t.deepEqual(p.authFailed(at), { resumeAt: at + 1000, first: true }, 'back to the base delay');
});

test('a huge streak never overflows the cap', (t) => {
  const p = createAccountPause({ baseMs: 1000, maxMs: 300_000 });
  let at = 0;
  let last = 0;
  for (let i = 0; i < 100; i++) {
    const r = p.authFailed(at);
    last = r.resumeAt - at;
    at = r.resumeAt;
  }
  t.is(last, 300_000);
  t.true(Number.isFinite(at));
});
