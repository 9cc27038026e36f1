/**
 * The store contract: every backend must pass all of it. Run by store.test.ts (SQLite) and
 * store-postgres.test.ts (PostgreSQL) with their backend; what differs between the two (a typed
 * column refusing text) is said where it is checked.
 */
import test from 'ava';
import { sqlTimestamp, type FileRow, type UploadStore } from '../../src/db/index.js';
import { T0 } from '../helpers/db.js';
import type { StoreBackend } from '../helpers/store-backends.js';

export function storeContract(b: StoreBackend): void {
  const makeTestStore = b.make;

  const LEASE_MS = 60_000;
  const uploaded = (id: number, size = 1, mtimeMs = 1) => ({
    driveFileId: `drive-${id}`,
    fileUrl: `https://drive.google.com/file/d/drive-${id}/view`,
    previewUrl: `https://drive.google.com/file/d/drive-${id}/preview`,
    size,
    mtimeMs,
    md5: 'd41d8cd98f00b204e9800998ecf8427e',
  });

  async function row(store: UploadStore, id: number): Promise<FileRow> {
    const r = await store.getRow(id);
    if (!r) throw new Error(`row ${id} not found`);
    return r;
  }

  async function rowByName(s: { db: { get: <T>(sql: string, ...p: unknown[]) => Promise<T | undefined> } }, job: string, file: string) {
    const r = await s.db.get<FileRow & { updated_at: string; uploaded_at: number | null }>(
      'SELECT * FROM batch_file_drive_metadata WHERE batch_job_id = ? AND original_filename = ?',
      job,
      file,
    );
    if (!r) throw new Error(`no row ${job}/${file}`);
    return r;
  }

  /** A store with job-1 (enabled) and optional more jobs. */
  async function setup(t: Parameters<typeof makeTestStore>[0], jobs: Parameters<typeof makeTestStore>[2] = [{ job_id: 'job-1', enabled: true }]) {
    return makeTestStore(t, 'real', jobs);
  }

  test('upsertFile: inserted → unchanged (no write) → updated while pending', async (t) => {
    const s = await setup(t);
    t.is(await s.store.upsertFile('job-1', 'pages/p-001.png', { size: 10, mtimeMs: 1000.7 }), 'inserted');
    const first = await rowByName(s, 'job-1', 'pages/p-001.png');
    t.like(first, {
      upload_status: 'pending',
      attempts: 0,
      next_attempt_at: T0,
      local_size: 10,
      local_mtime_ms: 1000,
      lease_owner: null,
      updated_at: sqlTimestamp(T0),
    });

    s.clock.advance(60_000);
    // Same stat (sub-millisecond mtime differences do not count): no write at all.
    t.is(await s.store.upsertFile('job-1', 'pages/p-001.png', { size: 10, mtimeMs: 1000.2 }), 'unchanged');
    t.deepEqual(await rowByName(s, 'job-1', 'pages/p-001.png'), first);

    t.is(await s.store.upsertFile('job-1', 'pages/p-001.png', { size: 12, mtimeMs: 2000 }), 'updated');
    t.like(await rowByName(s, 'job-1', 'pages/p-001.png'), {
      id: first.id,
      upload_status: 'pending',
      local_size: 12,
      local_mtime_ms: 2000,
      next_attempt_at: T0,
      updated_at: sqlTimestamp(T0 + 60_000),
    });
    t.is((await s.db.get<{ n: number }>('SELECT count(*) AS n FROM batch_file_drive_metadata'))?.n, 1);
  });

  test('upsertFile: an uploaded file that changed is requeued as a new revision; unchanged one costs nothing', async (t) => {
    const s = await setup(t);
    await s.store.upsertFile('job-1', 'a.png', { size: 10, mtimeMs: 1000 });
    const [claimed] = await s.store.claimDue('w1', 10, LEASE_MS);
    t.truthy(claimed);
    t.true(await s.store.saveReservedId(claimed!.id, 'w1', 'reserved-1'));
    t.true(await s.store.markUploaded(claimed!.id, 'w1', uploaded(claimed!.id, 10, 1000)));
    const done = await rowByName(s, 'job-1', 'a.png');
    t.like(done, { upload_status: 'uploaded', attempts: 1, drive_file_id: `drive-${claimed!.id}`, uploaded_at: T0 });

    s.clock.advance(60_000);
    t.is(await s.store.upsertFile('job-1', 'a.png', { size: 10, mtimeMs: 1000 }), 'unchanged');
    t.deepEqual(await rowByName(s, 'job-1', 'a.png'), done, 'updated_at and everything else untouched');

    t.is(await s.store.upsertFile('job-1', 'a.png', { size: 11, mtimeMs: 1000 }), 'requeued');
    t.like(await rowByName(s, 'job-1', 'a.png'), {
      id: done.id,
      upload_status: 'pending',
      attempts: 0,
      next_attempt_at: T0 + 60_000,
      local_size: 11,
      upload_error: null,
      // Same Drive file, new revision: the ids stay.
      drive_file_id: `drive-${claimed!.id}`,
      reserved_drive_id: 'reserved-1',
      updated_at: sqlTimestamp(T0 + 60_000),
    });

    // Only mtime changed is a change too.
    const [again] = await s.store.claimDue('w1', 10, LEASE_MS);
    t.true(await s.store.markUploaded(again!.id, 'w1', uploaded(again!.id, 11, 1000)));
    t.is(await s.store.upsertFile('job-1', 'a.png', { size: 11, mtimeMs: 5000 }), 'requeued');
  });

  test('upsertFile: a failed file that changed is requeued with attempts 0 and the error cleared', async (t) => {
    const s = await setup(t);
    await s.store.upsertFile('job-1', 'a.png', { size: 10, mtimeMs: 1000 });
    const [c] = await s.store.claimDue('w1', 1, LEASE_MS);
    t.true(await s.store.markFailed(c!.id, 'w1', { error: 'file gone locally', reason: 'permanent:localMissing' }));
    t.is(await s.store.upsertFile('job-1', 'a.png', { size: 10, mtimeMs: 1000 }), 'unchanged');
    t.is((await row(s.store, c!.id)).upload_status, 'failed');
    t.is(await s.store.upsertFile('job-1', 'a.png', { size: 20, mtimeMs: 1000 }), 'requeued');
    t.like(await row(s.store, c!.id), { upload_status: 'pending', attempts: 0, upload_error: null, last_error_reason: null, local_size: 20 });
  });

  test('claimDue: claims due pending rows once, with lease, owner and attempt; respects limit and next_attempt_at', async (t) => {
    const s = await setup(t);
    for (const f of ['a', 'b', 'c']) await s.store.upsertFile('job-1', f, { size: 1, mtimeMs: 1 });
    // c is not due until later.
    await s.db.run("UPDATE batch_file_drive_metadata SET next_attempt_at = ? WHERE original_filename = 'c'", T0 + 10_000);

    const first = await s.store.claimDue('w1', 1, LEASE_MS);
    t.is(first.length, 1);
    t.like(first[0], { upload_status: 'uploading', attempts: 1, lease_owner: 'w1', lease_until: T0 + LEASE_MS });
    const second = await s.store.claimDue('w2', 10, LEASE_MS);
    t.deepEqual(
      second.map((r) => r.original_filename),
      ['a', 'b'].filter((f) => f !== first[0]!.original_filename),
    );
    t.deepEqual(await s.store.claimDue('w3', 10, LEASE_MS), [], 'c is not due yet');
    t.is(await s.store.countDue(), 0);

    s.clock.advance(10_000);
    t.is(await s.store.countDue(), 1);
    const third = await s.store.claimDue('w3', 10, LEASE_MS);
    t.deepEqual(
      third.map((r) => [r.original_filename, r.lease_owner, r.lease_until]),
      [['c', 'w3', T0 + 10_000 + LEASE_MS]],
    );
  });

  test('claimDue: rows of disabled jobs are not claimed (pending or with an expired lease)', async (t) => {
    const s = await setup(t, [
      { job_id: 'on', enabled: true },
      { job_id: 'off', enabled: false },
      { job_id: 'later', enabled: true },
    ]);
    await s.store.upsertFile('on', 'a', { size: 1, mtimeMs: 1 });
    await s.store.upsertFile('off', 'b', { size: 1, mtimeMs: 1 });
    await s.store.upsertFile('later', 'c', { size: 1, mtimeMs: 1 });
    const first = await s.store.claimDue('w1', 10, LEASE_MS);
    t.deepEqual(first.map((r) => r.batch_job_id).sort(), ['later', 'on'], "never 'off'");
    const on = first.find((r) => r.batch_job_id === 'on');
    t.true(await s.store.markUploaded(on!.id, 'w1', uploaded(on!.id)));
    t.true(await s.store.setJobEnabled('later', false));
    s.clock.advance(LEASE_MS + 1);
    t.deepEqual(await s.store.claimDue('w2', 10, LEASE_MS), [], 'off is disabled; later was disabled while uploading');
    t.true(await s.store.setJobEnabled('off', true));
    t.deepEqual(
      (await s.store.claimDue('w2', 10, LEASE_MS)).map((r) => r.batch_job_id),
      ['off'],
    );
  });

  test('claimDue: a live lease is not taken; an expired one is, and the old owner loses its row', async (t) => {
    const s = await setup(t);
    await s.store.upsertFile('job-1', 'a', { size: 1, mtimeMs: 1 });
    const [mine] = await s.store.claimDue('w1', 1, LEASE_MS);
    t.truthy(mine);

    s.clock.advance(LEASE_MS - 1);
    t.deepEqual(await s.store.claimDue('w2', 10, LEASE_MS), [], 'lease still live');
    t.true(await s.store.extendLease(mine!.id, 'w1', LEASE_MS));
    t.is((await row(s.store, mine!.id)).lease_until, T0 + LEASE_MS - 1 + LEASE_MS);

    s.clock.advance(LEASE_MS); // 1 ms before the extended lease ends
    t.deepEqual(await s.store.claimDue('w2', 10, LEASE_MS), []);
    s.clock.advance(2);
    const stolen = await s.store.claimDue('w2', 10, LEASE_MS);
    t.deepEqual(
      stolen.map((r) => [r.id, r.lease_owner, r.attempts]),
      [[mine!.id, 'w2', 2]],
    );

    // w1 woke up late: everything it tries is refused.
    t.false(await s.store.extendLease(mine!.id, 'w1', LEASE_MS));
    t.false(await s.store.markUploaded(mine!.id, 'w1', uploaded(mine!.id)));
    t.like(await row(s.store, mine!.id), { upload_status: 'uploading', lease_owner: 'w2' });
  });

  test('lease guard: a non-owner cannot mark, extend or checkpoint a row, and changes nothing', async (t) => {
    const s = await setup(t);
    await s.store.upsertFile('job-1', 'a', { size: 1, mtimeMs: 1 });
    const [r] = await s.store.claimDue('owner', 1, LEASE_MS);
    const before = await rowByName(s, 'job-1', 'a');
    s.clock.advance(1000);

    t.false(await s.store.markUploaded(r!.id, 'intruder', uploaded(r!.id)));
    t.false(await s.store.markRetry(r!.id, 'intruder', { error: 'x', reason: 'retryable:x', nextAttemptAt: T0 + 5000 }));
    t.false(await s.store.markFailed(r!.id, 'intruder', { error: 'x', reason: 'permanent:x' }));
    t.false(await s.store.extendLease(r!.id, 'intruder', LEASE_MS));
    t.false(await s.store.saveReservedId(r!.id, 'intruder', 'id-x'));
    t.false(await s.store.saveCheckpoint(r!.id, 'intruder', 'https://session', 100, LEASE_MS));
    t.is(await s.store.releaseLeases('intruder'), 0);
    t.deepEqual(await rowByName(s, 'job-1', 'a'), before);

    // Nor can anyone touch a row that is not uploading (owner is cleared once it is done).
    t.true(await s.store.markUploaded(r!.id, 'owner', uploaded(r!.id)));
    t.false(await s.store.markFailed(r!.id, 'owner', { error: 'late', reason: 'permanent:x' }));
    t.is((await row(s.store, r!.id)).upload_status, 'uploaded');
  });

  test('saveReservedId is write-once; saveCheckpoint stores session and offset and extends the lease', async (t) => {
    const s = await setup(t);
    await s.store.upsertFile('job-1', 'a', { size: 1, mtimeMs: 1 });
    const [r] = await s.store.claimDue('w', 1, LEASE_MS);
    t.true(await s.store.saveReservedId(r!.id, 'w', 'gen-1'));
    t.false(await s.store.saveReservedId(r!.id, 'w', 'gen-2'), 'a reserved id is never replaced');
    s.clock.advance(5000);
    t.true(await s.store.saveCheckpoint(r!.id, 'w', 'http://emu/upload?upload_id=1', 262144, LEASE_MS));
    t.like(await row(s.store, r!.id), {
      reserved_drive_id: 'gen-1',
      resumable_session_uri: 'http://emu/upload?upload_id=1',
      resumable_offset: 262144,
      lease_until: T0 + 5000 + LEASE_MS,
    });
    t.true(await s.store.markUploaded(r!.id, 'w', uploaded(r!.id)));
    t.like(await row(s.store, r!.id), {
      reserved_drive_id: 'gen-1',
      resumable_session_uri: null,
      resumable_offset: null,
      lease_owner: null,
      lease_until: null,
    });
  });

  test('markRetry: back to pending with error and next attempt; refund gives the attempt back', async (t) => {
    const s = await setup(t);
    await s.store.upsertFile('job-1', 'a', { size: 1, mtimeMs: 1 });
    const [r1] = await s.store.claimDue('w', 1, LEASE_MS);
    t.is(r1!.attempts, 1);
    t.true(await s.store.markRetry(r1!.id, 'w', { error: '503 backendError', reason: 'retryable:backendError', nextAttemptAt: T0 + 2000 }));
    t.like(await row(s.store, r1!.id), {
      upload_status: 'pending',
      attempts: 1,
      upload_error: '503 backendError',
      last_error_reason: 'retryable:backendError',
      next_attempt_at: T0 + 2000,
      lease_owner: null,
      lease_until: null,
    });
    t.deepEqual(await s.store.claimDue('w', 1, LEASE_MS), [], 'not before next_attempt_at');

    s.clock.set(T0 + 2000);
    const [r2] = await s.store.claimDue('w', 1, LEASE_MS);
    t.is(r2!.attempts, 2);
    t.true(
      await s.store.markRetry(r2!.id, 'w', {
        error: '429 userRateLimitExceeded',
        reason: 'retryable:userRateLimitExceeded',
        nextAttemptAt: T0 + 9000,
        refund: true,
      }),
    );
    t.like(await row(s.store, r2!.id), {
      upload_status: 'pending',
      attempts: 1,
      next_attempt_at: T0 + 9000,
      last_error_reason: 'retryable:userRateLimitExceeded',
    });
  });

  test('markFailed: failed with the error; only retryFailed brings it back', async (t) => {
    const s = await setup(t);
    await s.store.upsertFile('job-1', 'a', { size: 1, mtimeMs: 1 });
    const [r] = await s.store.claimDue('w', 1, LEASE_MS);
    t.true(await s.store.markFailed(r!.id, 'w', { error: 'storageQuotaExceeded', reason: 'permanent:storageQuotaExceeded' }));
    t.like(await row(s.store, r!.id), { upload_status: 'failed', upload_error: 'storageQuotaExceeded', lease_owner: null, lease_until: null, attempts: 1 });
    s.clock.advance(10 * LEASE_MS);
    t.deepEqual(await s.store.claimDue('w', 10, LEASE_MS), []);
    t.is(await s.store.countDue(), 0);
  });

  test('releaseLeases: only our uploading rows go back to pending at once, attempt refunded', async (t) => {
    const s = await setup(t);
    for (const f of ['a', 'b', 'c']) await s.store.upsertFile('job-1', f, { size: 1, mtimeMs: 1 });
    const mine = await s.store.claimDue('me', 2, LEASE_MS);
    const [theirs] = await s.store.claimDue('other', 1, LEASE_MS);
    t.is(mine.length, 2);
    s.clock.advance(500);
    t.is(await s.store.releaseLeases('me'), 2);
    for (const r of mine) {
      t.like(await row(s.store, r.id), { upload_status: 'pending', attempts: 0, lease_owner: null, lease_until: null, next_attempt_at: T0 + 500 });
    }
    t.like(await row(s.store, theirs!.id), { upload_status: 'uploading', lease_owner: 'other', attempts: 1 });
    t.is(await s.store.releaseLeases('me'), 0);
    t.deepEqual((await s.store.claimDue('next', 10, LEASE_MS)).map((r) => r.id).sort(), mine.map((r) => r.id).sort());
  });

  test('leaseOwners: the distinct owners of uploading rows only', async (t) => {
    const s = await setup(t);
    for (const f of ['a', 'b', 'c', 'd']) await s.store.upsertFile('job-1', f, { size: 1, mtimeMs: 1 });
    t.deepEqual(await s.store.leaseOwners(), []);
    await s.store.claimDue('host-a:1:aa', 2, LEASE_MS);
    const [done] = await s.store.claimDue('host-b:2:bb', 1, LEASE_MS);
    t.deepEqual((await s.store.leaseOwners()).sort(), ['host-a:1:aa', 'host-b:2:bb']);
    t.true(await s.store.markFailed(done!.id, 'host-b:2:bb', { error: 'x', reason: 'permanent:x' }));
    t.deepEqual(await s.store.leaseOwners(), ['host-a:1:aa']);
  });

  test('retryFailed: per job, then all; attempts reset and due now', async (t) => {
    const s = await setup(t, [
      { job_id: 'j1', enabled: true },
      { job_id: 'j2', enabled: true },
    ]);
    for (const j of ['j1', 'j2']) for (const f of ['a', 'b']) await s.store.upsertFile(j, f, { size: 1, mtimeMs: 1 });
    const claimed = await s.store.claimDue('w', 10, LEASE_MS);
    t.is(claimed.length, 4);
    for (const r of claimed) {
      if (r.original_filename === 'a') t.true(await s.store.markFailed(r.id, 'w', { error: 'nope', reason: 'permanent:badRequest' }));
      else t.true(await s.store.markUploaded(r.id, 'w', uploaded(r.id)));
    }
    s.clock.advance(1000);
    t.is(await s.store.retryFailed('j1'), 1);
    t.is(await s.store.retryFailed('j1'), 0);
    const j1a = await rowByName(s, 'j1', 'a');
    t.like(j1a, { upload_status: 'pending', attempts: 0, next_attempt_at: T0 + 1000 });
    t.is((await rowByName(s, 'j2', 'a')).upload_status, 'failed');
    t.is((await rowByName(s, 'j1', 'b')).upload_status, 'uploaded', 'uploaded rows untouched');

    t.is(await s.store.retryFailed(null), 1);
    t.is((await rowByName(s, 'j2', 'a')).upload_status, 'pending');
    t.is(await s.store.retryFailed(null), 0);
    t.deepEqual((await s.store.claimDue('w', 10, LEASE_MS)).map((r) => `${r.batch_job_id}/${r.original_filename}`).sort(), ['j1/a', 'j2/a']);
  });

  test('recomputeJobStatus: pending → in_progress → completed once the job itself is finished', async (t) => {
    const s = await setup(t, [{ job_id: 'job-1', status: 'processing' }]);
    const dus = async () => (await s.db.get<{ s: string }>("SELECT drive_upload_status AS s FROM batch_jobs WHERE job_id = 'job-1'"))?.s;
    t.is(await s.store.recomputeJobStatus('job-1'), null, 'disabled: stays not_requested');
    t.is(await dus(), 'not_requested');

    t.true(await s.store.setJobEnabled('job-1', true));
    t.is(await dus(), 'pending');
    t.is(await s.store.recomputeJobStatus('job-1'), null, 'no rows, job running: pending');
    await s.store.upsertFile('job-1', 'a', { size: 1, mtimeMs: 1 });
    await s.store.upsertFile('job-1', 'b', { size: 1, mtimeMs: 1 });
    t.is(await s.store.recomputeJobStatus('job-1'), null, 'nothing uploaded yet: pending');

    const [a] = await s.store.claimDue('w', 1, LEASE_MS);
    t.deepEqual(await s.store.recomputeJobStatus('job-1'), { from: 'pending', to: 'in_progress' });
    t.true(await s.store.markUploaded(a!.id, 'w', uploaded(a!.id)));
    t.is(await s.store.recomputeJobStatus('job-1'), null);
    const [b] = await s.store.claimDue('w', 1, LEASE_MS);
    t.true(await s.store.markUploaded(b!.id, 'w', uploaded(b!.id)));
    t.is(await s.store.recomputeJobStatus('job-1'), null, 'all uploaded but the job still runs: in_progress');
    t.is(await dus(), 'in_progress');

    await s.db.run("UPDATE batch_jobs SET status = 'completed' WHERE job_id = 'job-1'");
    t.deepEqual(await s.store.recomputeJobStatus('job-1'), { from: 'in_progress', to: 'completed' });
    t.is(await dus(), 'completed');
    t.is(await s.store.recomputeJobStatus('job-1'), null);
    t.is(await s.store.recomputeJobStatus('no-such-job'), null);
  });

  test('recomputeJobStatus: failed when nothing is left to try and a row failed; back after retry', async (t) => {
    const s = await setup(t, [{ job_id: 'job-1', status: 'failed', enabled: true }]);
    await s.store.upsertFile('job-1', 'a', { size: 1, mtimeMs: 1 });
    await s.store.upsertFile('job-1', 'b', { size: 1, mtimeMs: 1 });
    const [a, b] = await s.store.claimDue('w', 2, LEASE_MS);
    t.true(await s.store.markUploaded(a!.id, 'w', uploaded(a!.id)));
    t.deepEqual(await s.store.recomputeJobStatus('job-1'), { from: 'not_requested', to: 'in_progress' });
    t.true(await s.store.markFailed(b!.id, 'w', { error: 'badRequest', reason: 'permanent:badRequest' }));
    t.deepEqual(await s.store.recomputeJobStatus('job-1'), { from: 'in_progress', to: 'failed' });
    t.is(await s.store.retryFailed('job-1'), 1);
    t.deepEqual(await s.store.recomputeJobStatus('job-1'), { from: 'failed', to: 'in_progress' });
  });

  test('job errors: set once (no write when unchanged), shown in report, count as a failure, cleared by null', async (t) => {
    const s = await setup(t, [
      { job_id: '../wide', status: 'completed', enabled: true },
      { job_id: 'job-1', status: 'completed', enabled: true },
    ]);
    const dus = async (id: string) => (await s.db.get<{ s: string }>('SELECT drive_upload_status AS s FROM batch_jobs WHERE job_id = ?', id))?.s;
    t.deepEqual(await s.store.jobErrors(), new Map());
    const bad = { error: 'job id "../wide" contains a path separator: it cannot be a directory name under watch.output_dir', reason: 'local:refused' };
    t.true(await s.store.setJobError('../wide', bad));
    t.false(await s.store.setJobError('../wide', bad), 'unchanged: nothing written');
    t.deepEqual(await s.store.jobErrors(), new Map([['../wide', bad.error]]));
    t.deepEqual(await s.store.recomputeJobStatus('../wide'), { from: 'not_requested', to: 'failed' });
    t.like((await s.store.report('../wide'))[0], { driveUploadStatus: 'failed', jobError: bad.error, counts: { failed: 0 } });
    // A job error next to rows still to do: in progress until they are done, then failed.
    t.true(await s.store.setJobError('job-1', { error: '1 name is not valid UTF-8 …', reason: 'local:bad_name' }));
    await s.store.upsertFile('job-1', 'ok.txt', { size: 1, mtimeMs: 1 });
    const [r] = await s.store.claimDue('w', 1, LEASE_MS, 'job-1');
    t.deepEqual(await s.store.recomputeJobStatus('job-1'), { from: 'not_requested', to: 'in_progress' });
    t.true(await s.store.markUploaded(r!.id, 'w', uploaded(r!.id)));
    t.deepEqual(await s.store.recomputeJobStatus('job-1'), { from: 'in_progress', to: 'failed' });
    // The file was renamed: the next walk clears the error, and the job completes.
    t.true(await s.store.setJobError('job-1', null));
    t.false(await s.store.setJobError('job-1', null));
    t.deepEqual(await s.store.recomputeJobStatus('job-1'), { from: 'failed', to: 'completed' });
    t.is(await dus('job-1'), 'completed');
    // The job's folder record and its error live side by side.
    await s.store.saveJobFolder('../wide', { folderId: 'f1', url: null, path: null });
    t.deepEqual(await s.store.jobErrors(), new Map([['../wide', bad.error]]));
    t.is((await s.store.getJobFolder('../wide'))?.folderId, 'f1');
  });

  test('recomputeJobStatus: finished job statuses come from the store options', async (t) => {
    const s = await makeTestStore(t, 'real', [{ job_id: 'job-1', status: 'done', enabled: true }], { finalJobStatuses: ['done'] });
    t.deepEqual(await s.store.recomputeJobStatus('job-1'), { from: 'not_requested', to: 'completed' }, 'finished, no rows: completed');
    await s.store.upsertFile('job-1', 'a', { size: 1, mtimeMs: 1 });
    t.deepEqual(await s.store.recomputeJobStatus('job-1'), { from: 'completed', to: 'pending' });
    const listed = await s.store.listEnabledJobs();
    t.deepEqual(
      listed.map((j) => [j.jobId, j.finished]),
      [['job-1', true]],
    );
    await s.db.run("UPDATE batch_jobs SET status = 'completed'");
    t.deepEqual(
      (await s.store.listEnabledJobs()).map((j) => j.finished),
      [false],
      "'completed' is not final here",
    );
  });

  test('recomputeJobStatus with the minimal batch_jobs: every job counts as finished; duplicate rows all updated', async (t) => {
    const s = await makeTestStore(t, 'minimal', ['job-1', 'job-1', 'job-2']);
    t.false(s.store.hasStatusColumn);
    t.true(await s.store.setJobEnabled('job-1', true));
    const dus = async () => (await s.db.all<{ s: string }[]>("SELECT drive_upload_status AS s FROM batch_jobs WHERE job_id = 'job-1'")).map((r) => r.s);
    t.deepEqual(await dus(), ['pending', 'pending']);
    await s.store.upsertFile('job-1', 'a', { size: 1, mtimeMs: 1 });
    await s.store.upsertFile('job-1', 'b', { size: 1, mtimeMs: 1 });
    const [a, b] = await s.store.claimDue('w', 10, LEASE_MS);
    t.true(await s.store.markUploaded(a!.id, 'w', uploaded(a!.id)));
    t.deepEqual(await s.store.recomputeJobStatus('job-1'), { from: 'pending', to: 'in_progress' });
    t.true(await s.store.markUploaded(b!.id, 'w', uploaded(b!.id)));
    t.deepEqual(await s.store.recomputeJobStatus('job-1'), { from: 'in_progress', to: 'completed' });
    t.deepEqual(await dus(), ['completed', 'completed']);
    const [job2] = await s.db.all<{ s: string }[]>("SELECT drive_upload_status AS s FROM batch_jobs WHERE job_id = 'job-2'");
    t.is(job2?.s, 'not_requested');
  });

  test('setJobEnabled: enable with a pattern, keep or clear it, disable; unknown job → false', async (t) => {
    const s = await setup(t, [{ job_id: 'job-1' }]);
    const job = async () =>
      s.db.get<{ e: unknown; p: string | null; s: string }>(
        "SELECT drive_integration_enabled AS e, drive_folder_pattern AS p, drive_upload_status AS s FROM batch_jobs WHERE job_id = 'job-1'",
      );
    t.true(await s.store.setJobEnabled('job-1', true, 'SVG2PPTX-Batches/{date}/batch-{job_id}/'));
    t.deepEqual(await job(), { e: b.TRUE, p: 'SVG2PPTX-Batches/{date}/batch-{job_id}/', s: 'pending' });
    t.deepEqual(
      (await s.store.listEnabledJobs()).map((j) => [j.jobId, j.pattern]),
      [['job-1', 'SVG2PPTX-Batches/{date}/batch-{job_id}/']],
    );

    t.true(await s.store.setJobEnabled('job-1', true));
    t.like(await job(), { p: 'SVG2PPTX-Batches/{date}/batch-{job_id}/' }, 'no pattern argument keeps it');

    t.true(await s.store.setJobEnabled('job-1', false));
    t.deepEqual(await job(), { e: b.FALSE, p: 'SVG2PPTX-Batches/{date}/batch-{job_id}/', s: 'not_requested' });
    t.deepEqual(await s.store.listEnabledJobs(), []);

    t.true(await s.store.setJobEnabled('job-1', true, null));
    t.deepEqual(await job(), { e: b.TRUE, p: null, s: 'pending' });
    t.deepEqual(
      (await s.store.listEnabledJobs()).map((j) => j.pattern),
      [null],
    );

    // Re-enabling a job whose status was computed keeps it.
    await s.db.run("UPDATE batch_jobs SET drive_upload_status = 'completed' WHERE job_id = 'job-1'");
    t.true(await s.store.setJobEnabled('job-1', true));
    t.like(await job(), { s: 'completed' });

    t.false(await s.store.setJobEnabled('nope', true, 'x/{job_id}'));
    t.is((await s.db.get<{ n: number }>("SELECT count(*) AS n FROM batch_jobs WHERE job_id = 'nope'"))?.n, 0);
  });

  test('listEnabledJobs: one entry per job_id even with duplicate rows; filter; whole row for {job.<column>}', async (t) => {
    const s = await makeTestStore(t, 'minimal', []);
    await s.seed([
      { job_id: 'job-1', enabled: true, pattern: 'a/{job_id}' },
      { job_id: 'job-1', enabled: true, pattern: 'a/{job_id}' },
      { job_id: 'job-2', enabled: true, pattern: '   ' },
      { job_id: 'job-3', enabled: false },
    ]);
    const all = await s.store.listEnabledJobs();
    t.deepEqual(
      all.map((j) => [j.jobId, j.pattern, j.finished]),
      [
        ['job-1', 'a/{job_id}', true],
        ['job-2', null, true],
      ],
    );
    t.deepEqual(all[0]?.row, { job_id: 'job-1', drive_integration_enabled: b.TRUE, drive_upload_status: 'not_requested', drive_folder_pattern: 'a/{job_id}' });
    t.deepEqual(
      (await s.store.listEnabledJobs('job-1')).map((j) => j.jobId),
      ['job-1'],
    );
    t.deepEqual(await s.store.listEnabledJobs('job-3'), []);

    const real = await setup(t, [{ job_id: 'r1', status: 'completed', total_files: 4, enabled: true }]);
    const [r1] = await real.store.listEnabledJobs();
    t.like(r1, { jobId: 'r1', finished: true, row: { job_id: 'r1', status: 'completed', total_files: 4 } });
    t.false(r1 !== undefined && '__finished' in r1.row);
  });

  test('job folders: none until saved; saving again replaces it', async (t) => {
    const s = await setup(t);
    t.is(await s.store.getJobFolder('job-1'), null);
    await s.store.saveJobFolder('job-1', { folderId: 'f1', url: 'https://drive.google.com/drive/folders/f1', path: 'batch/2023-11-14/job-1' });
    t.deepEqual(await s.store.getJobFolder('job-1'), { folderId: 'f1', url: 'https://drive.google.com/drive/folders/f1', path: 'batch/2023-11-14/job-1' });
    await s.store.saveJobFolder('job-1', { folderId: 'f2', url: null, path: null });
    t.deepEqual(await s.store.getJobFolder('job-1'), { folderId: 'f2', url: null, path: null });
    t.is((await s.db.get<{ n: number }>('SELECT count(*) AS n FROM batch_drive_metadata'))?.n, 1);
  });

  test('report: counts by status, folder URL, job status and the last errors, newest first', async (t) => {
    const s = await setup(t, [
      { job_id: 'job-1', status: 'processing', enabled: true },
      { job_id: 'job-2', status: 'completed', enabled: true },
      { job_id: 'quiet', status: 'completed', enabled: false },
    ]);
    for (const f of ['a', 'b', 'c', 'd', 'e']) await s.store.upsertFile('job-1', f, { size: 1, mtimeMs: 1 });
    await s.store.saveJobFolder('job-1', { folderId: 'f1', url: 'https://drive.google.com/drive/folders/f1', path: 'p' });
    const rows = await s.store.claimDue('w', 4, LEASE_MS);
    const byName = new Map(rows.map((r) => [r.original_filename, r]));
    t.true(await s.store.markUploaded(byName.get('a')!.id, 'w', uploaded(1)));
    s.clock.advance(1000);
    t.true(await s.store.markFailed(byName.get('b')!.id, 'w', { error: 'storageQuotaExceeded', reason: 'permanent:storageQuotaExceeded' }));
    s.clock.advance(1000);
    t.true(await s.store.markRetry(byName.get('c')!.id, 'w', { error: '503 backendError', reason: 'retryable:backendError', nextAttemptAt: T0 + 60_000 }));
    // d stays uploading, e pending.

    const reports = await s.store.report();
    t.deepEqual(
      reports.map((r) => r.jobId),
      ['job-1', 'job-2'],
      'disabled jobs without rows are left out',
    );
    t.deepEqual(reports[0], {
      jobId: 'job-1',
      enabled: true,
      jobStatus: 'processing',
      driveUploadStatus: 'not_requested',
      folderUrl: 'https://drive.google.com/drive/folders/f1',
      jobError: null,
      counts: { pending: 2, uploading: 1, uploaded: 1, failed: 1 },
      lastErrors: [
        { file: 'c', status: 'pending', error: '503 backendError' },
        { file: 'b', status: 'failed', error: 'storageQuotaExceeded' },
      ],
    });
    t.deepEqual(reports[1], {
      jobId: 'job-2',
      enabled: true,
      jobStatus: 'completed',
      driveUploadStatus: 'not_requested',
      folderUrl: null,
      jobError: null,
      counts: { pending: 0, uploading: 0, uploaded: 0, failed: 0 },
      lastErrors: [],
    });
    t.deepEqual(
      (await s.store.report('job-2')).map((r) => r.jobId),
      ['job-2'],
    );
    t.deepEqual(await s.store.report('nope'), []);

    // A job disabled after its files were recorded still shows up.
    t.true(await s.store.setJobEnabled('job-1', false));
    t.like((await s.store.report('job-1'))[0], { enabled: false, driveUploadStatus: 'not_requested', counts: { pending: 2 } });
  });

  test('report: at most 5 last errors', async (t) => {
    const s = await setup(t);
    for (let i = 0; i < 8; i++) await s.store.upsertFile('job-1', `f${i}`, { size: 1, mtimeMs: 1 });
    for (const r of await s.store.claimDue('w', 8, LEASE_MS)) {
      s.clock.advance(1000);
      t.true(await s.store.markFailed(r.id, 'w', { error: `e-${r.original_filename}`, reason: 'permanent:x' }));
    }
    const [rep] = await s.store.report('job-1');
    t.deepEqual(
      rep?.lastErrors.map((e) => e.error),
      ['e-f7', 'e-f6', 'e-f5', 'e-f4', 'e-f3'],
    );
  });

  test('claimDue with a job id claims only that job', async (t) => {
    const s = await setup(t, [
      { job_id: 'j1', enabled: true },
      { job_id: 'j2', enabled: true },
    ]);
    for (const j of ['j1', 'j2']) for (const f of ['a', 'b']) await s.store.upsertFile(j, f, { size: 1, mtimeMs: 1 });
    const rows = await s.store.claimDue('w', 10, LEASE_MS, 'j2');
    t.deepEqual(rows.map((r) => `${r.batch_job_id}/${r.original_filename}`).sort(), ['j2/a', 'j2/b']);
    s.clock.advance(LEASE_MS + 1);
    t.deepEqual(
      (await s.store.claimDue('w2', 10, LEASE_MS, 'j2')).map((r) => r.lease_owner),
      ['w2', 'w2'],
      'expired leases of that job',
    );
    t.deepEqual(await s.store.claimDue('w', 10, LEASE_MS, 'nope'), []);
    t.is((await s.store.claimDue('w', 10, LEASE_MS, 'j1')).length, 2);
  });

  test('nextDueAt: earliest next attempt or lease expiry; null when nothing is waiting', async (t) => {
    const s = await setup(t, [
      { job_id: 'j1', enabled: true },
      { job_id: 'j2', enabled: true },
    ]);
    t.is(await s.store.nextDueAt(), null);
    await s.store.upsertFile('j1', 'a', { size: 1, mtimeMs: 1 });
    await s.store.upsertFile('j2', 'b', { size: 1, mtimeMs: 1 });
    t.is(await s.store.nextDueAt(), T0);
    const [a] = await s.store.claimDue('w', 1, LEASE_MS, 'j1');
    const [b] = await s.store.claimDue('w', 1, LEASE_MS, 'j2');
    t.true(await s.store.markRetry(b!.id, 'w', { error: 'e', reason: 'retryable:x', nextAttemptAt: T0 + 5000 }));
    t.is(await s.store.nextDueAt(), T0 + 5000);
    t.is(await s.store.nextDueAt('j1'), T0 + LEASE_MS, 'j1 waits for its lease');
    t.is(await s.store.nextDueAt('j2'), T0 + 5000);
    t.true(await s.store.markUploaded(a!.id, 'w', uploaded(a!.id)));
    t.is(await s.store.nextDueAt('j1'), null);
    // Pending rows of a disabled job never become due.
    t.true(await s.store.setJobEnabled('j2', false));
    t.is(await s.store.nextDueAt(), null);
  });

  // The daemon loop sleeps until nextDueAt() and claims; claimDue never takes a disabled job's row,
  // so nextDueAt must not report one either, or the loop wakes at once, claims nothing, forever.
  test('nextDueAt ignores an expired lease of a disabled job (claimDue would never take it)', async (t) => {
    const s = await setup(t, [{ job_id: 'j1', enabled: true }]);
    await s.store.upsertFile('j1', 'a', { size: 1, mtimeMs: 1 });
    t.is((await s.store.claimDue('crashed-daemon', 1, LEASE_MS)).length, 1);
    t.true(await s.store.setJobEnabled('j1', false)); // operator disables the job while the row is stuck uploading
    s.clock.advance(LEASE_MS * 10);
    t.deepEqual(await s.store.claimDue('w', 10, LEASE_MS), []);
    t.is(await s.store.nextDueAt(), null);
  });

  test("fileStats: what the store knows of a job's files, keyed by relative path", async (t) => {
    const s = await setup(t, [
      { job_id: 'j1', enabled: true },
      { job_id: 'j2', enabled: true },
    ]);
    await s.store.upsertFile('j1', 'a.png', { size: 10, mtimeMs: 100.9 });
    await s.store.upsertFile('j1', 'pages/b.png', { size: 20, mtimeMs: 200 });
    await s.store.upsertFile('j2', 'c.png', { size: 30, mtimeMs: 300 });
    const [claimed] = await s.store.claimDue('w', 1, LEASE_MS, 'j1');
    const stats = await s.store.fileStats('j1');
    t.deepEqual(
      new Map(stats),
      new Map([
        ['a.png', { size: 10, mtimeMs: 100, status: claimed!.original_filename === 'a.png' ? 'uploading' : 'pending' }],
        ['pages/b.png', { size: 20, mtimeMs: 200, status: claimed!.original_filename === 'pages/b.png' ? 'uploading' : 'pending' }],
      ]),
    );
    t.is((await s.store.fileStats('nope')).size, 0);
  });

  // countDue feeds the queue-depth metric; it should count what claimDue would take. Rows of a
  // disabled job are never claimed, so they must not show up as queued work forever.
  test('countDue counts only rows claimDue would take (not those of disabled jobs)', async (t) => {
    const s = await setup(t, [
      { job_id: 'on', enabled: true },
      { job_id: 'off', enabled: true },
    ]);
    await s.store.upsertFile('on', 'a', { size: 1, mtimeMs: 1 });
    await s.store.upsertFile('off', 'b', { size: 1, mtimeMs: 1 });
    await s.store.upsertFile('off', 'c', { size: 1, mtimeMs: 1 });
    t.is(await s.store.countDue(), 3);
    t.is((await s.store.claimDue('crashed', 1, LEASE_MS, 'off')).length, 1);
    t.true(await s.store.setJobEnabled('off', false));
    s.clock.advance(LEASE_MS + 1);
    t.is(await s.store.countDue(), 1, 'only on/a');
    t.is((await s.store.claimDue('w', 10, LEASE_MS)).length, 1);
    t.is(await s.store.countDue(), 0);
  });

  test('folder registry: the first claim of (parent, name) wins, for every later claimer and across store instances', async (t) => {
    const { store, db } = await makeTestStore(t, 'real');
    t.is(await store.getFolder('root', 'batch'), null);
    t.is(await store.claimFolder('root', 'batch', 'id-first'), 'id-first');
    t.is(await store.claimFolder('root', 'batch', 'id-second'), 'id-first');
    t.is(await store.getFolder('root', 'batch'), 'id-first');
    t.is(await store.claimFolder('root', "it's \\ odd", 'id-odd'), 'id-odd', 'names are data, not SQL');
    const rows = await db.all<{ parent_id: string; name: string; drive_folder_id: string }[]>(
      'SELECT parent_id, name, drive_folder_id FROM batch_drive_folders ORDER BY name',
    );
    t.deepEqual(rows, [
      { parent_id: 'root', name: 'batch', drive_folder_id: 'id-first' },
      { parent_id: 'root', name: "it's \\ odd", drive_folder_id: 'id-odd' },
    ]);
  });

  test('folder registry: the creator lease is recorded with the claim, taken over once it ran out (by one claimer), and ended when made', async (t) => {
    const { store } = await makeTestStore(t, 'real');
    const until = T0 + 30_000;
    t.is(await store.claimFolder('root', 'job-1', 'id-a', until), 'id-a');
    t.is(await store.claimFolder('root', 'job-1', 'id-b', until + 1), 'id-a', 'the first record wins, lease and all');
    t.deepEqual(await store.folderEntry('root', 'job-1'), { id: 'id-a', creatingUntil: until });
    t.is(await store.folderEntry('root', 'other'), null);
    // Compare-and-set on the lease seen: of two claimers that saw the same expired lease, one wins.
    t.true(await store.takeFolderCreation('root', 'job-1', 'id-a', until, until + 60_000));
    t.false(await store.takeFolderCreation('root', 'job-1', 'id-a', until, until + 90_000));
    t.false(await store.takeFolderCreation('root', 'job-1', 'id-b', until + 60_000, until + 90_000), 'only the recorded id');
    t.deepEqual(await store.folderEntry('root', 'job-1'), { id: 'id-a', creatingUntil: until + 60_000 });
    await store.folderMade('root', 'job-1', 'id-a');
    t.deepEqual(await store.folderEntry('root', 'job-1'), { id: 'id-a', creatingUntil: null });
    t.is(await store.getFolder('root', 'job-1'), 'id-a');
    // The holder found the folder made elsewhere: that one is recorded instead, only under its own lease.
    t.is(await store.claimFolder('root', 'job-2', 'id-r', until), 'id-r');
    t.false(await store.adoptFolder('root', 'job-2', 'id-r', until + 1, 'id-elsewhere'), 'not under a lease taken over');
    t.true(await store.adoptFolder('root', 'job-2', 'id-r', until, 'id-elsewhere'));
    t.deepEqual(await store.folderEntry('root', 'job-2'), { id: 'id-elsewhere', creatingUntil: null });
    // Recorded without a lease (found in Drive): nothing to wait for.
    t.is(await store.claimFolder('root', 'found', 'id-f'), 'id-f');
    t.deepEqual(await store.folderEntry('root', 'found'), { id: 'id-f', creatingUntil: null });
  });

  test('repairSchedules: a pending row with text in next_attempt_at and an uploading row without a lease become claimable', async (t) => {
    const { store, db, clock } = await makeTestStore(t, 'real', ['job-1']);
    await store.setJobEnabled('job-1', true);
    const textRow = `INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status, next_attempt_at) VALUES ('job-1', 'text.png', 'pending', 'abc')`;
    // SQLite keeps whatever is written; PostgreSQL's BIGINT column refuses text outright.
    if (b.name === 'postgres') await t.throwsAsync(db.exec(textRow), { message: /invalid input syntax for type bigint/ });
    else await db.exec(textRow);
    await db.exec(
      `INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status, lease_until) VALUES ('job-1', 'no-lease.png', 'uploading', NULL)`,
    );
    t.deepEqual(await store.claimDue('w', 10, 1000), [], 'neither is ever due as written');
    const expected = b.name === 'postgres' ? ['no-lease.png'] : ['no-lease.png', 'text.png'];
    t.is(await store.repairSchedules(), expected.length);
    clock.advance(1);
    const claimed = (await store.claimDue('w', 10, 1000)).map((r) => r.original_filename).sort();
    t.deepEqual(claimed, expected);
    t.is(await store.repairSchedules(), 0, 'nothing to repair the second time');
  });

  test('several hosts: rows record the node that found them; with shared storage off a node claims only its own rows', async (t) => {
    const s = await makeTestStore(t, 'real', [{ job_id: 'job-1', enabled: true }], { nodeName: 'host-a', sharedStorage: false });
    const b = await s.newStore({ nodeName: 'host-b', sharedStorage: false });
    const anyNode = await s.newStore({ nodeName: 'host-c', sharedStorage: true });
    t.is(await s.store.upsertFile('job-1', 'a.png', { size: 1, mtimeMs: 1 }), 'inserted');
    t.is(await b.upsertFile('job-1', 'b.png', { size: 1, mtimeMs: 1 }), 'inserted');
    // A row the batch system inserted itself has no finder: the first node that sees the file adopts it.
    await s.db.run("INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status) VALUES ('job-1', 'c.png', 'pending')");
    t.is(await b.upsertFile('job-1', 'c.png', { size: 1, mtimeMs: 1 }), 'updated');
    t.is(await s.store.upsertFile('job-1', 'c.png', { size: 1, mtimeMs: 1 }), 'unchanged');
    const found = await s.db.all<{ f: string; n: string }[]>(
      'SELECT original_filename AS f, found_by_node AS n FROM batch_file_drive_metadata ORDER BY original_filename',
    );
    t.deepEqual(found, [
      { f: 'a.png', n: 'host-a' },
      { f: 'b.png', n: 'host-b' },
      { f: 'c.png', n: 'host-b' },
    ]);
    t.is(await s.store.countDue(), 1);
    t.is(await b.countDue(), 2);
    t.is(await anyNode.countDue(), 3);
    t.deepEqual(
      (await s.store.claimDue('wa', 10, LEASE_MS)).map((r) => r.original_filename),
      ['a.png'],
    );
    t.deepEqual((await b.claimDue('wb', 10, LEASE_MS)).map((r) => r.original_filename).sort(), ['b.png', 'c.png']);
    // An expired lease is taken back by the node that has the file, never by another.
    s.clock.advance(LEASE_MS + 1);
    t.deepEqual((await b.claimDue('wb2', 10, LEASE_MS)).map((r) => r.original_filename).sort(), ['b.png', 'c.png']);
    t.deepEqual(
      (await s.store.claimDue('wa2', 10, LEASE_MS)).map((r) => r.original_filename),
      ['a.png'],
    );
    t.is(await s.store.nextDueAt(), T0 + LEASE_MS + 1 + LEASE_MS);
  });

  test('claims by several stores at once on one database never take the same row', async (t) => {
    const s = await makeTestStore(t, 'real', [{ job_id: 'job-1', enabled: true }]);
    const files = Array.from({ length: 200 }, (_, i) => ({ relPath: `f-${i}`, size: 1, mtimeMs: 1 }));
    await s.store.upsertFiles('job-1', files);
    const stores = [s.store, await s.newStore(), await s.newStore(), await s.newStore()];
    const claimed: number[] = [];
    await Promise.all(
      stores.map(async (st, i) => {
        for (;;) {
          const rows = await st.claimDue(`w${i}`, 7, LEASE_MS);
          if (rows.length === 0) return;
          claimed.push(...rows.map((r) => r.id));
        }
      }),
    );
    t.is(claimed.length, 200);
    t.is(new Set(claimed).size, 200);
  });

  test('staleJobStatuses: exactly the given jobs whose stored status differs from what recomputeJobStatus would write', async (t) => {
    const s = await setup(t, [
      { job_id: 'fresh', enabled: true },
      { job_id: 'moved', enabled: true },
      { job_id: 'done', enabled: true, status: 'completed' },
      { job_id: 'other', enabled: true },
    ]);
    t.deepEqual(await s.store.staleJobStatuses([]), []);
    for (const j of ['fresh', 'moved', 'done', 'other']) await s.store.recomputeJobStatus(j);
    t.deepEqual(await s.store.staleJobStatuses(['fresh', 'moved', 'done', 'other']), [], 'all in step after a recompute');
    // A row uploaded in 'moved' and 'other', and 'done' gets a file: their statuses are now behind.
    for (const j of ['moved', 'other']) {
      await s.store.upsertFile(j, 'a.txt', { size: 1, mtimeMs: 1 });
      const [r] = await s.store.claimDue('w', 10, LEASE_MS, j);
      await s.store.markUploaded(r?.id ?? -1, 'w', uploaded(r?.id ?? -1));
    }
    await s.store.upsertFile('done', 'late.txt', { size: 1, mtimeMs: 1 });
    const stale = await s.store.staleJobStatuses(['fresh', 'moved', 'done', 'unknown-job']);
    t.deepEqual(stale.sort(), ['done', 'moved'], "'other' is stale too but was not asked about; unknown jobs are ignored");
    for (const j of stale) t.truthy(await s.store.recomputeJobStatus(j), `${j} really changes`);
    t.deepEqual(await s.store.staleJobStatuses(['fresh', 'moved', 'done', 'other']), ['other']);
    // A job-level error counts as a failure, as in recomputeJobStatus.
    await s.store.recomputeJobStatus('other');
    await s.store.setJobError('fresh', { error: 'bad names', reason: 'local:bad_name' });
    t.deepEqual(await s.store.staleJobStatuses(['fresh', 'moved', 'done', 'other']), ['fresh']);
  });

  test('jobsWithFolder: the jobs whose folder is recorded', async (t) => {
    const s = await setup(t, [
      { job_id: 'a', enabled: true },
      { job_id: 'b', enabled: true },
    ]);
    t.deepEqual([...(await s.store.jobsWithFolder())], []);
    await s.store.saveJobFolder('b', { folderId: 'f-b', url: 'https://drive.google.com/drive/folders/f-b', path: 'x/b' });
    t.deepEqual([...(await s.store.jobsWithFolder())], ['b']);
  });

  test('upsertFiles: 1,200 files in one call, new ones inserted in bulk, known ones requeued / updated / unchanged, a path listed twice inserted once', async (t) => {
    const s = await setup(t);
    t.is(await s.store.upsertFile('job-1', 'known-uploaded.txt', { size: 1, mtimeMs: 1 }), 'inserted');
    const [r] = await s.store.claimDue('w', 1, LEASE_MS);
    t.true(await s.store.markUploaded(r?.id ?? -1, 'w', uploaded(r?.id ?? -1)));
    t.is(await s.store.upsertFile('job-1', 'known-pending.txt', { size: 5, mtimeMs: 5 }), 'inserted');
    t.is(await s.store.upsertFile('job-1', 'known-same.txt', { size: 7, mtimeMs: 7 }), 'inserted');
    const fresh = Array.from({ length: 1200 }, (_, i) => ({ relPath: `new/f-${i}.bin`, size: i, mtimeMs: 1000 + i }));
    const res = await s.store.upsertFiles('job-1', [
      { relPath: 'known-uploaded.txt', size: 2, mtimeMs: 2 },
      ...fresh.slice(0, 600),
      { relPath: 'known-pending.txt', size: 6, mtimeMs: 6 },
      { relPath: 'known-same.txt', size: 7, mtimeMs: 7 },
      ...fresh.slice(600),
      { relPath: 'new/f-0.bin', size: 0, mtimeMs: 1000 },
    ]);
    t.is(res.length, 1204);
    t.is(res[0], 'requeued');
    t.is(res[601], 'updated');
    t.is(res[602], 'unchanged');
    t.is(res.filter((x) => x === 'inserted').length, 1200);
    t.is(res[1203], 'unchanged', 'the second listing of a path is not a second insert');
    const stats = await s.store.fileStats('job-1');
    t.is(stats.size, 1203);
    t.deepEqual(stats.get('new/f-1199.bin'), { size: 1199, mtimeMs: 2199, status: 'pending' });
    t.deepEqual(stats.get('known-uploaded.txt'), { size: 2, mtimeMs: 2, status: 'pending' });
  });

  test('upsertFiles: rows inserted in bulk record the node that found them and every stat exactly; with shared storage off that node claims them', async (t) => {
    const s = await makeTestStore(t, 'real', [{ job_id: 'job-1', enabled: true }], { nodeName: 'host-a', sharedStorage: false });
    const other = await s.newStore({ nodeName: 'host-b', sharedStorage: false });
    // Names a JSON or array parameter could garble: quotes, backslashes, commas, braces, non-ASCII, a lone "NULL".
    const odd = ['a "quoted", name.txt', 'back\\slash\\n.txt', '{braces}.txt', 'NULL', 'café/ü €.png', "it's.txt"];
    const big = 2 ** 53 - 1;
    const res = await s.store.upsertFiles('job-1', [
      ...odd.map((relPath, i) => ({ relPath, size: i, mtimeMs: 1_700_000_000_123.9 + i })),
      { relPath: 'huge.bin', size: big, mtimeMs: 1 },
    ]);
    t.deepEqual(res, [...odd.map(() => 'inserted'), 'inserted']);
    const rows = await s.db.all<{ f: string; n: string | null; s: number; m: number }[]>(
      'SELECT original_filename AS f, found_by_node AS n, local_size AS s, local_mtime_ms AS m FROM batch_file_drive_metadata ORDER BY id',
    );
    t.deepEqual(rows, [...odd.map((f, i) => ({ f, n: 'host-a', s: i, m: 1_700_000_000_123 + i })), { f: 'huge.bin', n: 'host-a', s: big, m: 1 }]);
    t.deepEqual(await other.claimDue('wb', 10, LEASE_MS), [], "host-b does not have host-a's files");
    t.is((await s.store.claimDue('wa', 10, LEASE_MS)).length, odd.length + 1);
  });
}
