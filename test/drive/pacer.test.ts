import test from 'ava';
import { createPacer, DailyCapError, type Pacer, type PacerPermit } from '../../src/drive/index.js';
import { ROOT_ID, setup, writeRandomFile } from '../helpers/drive.js';

// Virtual time: sleeps resolve when the simulated clock reaches them; nothing waits for real.
function virtualClock() {
  let now = 0;
  const timers: Array<{ at: number; fn: () => void }> = [];
  return {
    now: () => now,
    sleep: (ms: number) => new Promise<void>((r) => void timers.push({ at: now + Math.max(0, ms), fn: r })),
    async runUntil(endMs: number) {
      while (now < endMs) {
        await new Promise((r) => setImmediate(r));
        timers.sort((a, b) => a.at - b.at);
        const next = timers.shift();
        if (!next) break;
        now = next.at;
        next.fn();
      }
    },
  };
}

// A Drive-like token bucket (capacity one second of rate) fed by `workers` loops.
async function simulate(ratePerSec: number, seconds: number, workers: number, latencyMs: number, burst?: { every: number; length: number }) {
  const clock = virtualClock();
  const pacer: Pacer = createPacer({ now: clock.now, sleep: clock.sleep });
  let tokens = ratePerSec;
  let last = 0;
  let ok = 0;
  let rejected = 0;
  let stop = false;
  let requests = 0;
  const take = () => {
    // A 429 storm unrelated to our pace: every `every` requests, the next `length` are refused.
    if (burst && requests++ % burst.every >= burst.every - burst.length) return false;
    tokens = Math.min(ratePerSec, tokens + ((clock.now() - last) / 1000) * ratePerSec);
    last = clock.now();
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
  const worker = async () => {
    while (!stop) {
      const permit = await pacer.acquire();
      await clock.sleep(latencyMs / 2);
      const accepted = take();
      await clock.sleep(latencyMs / 2);
      if (accepted) {
        ok++;
        permit.success();
      } else {
        rejected++;
        permit.rateLimited();
      }
    }
  };
  for (let i = 0; i < workers; i++) void worker();
  await clock.runUntil(seconds * 1000);
  stop = true;
  return { used: ok / (ratePerSec * seconds), rejectedShare: rejected / (ok + rejected), pacer };
}

test('AIMD against a 3 writes/s bucket for an hour (virtual): >= 90 % used, < 1 % rejected', async (t) => {
  const r = await simulate(3, 3600, 8, 400);
  t.log(`3/s, 1 h, 400 ms latency: used ${(r.used * 100).toFixed(1)} %, rejected ${(r.rejectedShare * 100).toFixed(2)} %`);
  t.true(r.used >= 0.9);
  t.true(r.rejectedShare < 0.01);
});

test('AIMD adapts to other quotas too (virtual)', async (t) => {
  for (const [rate, secs] of [
    [5, 600],
    [10, 300],
    [2, 1200],
  ] as const) {
    const r = await simulate(rate, secs, 8, 50);
    t.log(`${rate}/s: used ${(r.used * 100).toFixed(1)} %, rejected ${(r.rejectedShare * 100).toFixed(2)} %`);
    t.true(r.used >= 0.9, `${rate}/s used`);
    t.true(r.rejectedShare < 0.01, `${rate}/s rejected`);
  }
});

test('429 storms unrelated to the quota cost one cut each and the rate climbs back (virtual): no slide to the floor', async (t) => {
  // 10 rejections in a row every 300 requests, on top of a 10/s bucket, for 10 minutes.
  const r = await simulate(10, 600, 8, 200, { every: 300, length: 10 });
  t.log(`10/s with 429 storms: used ${(r.used * 100).toFixed(1)} %, rate at the end ${r.pacer.ratePerSec().toFixed(2)}/s, cuts ${r.pacer.stats().cuts}`);
  t.true(r.used >= 0.8, `quota used ${r.used}`);
  t.false(r.pacer.atFloor());
});

// The quota benchmark's shape: a cold start (no saved rate, a full bucket) and a fixed amount of
// work, measured from the first write that reached the bucket to the last.
async function coldRun(ratePerSec: number, writes: number, workers: number, latencyMs: number) {
  const clock = virtualClock();
  const pacer = createPacer({ now: clock.now, sleep: clock.sleep });
  let tokens = ratePerSec;
  let last = 0;
  let ok = 0;
  let rejected = 0;
  let started = 0;
  let first = -1;
  let lastAt = 0;
  const worker = async () => {
    while (started < writes) {
      started++;
      for (;;) {
        const permit = await pacer.acquire();
        await clock.sleep(latencyMs / 2);
        tokens = Math.min(ratePerSec, tokens + ((clock.now() - last) / 1000) * ratePerSec);
        last = clock.now();
        const accepted = tokens >= 1;
        if (accepted) tokens -= 1;
        if (first < 0) first = clock.now();
        lastAt = clock.now();
        await clock.sleep(latencyMs / 2);
        if (accepted) {
          ok++;
          permit.success();
          break;
        }
        rejected++;
        permit.rateLimited();
      }
    }
  };
  const all = Promise.all(Array.from({ length: workers }, worker));
  await clock.runUntil(3_600_000);
  await all;
  return { ok, rejected, used: ok / ((ratePerSec * (lastAt - first)) / 1000) };
}

test('cold start against a 3 writes/s bucket, 246 writes (virtual): >= 95 % of the quota used, one rejection', async (t) => {
  // Ten successes before the first rejection pin the quota down to one token in ten: the cut
  // must take the middle of that range, not its floor (which left 89 % of the quota for the run).
  const r = await coldRun(3, 246, 4, 20);
  t.log(`used ${(r.used * 100).toFixed(1)} %, ${r.rejected} rejected`);
  t.is(r.ok, 246);
  t.true(r.used >= 0.95, `quota used ${r.used}`);
  t.is(r.rejected, 1);
});

test('one cut per epoch: rejections of writes sent before a cut do not cut again; Retry-After is honoured', async (t) => {
  const clock = virtualClock();
  const p = createPacer({ now: clock.now, sleep: clock.sleep, initialRatePerSec: 4 });
  const permits: PacerPermit[] = [];
  const run = (async () => {
    for (let i = 0; i < 4; i++) permits.push(await p.acquire());
  })();
  await clock.runUntil(5000);
  await run;
  t.is(permits.length, 4);
  for (const x of permits) x.rateLimited();
  t.is(p.stats().cuts, 1);
  t.true(p.ratePerSec() <= 4 * 0.9 && p.ratePerSec() >= 2);
  // Retry-After 10 s: the next slot is not before then.
  const pending = p.acquire();
  await clock.runUntil(clock.now() + 5000);
  const next = await pending;
  next.rateLimited(10_000);
  const t0 = clock.now();
  let grantedAt = -1;
  void p.acquire().then(() => void (grantedAt = clock.now()));
  await clock.runUntil(t0 + 20_000);
  t.true(grantedAt - t0 >= 10_000, `granted after ${grantedAt - t0} ms`);
});

test('acquire rejects when its signal aborts, and the queue moves on', async (t) => {
  const p = createPacer({ initialRatePerSec: 2 });
  (await p.acquire()).success();
  const ac = new AbortController();
  const waiting = p.acquire(ac.signal);
  ac.abort(new Error('stop'));
  await t.throwsAsync(waiting, { message: 'stop' });
  const ok = await p.acquire();
  ok.done();
  t.is(p.stats().granted, 2, 'the aborted waiter took no slot; the next one got it');
});

test('daily cap: repeated upload rate limits at the pacer floor pause uploads, one warning, probe resumes', async (t) => {
  let offset = 0;
  const s = await setup(t, {
    emulator: { faults: { dailyUploadCapBytes: 1000 } },
    client: {
      now: () => Date.now() + offset,
      pacer: { initialRatePerSec: 50, minRatePerSec: 40, maxRatePerSec: 100 },
      dailyCap: { consecutive: 3, streakMs: 3_600_000, pauseMs: 3_600_000 },
    },
  });
  const ids = await s.drive.reserveIds(10);
  const file = await writeRandomFile(s.dir, 'cap.bin', 1000);
  const up = async (i: number) =>
    s.drive.upload({ fileId: ids[i]!, name: `cap-${i}`, parentId: ROOT_ID, file: await s.open(file), appProperties: {}, mode: 'create' });
  await up(0); // fills today's cap
  t.is(s.drive.uploadsPausedUntil(), null);
  const e = await t.throwsAsync<DailyCapError>(up(1));
  t.true(e instanceof DailyCapError, String(e));
  t.is(e?.kind, 'daily_cap');
  const until = s.drive.uploadsPausedUntil();
  t.truthy(until);
  t.true(until! > Date.now() + offset + 3_500_000);
  t.is(s.emu.stats().rejectedRateLimit, 3);

  // While paused: refused at once, nothing sent.
  const e2 = await t.throwsAsync(up(2));
  t.true(e2 instanceof DailyCapError);
  t.is(s.emu.stats().rejectedRateLimit, 3);
  // Folders (no content) still work.
  await s.drive.ensureFolderPath(ROOT_ID, ['still-works']);

  // An hour later, the cap still holds: the probe re-pauses (no second warning).
  offset = 3_600_001;
  await t.throwsAsync(up(3), { instanceOf: DailyCapError });
  t.true(s.drive.uploadsPausedUntil()! > Date.now() + offset);
  t.is(s.emu.stats().rejectedRateLimit, 4);
  // Next day (the emulator's cap lifted): the probe succeeds and uploads resume.
  s.emu.setFaults({ dailyUploadCapBytes: null });
  offset = 2 * 3_600_002;
  const ok = await up(4);
  t.is(ok.file.size, 1000);
  t.is(s.drive.uploadsPausedUntil(), null);
  await up(5);
  const lines = s.log.lines();
  t.is(lines.filter((l) => l.level === 'warning').length, 1);
  t.regex(lines.find((l) => l.level === 'warning')?.message ?? '', /daily upload cap reached/);
  t.is(lines.filter((l) => l.level === 'notice' && /resumed/.test(l.message)).length, 1);
});

// On the real clock the share of the quota used depends on how busy the machine is, so that
// figure is the benchmark's (`npm run bench`, quota) and the virtual-clock tests above'. Here: the
// pacer against a real rate-limiting server delivers every upload exactly once.
test('pacer against the emulator at 5 writes/s: 60 uploads from 8 workers all land once, rate limits absorbed', async (t) => {
  const quota = 5;
  const s = await setup(t, { emulator: { faults: { writeQuotaPerSec: quota, rateLimitStatus: 403 } }, client: { pacer: {} } });
  const ids = await s.drive.reserveIds(60);
  const file = await writeRandomFile(s.dir, 'tiny.bin', 200);
  const base = s.emu.stats();
  let next = 0;
  let uploaded = 0;
  const worker = async () => {
    for (let id = ids[next++]; id; id = ids[next++]) {
      await s.drive.upload({ fileId: id, name: `w-${id}`, parentId: ROOT_ID, file: await s.open(file), appProperties: {}, mode: 'create' });
      uploaded++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const st = s.emu.stats();
  const writes = st.writeRequests - base.writeRequests;
  const rejected = st.rejectedRateLimit - base.rejectedRateLimit;
  t.log(`writes ${writes}, accepted ${writes - rejected}, rejected ${rejected}`);
  t.is(uploaded, 60);
  t.is(writes - rejected, 60, 'one accepted write per upload');
  t.deepEqual(
    s.emu
      .listFiles()
      .filter((f) => f.name.startsWith('w-'))
      .map((f) => f.id)
      .sort(),
    [...ids].sort(),
  );
});

test('a snapshot carries the learned rate into a new pacer; a malformed one is ignored', async (t) => {
  const clock = virtualClock();
  const first = createPacer({ now: clock.now, sleep: clock.sleep });
  t.deepEqual(first.snapshot(), { ratePerSec: 3, slowStart: true, recoverToPerSec: 0 });
  // Ten paced successes, then a rejection: the rate is now a measured one.
  const run = (async () => {
    for (let i = 0; i < 10; i++) (await first.acquire()).success();
    (await first.acquire()).rateLimited();
  })();
  await clock.runUntil(60_000);
  await run;
  const snap = first.snapshot();
  t.false(snap.slowStart);
  t.not(snap.ratePerSec, 3);
  const second = createPacer({ now: clock.now, sleep: clock.sleep, resume: snap });
  t.deepEqual(second.snapshot(), snap);
  t.false(second.stats().slowStart);
  for (const bad of [
    { ratePerSec: -1, slowStart: false, recoverToPerSec: 0 },
    { ratePerSec: Number.NaN, slowStart: false, recoverToPerSec: 0 },
    { ratePerSec: 5 } as never,
    null,
  ]) {
    t.deepEqual(
      createPacer({ now: clock.now, sleep: clock.sleep, resume: bad }).snapshot(),
      { ratePerSec: 3, slowStart: true, recoverToPerSec: 0 },
      JSON.stringify(bad),
    );
  }
  // Clamped like any rate.
  t.is(createPacer({ now: clock.now, sleep: clock.sleep, resume: { ratePerSec: 1e9, slowStart: false, recoverToPerSec: 0 } }).ratePerSec(), 100);
});
