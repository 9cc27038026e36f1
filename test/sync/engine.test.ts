// uploadRow / drainDue / scanJobs against a real temp database and the real emulator, in process.
import { getEventListeners } from 'node:events';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { DriveClient } from '../../src/drive/index.js';
import { drainDue, scanJobs, uploadRow, type SyncContext } from '../../src/sync/index.js';
import { ROOT, driveFiles, never, setupSync, type SyncSetup } from './fixtures.js';

const signals = { stopClaiming: never, abortUploads: never };

test('a row whose file was modified within stability_ms goes back to pending without burning an attempt, due when the file is quiet', async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'busy', enabled: true }], watch: { stability_ms: 2000 } });
  const mtime = Math.floor(s.now()) - 100;
  s.writeFile('busy', 'growing.bin', 'still being written', mtime);
  const { store } = s.rt.ctx;
  t.is(await store.upsertFile('busy', 'growing.bin', { size: 19, mtimeMs: mtime }), 'inserted');
  const [row] = await store.claimDue(s.rt.ctx.owner, 10, 60_000);
  t.truthy(row);
  t.is(row?.attempts, 1, 'claiming counts an attempt');
  const r = await uploadRow(s.rt.ctx, row!, (await store.listEnabledJobs('busy'))[0], never);
  t.is(r, 'paused');
  const after = await s.row(row!.id);
  t.is(after.upload_status, 'pending');
  t.is(after.attempts, 0, 'the attempt is refunded');
  t.is(after.lease_owner, null);
  const next = Number(after.next_attempt_at);
  t.true(next >= mtime + 2000 && next <= mtime + 2000 + 100, `next_attempt_at ${next - mtime} ms after mtime (expected stability_ms 2000)`);
  t.is(s.emu.stats().driveRequests, 0, 'nothing sent to Drive');

  // Not due yet: a drain leaves it alone.
  t.like(await drainDue(s.rt.ctx, signals), { uploaded: 0, failed: 0, retried: 0, paused: 0 });
  t.is((await s.row(row!.id)).attempts, 0);
  // Once the file has been quiet for stability_ms, it uploads on the first attempt.
  s.advance(2200);
  t.like(await drainDue(s.rt.ctx, signals), { uploaded: 1, failed: 0 });
  t.like(await s.row(row!.id), { upload_status: 'uploaded', attempts: 1 });
  t.deepEqual(
    driveFiles(s.emu).map((f) => f.name),
    ['growing.bin'],
  );
});

test('rows of a job that is not Drive-enabled are never claimed', async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'off', enabled: false }, { job_id: 'on', enabled: true }, 'never-asked'] });
  s.writeFile('off', 'a.txt', 'off');
  s.writeFile('on', 'a.txt', 'on');
  s.writeFile('never-asked', 'a.txt', 'null flag');
  const { store } = s.rt.ctx;
  for (const j of ['off', 'on', 'never-asked']) await store.upsertFile(j, 'a.txt', { size: 2, mtimeMs: 0 });
  t.deepEqual(
    (await store.claimDue('someone', 10, 60_000, 'off')).map((r) => r.id),
    [],
    'not even when asked for by job',
  );
  const sum = await drainDue(s.rt.ctx, signals);
  t.like(sum, { uploaded: 1, failed: 0 });
  const rows = await s.rows();
  const by = (j: string) => rows.find((r) => r.batch_job_id === j);
  t.like(by('on'), { upload_status: 'uploaded' });
  for (const j of ['off', 'never-asked']) t.like(by(j), { upload_status: 'pending', attempts: 0, lease_owner: null }, j);
  t.is(driveFiles(s.emu).length, 1);
  t.is(await store.countDue(), 0, 'disabled rows are not counted as due either');
});

test('drainDue with upload.concurrency 2 never has more than 2 uploads (or Drive requests) in flight', async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'cc', enabled: true }], upload: { concurrency: 2 }, faults: { latencyMs: 60 } });
  const n = 8;
  for (let i = 0; i < n; i++) {
    s.writeFile('cc', `f-${i}.txt`, `file ${i}`);
    await s.rt.ctx.store.upsertFile('cc', `f-${i}.txt`, { size: 6, mtimeMs: 0 });
  }
  let inflight = 0;
  let peak = 0;
  const base = s.rt.ctx.drive;
  const drive: DriveClient = {
    ...base,
    upload: async (req) => {
      inflight++;
      peak = Math.max(peak, inflight);
      try {
        return await base.upload(req);
      } finally {
        inflight--;
      }
    },
  };
  const ctx: SyncContext = { ...s.rt.ctx, drive };
  t.like(await drainDue(ctx, signals), { uploaded: n, failed: 0 });
  t.is(peak, 2, 'two workers, both used');
  const stats = s.emu.stats();
  t.true(stats.peakConcurrentRequests <= 2, `emulator saw ${stats.peakConcurrentRequests} concurrent requests`);
  t.is(driveFiles(s.emu).length, n);
});

test('scanJobs on an unchanged tree writes nothing and asks Drive nothing', async (t) => {
  const s = await setupSync(t, {
    jobs: [
      { job_id: 'scan-a', enabled: true, status: 'completed' },
      { job_id: 'scan-b', enabled: true },
    ],
  });
  s.writeFile('scan-a', 'a.txt', 'a');
  s.writeFile('scan-a', 'pages/p-1.png', 'p1');
  s.writeFile('scan-b', 'b.txt', 'b');
  s.writeFile('scan-b', 'draft.tmp', 'ignored');
  const first = await scanJobs(s.rt.ctx);
  t.like(first, { jobs: 2, files: 3, inserted: 3 });
  t.like(await drainDue(s.rt.ctx, signals), { uploaded: 3 });
  // One more pass settles job statuses; from here on, the tree and the database agree.
  await scanJobs(s.rt.ctx);

  const snapshot = async () => ({
    files: await s.rows(),
    jobs: await s.rt.db.all('SELECT * FROM batch_jobs ORDER BY job_id'),
    folders: await s.rt.db.all('SELECT * FROM batch_drive_metadata ORDER BY batch_job_id'),
  });
  const before = await snapshot();
  const changesBefore = (await s.rt.db.get<{ n: number }>('SELECT total_changes() AS n'))?.n;
  const requestsBefore = s.emu.stats().totalRequests;
  // Later: every timestamp we write would differ.
  s.advance(5_000);
  const again = await scanJobs(s.rt.ctx);
  t.like(again, { jobs: 2, files: 3, inserted: 0, changed: 0, unchanged: 3 });
  t.is((await s.rt.db.get<{ n: number }>('SELECT total_changes() AS n'))?.n, changesBefore, 'no row written');
  t.deepEqual(await snapshot(), before);
  t.is(s.emu.stats().totalRequests, requestsBefore, 'no Drive (or token) request');
});

test('drainDue leaves no listener behind on its long-lived abort signals (multipart uploads and resumable chunks)', async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'sig', enabled: true }], upload: { resumable_threshold_bytes: 262144, chunk_size_bytes: 262144 } });
  for (let i = 0; i < 5; i++) {
    s.writeFile('sig', `small-${i}.txt`, `small ${i}`);
    await s.rt.ctx.store.upsertFile('sig', `small-${i}.txt`, { size: 7, mtimeMs: 0 });
  }
  s.writeFile('sig', 'big.bin', Buffer.alloc(4 * 262144, 7));
  await s.rt.ctx.store.upsertFile('sig', 'big.bin', { size: 4 * 262144, mtimeMs: 0 });
  // The daemon passes one pair of signals for its whole life: whatever is added per request must go.
  const stopClaiming = new AbortController();
  const abortUploads = new AbortController();
  t.like(await drainDue(s.rt.ctx, { stopClaiming: stopClaiming.signal, abortUploads: abortUploads.signal }), { uploaded: 6, failed: 0 });
  t.is(getEventListeners(abortUploads.signal, 'abort').length, 0, 'abortUploads listeners left');
  t.is(getEventListeners(stopClaiming.signal, 'abort').length, 0, 'stopClaiming listeners left');
});

test('a file whose mtime is far in the future (clock skew) is uploaded, not held back as still being written', async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'skew', enabled: true }], watch: { stability_ms: 2000 } });
  const future = Math.floor(s.now()) + 3_600_000;
  s.writeFile('skew', 'from-the-future.bin', 'nfs clock ahead', future);
  const { store } = s.rt.ctx;
  await store.upsertFile('skew', 'from-the-future.bin', { size: 15, mtimeMs: future });
  t.like(await drainDue(s.rt.ctx, signals), { uploaded: 1, paused: 0 });
  t.deepEqual(
    driveFiles(s.emu).map((f) => f.name),
    ['from-the-future.bin'],
  );
});

test('fairness: a large file due behind many small ones gets the next free slot (one slot kept for the oldest large file)', async (t) => {
  const threshold = 256 * 1024;
  const s = await setupSync(t, {
    jobs: [{ job_id: 'fair', enabled: true }],
    upload: { concurrency: 2, resumable_threshold_bytes: threshold, chunk_size_bytes: threshold },
  });
  // 60 small files recorded first (due earlier), then two large ones.
  for (let i = 0; i < 60; i++) {
    s.writeFile('fair', `s-${String(i).padStart(2, '0')}.txt`, `small ${i}`);
    await s.rt.ctx.store.upsertFile('fair', `s-${String(i).padStart(2, '0')}.txt`, { size: `small ${i}`.length, mtimeMs: 0 });
  }
  for (const name of ['big-1.bin', 'big-2.bin']) {
    s.writeFile('fair', name, Buffer.alloc(threshold * 2, 1));
    await s.rt.ctx.store.upsertFile('fair', name, { size: threshold * 2, mtimeMs: 0 });
  }
  t.like(await drainDue(s.rt.ctx, signals), { uploaded: 62, failed: 0 });
  const rows = await s.rows();
  const started = (name: string) => Number(rows.find((r) => r.original_filename === name)?.started_at);
  const smallStarts = rows
    .filter((r) => String(r.original_filename).startsWith('s-'))
    .map((r) => Number(r.started_at))
    .sort((a, b) => a - b);
  // The first large file starts with the first claim; the second once the first is done, long before the small ones are.
  t.true(started('big-1.bin') <= smallStarts[0]!, 'the oldest large file is claimed with the first small one');
  const bigDone = Number(rows.find((r) => r.original_filename === 'big-1.bin')?.uploaded_at);
  t.true(started('big-2.bin') >= bigDone, 'one large file at a time in the kept slot');
  t.true(
    smallStarts.filter((x) => x > started('big-2.bin')).length > 0 && started('big-2.bin') < smallStarts[smallStarts.length - 1]!,
    'the second large file did not wait for every small one',
  );
});

test('a resumable upload logs its start and a progress line at most every 30 s (offset, percent, rate); a small one logs neither', async (t) => {
  const chunk = 256 * 1024;
  const s = await setupSync(t, {
    jobs: [{ job_id: 'rl', enabled: true }],
    upload: { resumable_threshold_bytes: chunk, chunk_size_bytes: chunk },
    captureLogs: true,
  });
  s.writeFile('rl', 'big.bin', Buffer.alloc(chunk * 6, 3));
  s.writeFile('rl', 'small.txt', 'tiny');
  await s.rt.ctx.store.upsertFile('rl', 'big.bin', { size: chunk * 6, mtimeMs: 0 });
  await s.rt.ctx.store.upsertFile('rl', 'small.txt', { size: 4, mtimeMs: 0 });
  // Every confirmed chunk takes 16 s on the daemon's clock: progress is due at every second one.
  const store = s.rt.ctx.store;
  const ctx: SyncContext = {
    ...s.rt.ctx,
    store: {
      ...store,
      saveCheckpoint: (...a: Parameters<typeof store.saveCheckpoint>) => {
        if (a[3] !== null && a[3] > 0) s.advance(16_000);
        return store.saveCheckpoint(...a);
      },
    },
  };
  t.like(await drainDue(ctx, signals), { uploaded: 2, failed: 0 });
  const lines = s.logs.filter((l) => String(l.message).startsWith('resumable upload'));
  t.deepEqual(
    lines.map((l) => [l.message, l.file, l.offset]),
    [
      ['resumable upload started', 'big.bin', 0],
      ['resumable upload progress', 'big.bin', chunk * 2],
      ['resumable upload progress', 'big.bin', chunk * 4],
    ],
  );
  t.like(lines[1], { bytes: chunk * 6, percent: 33, job: 'rl' });
  // 2 chunks in 32 s of the daemon's clock (plus the real milliseconds the test took).
  const rate = Number(lines[1]!.rate_bps);
  t.true(rate <= Math.round((chunk * 2 * 1000) / 32_000) && rate > 14_000, `rate ${rate}`);
  t.false(s.logs.some((l) => String(l.message).startsWith('resumable') && l.file === 'small.txt'));
});

test("an error of our own code (not Drive's) is internal: logged at error level with its stack, retried, failed after max_attempts", async (t) => {
  const s = await setupSync(t, {
    jobs: [{ job_id: 'bug', enabled: true }],
    captureLogs: true,
    upload: { max_attempts: 2, backoff_base_ms: 60_000, backoff_max_ms: 60_000 },
  });
  s.writeFile('bug', 'a.txt', 'a');
  await s.rt.ctx.store.upsertFile('bug', 'a.txt', { size: 1, mtimeMs: 0 });
  // A bug in our code path (e.g. reading a field of undefined), not an answer from Drive.
  const buggy: DriveClient = {
    ...s.rt.ctx.drive,
    upload: async () => {
      const missing = undefined as unknown as { file: { id: string } };
      return missing.file as never;
    },
  };
  const ctx: SyncContext = { ...s.rt.ctx, drive: buggy };
  t.like(await drainDue(ctx, signals), { uploaded: 0, retried: 1 });
  const row = (await s.rows())[0];
  t.like(row, { upload_status: 'pending', last_error_reason: 'internal:TypeError' });
  t.regex(String(row?.upload_error), /^internal error \(TypeError: Cannot read properties of undefined/);
  t.notRegex(String(row?.upload_error), /Drive/);
  const logged = s.logs.find((l) => l.message === 'internal error while uploading (a bug)');
  t.is(logged?.level, 'error');
  t.regex(String(logged?.stack), /TypeError: Cannot read properties of undefined[\s\S]*at /);
  // Bounded: after max_attempts the row fails instead of looping.
  s.advance(60_000);
  t.like(await drainDue(ctx, signals), { failed: 1 });
  t.like((await s.rows())[0], { upload_status: 'failed', last_error_reason: 'internal:TypeError', attempts: 2 });
});

test('a job disabled after its row was claimed: the row goes back to pending without using an attempt (not a local-file error)', async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'gone', enabled: true }] });
  s.writeFile('gone', 'a.txt', 'a');
  const { store } = s.rt.ctx;
  await store.upsertFile('gone', 'a.txt', { size: 1, mtimeMs: 0 });
  const [row] = await store.claimDue(s.rt.ctx.owner, 1, 60_000);
  t.is(await uploadRow(s.rt.ctx, row!, undefined, never), 'paused');
  t.like(await s.row(row!.id), { upload_status: 'pending', attempts: 0, lease_owner: null, last_error_reason: 'job_disabled' });
  t.regex(String((await s.row(row!.id)).upload_error), /no longer Drive-enabled/);
  t.is(s.emu.stats().driveRequests, 0);
});

test('a lease lost mid-upload (another worker owns the row now) stops the upload and leaves the row to its new owner', async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'lease', enabled: true }], upload: { resumable_threshold_bytes: 262144, chunk_size_bytes: 262144 } });
  s.writeFile('lease', 'big.bin', Buffer.alloc(4 * 262144, 3));
  const { store, owner } = s.rt.ctx;
  await store.upsertFile('lease', 'big.bin', { size: 4 * 262144, mtimeMs: 0 });
  const [row] = await store.claimDue(owner, 1, 60_000);
  const [id] = await s.rt.ctx.drive.reserveIds(1);
  t.true(await store.saveReservedId(row!.id, owner, id!));
  await s.rt.db.run("UPDATE batch_file_drive_metadata SET lease_owner = 'other-worker' WHERE id = ?", row!.id);
  t.is(await uploadRow(s.rt.ctx, { ...row!, reserved_drive_id: id! }, (await store.listEnabledJobs('lease'))[0], never), 'lost');
  t.like(await s.row(row!.id), { upload_status: 'uploading', lease_owner: 'other-worker', upload_error: null, resumable_session_uri: null });
  t.is(s.emu.stats().bytesReceived, 0, 'no chunk sent once the first checkpoint found the row taken');
});

test('a finished job is walked once more before it reads completed: a last file in no row yet (the watcher still waiting on it) is found and uploaded', async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'late', enabled: true, status: 'completed' }], captureLogs: true });
  const old = Math.floor(s.now()) - 60_000;
  s.writeFile('late', 'a.txt', 'a', old);
  await s.rt.ctx.store.upsertFile('late', 'a.txt', { size: 1, mtimeMs: old });
  // The batch system's last file: on disk, but the watcher has not reported it yet.
  s.writeFile('late', 'last.txt', 'last', old);
  const jobStatus = async () => (await s.rt.db.get<{ s: string }>("SELECT drive_upload_status AS s FROM batch_jobs WHERE job_id = 'late'"))?.s;

  // Uploading a.txt would complete the job: the walk at completion finds last.txt, and the same
  // drain uploads it.
  t.like(await drainDue(s.rt.ctx, signals), { uploaded: 2, failed: 0 });
  t.deepEqual(
    (await s.rows()).map((r) => [r.original_filename, r.upload_status]),
    [
      ['a.txt', 'uploaded'],
      ['last.txt', 'uploaded'],
    ],
  );
  t.deepEqual(
    driveFiles(s.emu)
      .map((f) => f.name)
      .sort(),
    ['a.txt', 'last.txt'],
  );
  t.is(await jobStatus(), 'completed');
  t.like(
    s.logs.find((l) => l.message === 'files found at completion'),
    { job: 'late', inserted: 1 },
  );
  t.is(s.logs.filter((l) => l.message === 'job status changed' && l.to === 'completed').length, 1, 'completed is announced once, at the end');
});

test('upload.concurrency above 10: no "possible memory leak" warning for the abort listeners of the uploads in flight', async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'wide', enabled: true }], upload: { concurrency: 16 }, faults: { latencyMs: 100 } });
  for (let i = 0; i < 32; i++) {
    s.writeFile('wide', `f-${i}.txt`, `file ${i}`);
    await s.rt.ctx.store.upsertFile('wide', `f-${i}.txt`, { size: `file ${i}`.length, mtimeMs: 0 });
  }
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const abortUploads = new AbortController().signal;
  const inFlight: number[] = [];
  const sampler = setInterval(() => inFlight.push(getEventListeners(abortUploads, 'abort').length), 20);
  t.like(await drainDue(s.rt.ctx, { stopClaiming: never, abortUploads }), { uploaded: 32, failed: 0 });
  clearInterval(sampler);
  // Process warnings are emitted on the next tick.
  await new Promise<void>((r) => setImmediate(r));
  t.true(Math.max(...inFlight) > 10, `at most ${Math.max(...inFlight)} uploads listened at once`);
  t.deepEqual(
    warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
    [],
  );
  t.is(getEventListeners(abortUploads, 'abort').length, 0, 'every listener removed');
});

test("drainDue reads each job's folder row once per pass, not once per file; every file lands in the job's folder", async (t) => {
  const s = await setupSync(t, {
    jobs: [
      { job_id: 'fa', enabled: true },
      { job_id: 'fb', enabled: true },
    ],
  });
  const reads: string[] = [];
  const base = s.rt.ctx.store;
  const ctx: SyncContext = {
    ...s.rt.ctx,
    store: {
      ...base,
      getJobFolder: (jobId) => {
        reads.push(jobId);
        return base.getJobFolder(jobId);
      },
    },
  };
  const add = async (job: string, names: string[]) => {
    for (const name of names) {
      s.writeFile(job, name, `${job}/${name}`);
      await base.upsertFile(job, name, { size: 1, mtimeMs: 0 });
    }
  };
  await add('fa', ['1', '2', '3', '4', '5', '6']);
  await add('fb', ['1', '2', '3', '4', '5', '6']);
  t.like(await drainDue(ctx, signals), { uploaded: 12, failed: 0 });
  t.deepEqual(reads.sort(), ['fa', 'fb'], 'one read per job, shared by its concurrent uploads');
  // The next pass reads the row again (an operator's change between passes is seen).
  await add('fa', ['7', '8']);
  t.like(await drainDue(ctx, signals), { uploaded: 2, failed: 0 });
  t.deepEqual(reads.sort(), ['fa', 'fa', 'fb']);
  for (const job of ['fa', 'fb']) {
    const folder = (await base.getJobFolder(job))?.folderId;
    const inIt = driveFiles(s.emu).filter((f) => f.parents.includes(folder!));
    t.is(inIt.length, job === 'fa' ? 8 : 6, `files in ${job}'s folder`);
  }
});

test('an upload of a job that fails makes the next file of the job read the folder row afresh (a changed row is followed)', async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'fj', enabled: true }] });
  const { store, owner } = s.rt.ctx;
  for (const name of ['a', 'b', 'c']) {
    s.writeFile('fj', name, name);
    await store.upsertFile('fj', name, { size: 1, mtimeMs: 0 });
  }
  const rows = await store.claimDue(owner, 3, 60_000);
  const row = (name: string) => rows.find((r) => r.original_filename === name)!;
  const job = (await store.listEnabledJobs('fj'))[0];
  const known = new Map<string, Promise<string>>();
  t.is(await uploadRow(s.rt.ctx, row('a'), job, never, { folders: known }), 'uploaded');
  const first = (await store.getJobFolder('fj'))!.folderId;
  // The stored folder changes (say an operator points the job elsewhere under the root folder)
  // and the next file of the job fails (its file is gone).
  const moved = await s.rt.ctx.drive.ensureFolderPath(ROOT, ['moved']);
  await store.saveJobFolder('fj', { folderId: moved, url: null, path: 'moved' });
  rmSync(join(s.outputDir, 'fj', 'b'));
  t.is(await uploadRow(s.rt.ctx, row('b'), job, never, { folders: known }), 'retry');
  t.is(await uploadRow(s.rt.ctx, row('c'), job, never, { folders: known }), 'uploaded');
  const parentOf = (name: string) => driveFiles(s.emu).find((f) => f.name === name)?.parents;
  t.deepEqual(parentOf('a'), [first]);
  t.deepEqual(parentOf('c'), [moved], 'the file after the failure went to the folder the row names now');
});

/** files.get requests the emulator answered. */
const filesGets = (emu: SyncSetup['emu']) => Object.values(emu.stats().requests['GET /drive/v3/files/{id}'] ?? {}).reduce((a, b) => a + b, 0);

test('with ids already in the pool, the claim stores each file its id: no statement of its own, no files.get before the upload', async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'ids', enabled: true }] });
  const base = s.rt.ctx.store;
  let saves = 0;
  const ctx: SyncContext = {
    ...s.rt.ctx,
    store: {
      ...base,
      saveReservedId: (...a) => {
        saves++;
        return base.saveReservedId(...a);
      },
    },
  };
  // Fill the pool (one generateIds call), as the first upload of a run does.
  s.rt.ctx.drive.returnIds(await s.rt.ctx.drive.reserveIds(1));
  for (let i = 0; i < 6; i++) {
    s.writeFile('ids', `f-${i}`, `file ${i}`);
    await base.upsertFile('ids', `f-${i}`, { size: 6, mtimeMs: 0 });
  }
  t.like(await drainDue(ctx, signals), { uploaded: 6, failed: 0 });
  t.is(saves, 0, 'every id was stored by the claim');
  t.is(filesGets(s.emu), 0, 'no files.get: a fresh id cannot be on Drive yet');
  for (const r of await s.rows()) t.like(r, { upload_status: 'uploaded', drive_file_id: r.reserved_drive_id });
  t.is(driveFiles(s.emu).length, 6);
});

test('an id the claim reserved is cleared again when the attempt ends before any byte (a file still being written), so the next attempt does not ask Drive for it', async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'quiet', enabled: true }], watch: { stability_ms: 2000 } });
  s.rt.ctx.drive.returnIds(await s.rt.ctx.drive.reserveIds(1));
  const mtime = Math.floor(s.now()) - 100;
  s.writeFile('quiet', 'late.bin', 'still being written', mtime);
  await s.rt.ctx.store.upsertFile('quiet', 'late.bin', { size: 19, mtimeMs: mtime });
  t.like(await drainDue(s.rt.ctx, signals), { paused: 1, uploaded: 0 });
  t.like((await s.rows())[0], { upload_status: 'pending', attempts: 0, reserved_drive_id: null });
  s.advance(2200);
  t.like(await drainDue(s.rt.ctx, signals), { uploaded: 1 });
  t.is(filesGets(s.emu), 0, 'the second attempt did not ask Drive whether the id holds the file');
  const row = (await s.rows())[0]!;
  t.like(row, { upload_status: 'uploaded', drive_file_id: row.reserved_drive_id });
});
