// Reporting and fairness queries of the store (status, files, the status line and the metrics
// gauges; the large-file claim), for every backend: progress.test.ts (SQLite) and
// progress-postgres.test.ts (PostgreSQL) run it.
import test from 'ava';
import type { FileRow } from '../../src/db/index.js';
import { T0 } from '../helpers/db.js';
import type { StoreBackend } from '../helpers/store-backends.js';

export function progressContract(b: StoreBackend): void {
  const LEASE_MS = 60_000;
  const uploaded = (id: number, size = 1, mtimeMs = 1) => ({
    driveFileId: `drive-${id}`,
    fileUrl: `https://drive.google.com/file/d/drive-${id}/view`,
    previewUrl: `https://drive.google.com/file/d/drive-${id}/preview`,
    size,
    mtimeMs,
    md5: 'd41d8cd98f00b204e9800998ecf8427e',
  });

  async function rowByName(s: { db: { get: <T>(sql: string, ...p: unknown[]) => Promise<T | undefined> } }, job: string, file: string) {
    const r = await s.db.get<FileRow>('SELECT * FROM batch_file_drive_metadata WHERE batch_job_id = ? AND original_filename = ?', job, file);
    if (!r) throw new Error(`no row ${job}/${file}`);
    return r;
  }

  function setup(t: Parameters<StoreBackend['make']>[0], jobs: Parameters<StoreBackend['make']>[2] = [{ job_id: 'job-1', enabled: true }]) {
    return b.make(t, 'real', jobs);
  }

  test('claimDue with minBytes: only due rows of at least that size, the oldest first; the claim records when the attempt started', async (t) => {
    const s = await setup(t);
    await s.store.upsertFile('job-1', 'small', { size: 10, mtimeMs: 1 });
    await s.store.upsertFile('job-1', 'big-new', { size: 5000, mtimeMs: 1 });
    await s.store.upsertFile('job-1', 'big-later', { size: 9000, mtimeMs: 1 });
    await s.db.run("UPDATE batch_file_drive_metadata SET next_attempt_at = ? WHERE original_filename = 'big-later'", T0 + 5_000);
    // big-new was recorded before big-later, so it is the oldest due one.
    const big = await s.store.claimDue('w', 1, LEASE_MS, undefined, 1000);
    t.deepEqual(
      big.map((r) => r.original_filename),
      ['big-new'],
    );
    t.deepEqual(await s.store.claimDue('w', 1, LEASE_MS, undefined, 1000), [], 'big-later is not due, small is too small');
    const r = await rowByName(s, 'job-1', 'big-new');
    t.like(r as unknown as Record<string, unknown>, { started_at: T0, attempt_started_at: T0, attempt_offset: 0 });
    s.clock.advance(5_000);
    t.deepEqual(
      (await s.store.claimDue('w', 5, LEASE_MS, undefined, 1000)).map((x) => x.original_filename),
      ['big-later'],
    );
  });

  test('claimDue with largeFirst: the oldest due large row first, the rest in due order, never one row counted twice', async (t) => {
    const s = await setup(t);
    const due = (name: string, at: number) => s.db.run('UPDATE batch_file_drive_metadata SET next_attempt_at = ? WHERE original_filename = ?', at, name);
    for (const [name, size, at] of [
      ['small-1', 10, T0 - 3000],
      ['small-2', 10, T0 - 2000],
      ['small-3', 10, T0 - 1500],
      ['big-a', 5000, T0 - 1000],
      ['big-b', 6000, T0 - 500],
    ] as const) {
      await s.store.upsertFile('job-1', name, { size, mtimeMs: 1 });
      await due(name, at);
    }
    const names = (rows: FileRow[]) => rows.map((r) => r.original_filename).sort();
    // big-a is the oldest large row, though due after every small one; small-1 is due first.
    t.deepEqual(names(await s.store.claimDue('w', 2, LEASE_MS, undefined, undefined, { largeFirst: 1000 })), ['big-a', 'small-1']);
    // big-b is now both the large row and the first due one: taken once, and the other slot goes to small-2.
    await due('big-b', T0 - 5000);
    t.deepEqual(names(await s.store.claimDue('w', 2, LEASE_MS, undefined, undefined, { largeFirst: 1000 })), ['big-b', 'small-2']);
    // Without a large row due, every slot goes in due order.
    t.deepEqual(names(await s.store.claimDue('w', 2, LEASE_MS, undefined, undefined, { largeFirst: 1000 })), ['small-3']);
    // An expired lease on a large row counts as due for the large slot.
    await s.store.upsertFile('job-1', 'small-4', { size: 10, mtimeMs: 1 });
    s.clock.advance(LEASE_MS + 1);
    const [first] = names(await s.store.claimDue('w', 1, LEASE_MS, undefined, undefined, { largeFirst: 1000 }));
    t.true(first === 'big-a' || first === 'big-b', `a large row with an expired lease first, got ${first}`);
    const rest = await s.store.claimDue('w', 10, LEASE_MS, 'job-1', undefined, { largeFirst: 1_000_000 });
    t.deepEqual(
      names(rest),
      ['big-a', 'big-b', 'small-1', 'small-2', 'small-3', 'small-4'].filter((n) => n !== first),
    );
  });

  test('claimDue with reserveIds: rows without a Drive id get the ids in the same statement; a row keeps its own; markRetry drops only the id it names', async (t) => {
    const s = await setup(t);
    for (const name of ['a', 'b', 'c', 'd']) await s.store.upsertFile('job-1', name, { size: 10, mtimeMs: 1 });
    await s.db.run("UPDATE batch_file_drive_metadata SET reserved_drive_id = 'old-b' WHERE original_filename = 'b'");
    await s.db.run("UPDATE batch_file_drive_metadata SET drive_file_id = 'drv-c' WHERE original_filename = 'c'");
    const ids = ['new-1', 'new-2', 'new-3', 'new-4'];
    const rows = await s.store.claimDue('w', 4, LEASE_MS, undefined, undefined, { reserveIds: ids });
    const by = (n: string) => rows.find((r) => r.original_filename === n)!;
    t.is(rows.length, 4);
    t.is(by('b').reserved_drive_id, 'old-b', 'an id from an earlier attempt is kept');
    t.is(by('c').reserved_drive_id, null, 'a row with a drive_file_id (a new revision) takes none');
    const fresh = [by('a').reserved_drive_id, by('d').reserved_drive_id];
    t.true(
      fresh.every((id) => id !== null && ids.includes(id)),
      `a and d got ids from the list: ${JSON.stringify(fresh)}`,
    );
    t.not(fresh[0], fresh[1]);
    // Stored, not only returned.
    t.is((await rowByName(s, 'job-1', 'a')).reserved_drive_id, fresh[0] ?? null);
    // Without reserveIds nothing is reserved.
    await s.store.upsertFile('job-1', 'e', { size: 10, mtimeMs: 1 });
    t.is((await s.store.claimDue('w', 1, LEASE_MS))[0]?.reserved_drive_id, null);
    // Fewer ids than rows: the rows beyond them take none.
    for (const name of ['f', 'g']) await s.store.upsertFile('job-1', name, { size: 10, mtimeMs: 1 });
    const two = await s.store.claimDue('w', 2, LEASE_MS, undefined, undefined, { reserveIds: ['only-1'] });
    t.deepEqual(two.map((r) => r.reserved_drive_id).sort(), ['only-1', null].sort());
    // markRetry clears the reserved id only when it is the one named.
    t.true(await s.store.markRetry(by('a').id, 'w', { error: 'x', reason: 'local:unstable', nextAttemptAt: T0, refund: true, dropReservedId: fresh[0]! }));
    t.true(await s.store.markRetry(by('b').id, 'w', { error: 'x', reason: 'local:unstable', nextAttemptAt: T0, refund: true, dropReservedId: 'new-9' }));
    t.true(await s.store.markFailed(by('d').id, 'w', { error: 'x', reason: 'local:refused', dropReservedId: fresh[1]! }));
    t.is((await rowByName(s, 'job-1', 'a')).reserved_drive_id, null);
    t.is((await rowByName(s, 'job-1', 'b')).reserved_drive_id, 'old-b');
    t.is((await rowByName(s, 'job-1', 'd')).reserved_drive_id, null);
  });

  test('progress and activity: files, bytes, rate over the last minute, in flight with offset; finished jobs as one total', async (t) => {
    const s = await setup(t, [
      { job_id: 'done', enabled: true, status: 'completed' },
      { job_id: 'busy', enabled: true, status: 'processing' },
    ]);
    await s.store.upsertFile('done', 'd', { size: 100, mtimeMs: 1 });
    const [d] = await s.store.claimDue('w', 1, LEASE_MS, 'done');
    s.clock.advance(1000);
    await s.store.markUploaded(d!.id, 'w', uploaded(d!.id, 100));
    await s.store.recomputeJobStatus('done');
    await s.store.upsertFile('busy', 'big', { size: 4000, mtimeMs: 1 });
    await s.store.upsertFile('busy', 'next', { size: 50, mtimeMs: 1 });
    const [b] = await s.store.claimDue('w', 1, LEASE_MS, 'busy', 1000);
    s.clock.advance(2000);
    await s.store.saveCheckpoint(b!.id, 'w', 'https://www.googleapis.com/upload/drive/v3/files?upload_id=x', 1000, LEASE_MS);

    const rep = await s.store.progress({});
    t.deepEqual(
      rep.jobs.map((j) => j.jobId),
      ['busy'],
      'the finished job is not listed',
    );
    t.deepEqual(rep.finished, { jobs: 1, files: 1, bytes: 100 });
    const j = rep.jobs[0]!;
    t.deepEqual(j.files, { done: 0, total: 2 });
    t.deepEqual(j.bytes, { done: 1000, total: 4050, failed: 0 });
    t.is(j.rateBytesPerSec, 500, '1000 bytes confirmed in the 2 s since the attempt started');
    t.is(j.etaSeconds, Math.ceil(3050 / 500));
    t.like(j.inFlight[0], { file: 'big', size: 4000, offset: 1000, startedAt: T0 + 1000, durationMs: 2000, attempt: 1 });
    t.deepEqual(
      (await s.store.progress({ all: true })).jobs.map((x) => x.jobId),
      ['busy', 'done'],
    );
    t.like((await s.store.progress({ jobId: 'done' })).jobs[0], { files: { done: 1, total: 1 }, lastFinishedAt: T0 + 1000, firstStartedAt: T0 });

    const a = await s.store.activity();
    t.deepEqual(a.rows, { pending: 1, uploading: 1, uploaded: 1, failed: 0 });
    t.is(a.pendingBytes, 50 + 3000);
    t.is(a.activeJobs, 1);
    t.is(a.rateBytesPerSec, Math.round(1100 / 3), 'both jobs: 100 + 1000 bytes over the 3 s since the first attempt began');
  });
}
