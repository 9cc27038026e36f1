// The daemon's scan kinds on a real database, file tree and emulator: when a scheduled scan may
// trust the watcher and leave a job's directory unwalked.
import test from 'ava';
import { startJobWatch } from '../../src/daemon/job-watch.js';
import { createScans } from '../../src/daemon/scans.js';
import { createSilentLogger } from '../../src/log/index.js';
import { createEnabledJobs } from '../../src/sync/index.js';
import { waitUntil } from '../helpers/poll.js';
import { never, setupSync } from '../sync/fixtures.js';

test('a scheduled scan before the start-up walk walks every job even when the watcher covers it; after the walk it trusts the watcher', async (t) => {
  // A finished job whose file was written while the daemon was down.
  const s = await setupSync(t, { jobs: [{ job_id: 'fine', enabled: true, status: 'completed' }] });
  s.writeFile('fine', 'a.txt', 'a');
  const scans = createScans({
    getCtx: () => s.rt.ctx,
    log: createSilentLogger(),
    signal: never,
    // As right after the start-up's watches are up: every directory watched, nothing walked yet.
    covers: () => true,
    afterScan: async () => undefined,
  });
  const files = async () => (await s.rows()).map((r) => r.original_filename);
  const jobStatus = async () => (await s.rt.db.get<{ s: string }>("SELECT drive_upload_status AS s FROM batch_jobs WHERE job_id = 'fine'"))?.s;

  // A cron tick that lands before the start-up scan (the cron starts first).
  await scans.scan('scheduled');
  t.deepEqual(await files(), ['a.txt'], 'the file written while the daemon was down has its row');
  t.not(await jobStatus(), 'completed', 'a job with a file not yet in Drive is not completed');

  // After the start-up walk, a file in a covered job is the watcher's to report: scheduled scans
  // do not walk the job again.
  await scans.scan('startup');
  s.writeFile('fine', 'b.txt', 'b');
  await scans.scan('scheduled');
  t.deepEqual(await files(), ['a.txt']);
  // A full scan walks it.
  await scans.scan('full');
  t.deepEqual((await files()).sort(), ['a.txt', 'b.txt']);
  await scans.stop();
});

test('a job newly watched is not covered until its walk has run: a scheduled scan meanwhile walks it', async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'later', enabled: true }], watch: { stability_ms: 100 } });
  s.writeFile('later', 'early.txt', 'written before the watch');
  const jw = await startJobWatch({
    getCtx: () => s.rt.ctx,
    log: createSilentLogger(),
    enabled: createEnabledJobs(s.rt.ctx.store, { now: s.now, ttlMs: 0 }),
    signal: never,
    onWork: () => undefined,
  });
  t.teardown(() => jw.close());
  await jw.refresh();
  t.false(jw.covers('later'), 'watched, but its walk has not run yet');
  await waitUntil(async () => (await s.rows()).length === 1 && jw.covers('later'), 30_000, 'the walk, then covered');
  t.deepEqual(
    (await s.rows()).map((r) => r.original_filename),
    ['early.txt'],
  );
});
