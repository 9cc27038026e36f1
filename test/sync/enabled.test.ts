// createEnabledJobs on a real SQLite store: the one "is this job enabled" answer.
import test from 'ava';
import { createEnabledJobs } from '../../src/sync/index.js';
import { makeTestStore } from '../helpers/db.js';

test('answers from batch_jobs: enabled job with its row, disabled and unknown jobs undefined', async (t) => {
  const { store, clock } = await makeTestStore(t, 'real', [
    { job_id: 'on', enabled: true, pattern: 'p/{job_id}' },
    { job_id: 'off', enabled: false },
  ]);
  const jobs = createEnabledJobs(store, { now: clock.now, ttlMs: 5000 });
  const on = await jobs.get('on');
  t.is(on?.jobId, 'on');
  t.is(on?.pattern, 'p/{job_id}');
  t.is(await jobs.get('off'), undefined);
  t.false(await jobs.isEnabled('nope'));
  t.true(await jobs.isEnabled('on'));
});

test('an answer is kept for ttlMs, then read again; clear() forgets at once', async (t) => {
  const { store, clock } = await makeTestStore(t, 'real', [{ job_id: 'j', enabled: true }]);
  const jobs = createEnabledJobs(store, { now: clock.now, ttlMs: 5000 });
  t.true(await jobs.isEnabled('j'));
  await store.setJobEnabled('j', false);
  clock.advance(4999);
  t.true(await jobs.isEnabled('j'), 'still the cached answer');
  clock.advance(1);
  t.false(await jobs.isEnabled('j'), 'expired: read again');
  await store.setJobEnabled('j', true);
  t.false(await jobs.isEnabled('j'));
  jobs.clear();
  t.true(await jobs.isEnabled('j'));
});

test('concurrent asks share one query; a failed query is not kept', async (t) => {
  const { store, clock } = await makeTestStore(t, 'real', [{ job_id: 'j', enabled: true }]);
  let queries = 0;
  let fail = true;
  const counting = {
    listEnabledJobs: (id?: string) => {
      queries++;
      return fail ? Promise.reject(new Error('SQLITE_BUSY')) : store.listEnabledJobs(id);
    },
  };
  const jobs = createEnabledJobs(counting, { now: clock.now, ttlMs: Infinity });
  await t.throwsAsync(Promise.all([jobs.get('j'), jobs.get('j')]), { message: 'SQLITE_BUSY' });
  t.is(queries, 1);
  fail = false;
  const [a, b] = await Promise.all([jobs.get('j'), jobs.get('j')]);
  t.is(a?.jobId, 'j');
  t.is(a, b);
  t.is(queries, 2);
});
