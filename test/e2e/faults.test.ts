// Drive misbehaving, end to end: 5xx storms and connection resets.
import test from 'ava';
import { assertExactlyOnce, setupE2E, utcDate } from '../helpers/e2e.js';

function makeFiles(job: string, n: number) {
  return Array.from({ length: n }, (_, i) => ({ job, rel: `part-${i}.txt`, content: `${job} ${i} ${'z'.repeat(i)}` }));
}

test('5xx storm (30 %): everything uploaded eventually, nothing twice', async (t) => {
  const e = await setupE2E(t, { faults: { error5xxRate: 0.3, seed: 11 }, maxAttempts: 20, concurrency: 4 });
  await e.addJob('storm');
  const files = makeFiles('storm', 40);
  for (const f of files) e.writeFile(f.job, f.rel, f.content);
  const r = await e.cli(['sync', '--once'], { timeoutMs: 90_000 });
  t.is(r.code, 0, r.stdout + r.stderr.slice(-3000));
  t.true(e.emu.stats().injected5xx > 0, 'the storm happened');
  t.log(`injected 5xx: ${e.emu.stats().injected5xx}, drive requests: ${e.emu.stats().driveRequests} for ${files.length} files`);
  await assertExactlyOnce(t, e, files, (job) => `batch/${utcDate()}/${job}`);
  t.is((await e.jobRow('storm'))?.drive_upload_status, 'completed');
});

test('connection resets (10 %), half after Drive did the work: everything uploaded, nothing twice', async (t) => {
  const e = await setupE2E(t, { faults: { resetRate: 0.1, seed: 5 }, maxAttempts: 20, concurrency: 4 });
  await e.addJob('resets');
  const files = makeFiles('resets', 40);
  for (const f of files) e.writeFile(f.job, f.rel, f.content);
  const r = await e.cli(['sync', '--once'], { timeoutMs: 90_000 });
  t.is(r.code, 0, r.stdout + r.stderr.slice(-3000));
  t.true(e.emu.stats().resets > 0, 'sockets were reset');
  t.log(`resets: ${e.emu.stats().resets}`);
  await assertExactlyOnce(t, e, files, (job) => `batch/${utcDate()}/${job}`);
});
