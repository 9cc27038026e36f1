/**
 * Several processes on one SQLite file: two daemons claiming from the same rows, and the batch
 * system writing batch_jobs at full speed while the daemon works. Real child processes, real file.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { createStore, migrate } from '../../src/db/index.js';
import { makeTempDb, openTestDb, seedJobs } from '../helpers/db.js';
import { repoRoot } from '../helpers/paths.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const ROOT = repoRoot();

interface Child {
  /** Resolves on the child's "ready" line. */
  ready: Promise<void>;
  /** Resolves when it exits: exit code, its last stdout line, stderr. */
  done: Promise<{ code: number | null; last: string; stderr: string }>;
  send(line: string): void;
}

function startChild(t: ExecutionContext, script: string, args: string[]): Child {
  const child = spawn(process.execPath, [join(FIXTURES, script.replace(/\.ts$/, '.js')), ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines: string[] = [];
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((res) => (onReady = res));
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    if (l === 'ready') onReady();
  });
  const done = (async () => {
    const [code] = (await once(child, 'close')) as [number | null];
    return { code, last: lines.at(-1) ?? '', stderr };
  })();
  // A child that dies before "ready" must not leave the test waiting forever.
  const readyOrDead = Promise.race([ready, done.then((d) => Promise.reject(new Error(`${script} exited ${d.code} before ready: ${d.stderr}`)))]);
  return { ready: readyOrDead, done, send: (l) => child.stdin.write(l + '\n') };
}

test('two processes claiming from 1,000 due rows get disjoint sets that cover all of them', async (t) => {
  const { path } = await makeTempDb(t, 'real');
  await seedJobs(path, ['job-a', 'job-b']);
  const db = await openTestDb(t, path);
  await migrate(db);
  const store = await createStore(db, { now: () => Date.now(), finalJobStatuses: ['completed', 'failed'] });
  await store.setJobEnabled('job-a', true);
  await store.setJobEnabled('job-b', true);
  await db.exec('BEGIN');
  for (let i = 0; i < 1000; i++) await store.upsertFile(i % 2 ? 'job-a' : 'job-b', `f-${i}.png`, { size: i, mtimeMs: 1 });
  await db.exec('COMMIT');
  t.is(await store.countDue(), 1000);

  const a = startChild(t, 'claim-worker.ts', [path, 'worker-a', '5']);
  const b = startChild(t, 'claim-worker.ts', [path, 'worker-b', '5']);
  await Promise.all([a.ready, b.ready]);
  a.send('go');
  b.send('go');
  const results = await Promise.all([a.done, b.done]);
  for (const r of results) t.is(r.code, 0, r.stderr);
  const [ra, rb] = results.map((r) => JSON.parse(r.last) as { owner: string; ids: number[] });
  t.log(`worker-a claimed ${ra!.ids.length}, worker-b ${rb!.ids.length}`);

  const setA = new Set(ra!.ids);
  const setB = new Set(rb!.ids);
  t.is(setA.size, ra!.ids.length, 'no row claimed twice by worker-a');
  t.is(setB.size, rb!.ids.length, 'no row claimed twice by worker-b');
  t.deepEqual(
    [...setA].filter((id) => setB.has(id)),
    [],
    'disjoint',
  );
  const all = (await db.all<{ id: number }[]>('SELECT id FROM batch_file_drive_metadata ORDER BY id')).map((r) => r.id);
  t.deepEqual(
    [...setA, ...setB].sort((x, y) => x - y),
    all,
    'union is every row',
  );
  const owners = await db.all<{ s: string; n: number }[]>('SELECT upload_status AS s, count(*) AS n FROM batch_file_drive_metadata GROUP BY s');
  t.deepEqual(owners, [{ s: 'uploaded', n: 1000 }]);
  t.is((await db.get<{ n: number }>('SELECT max(attempts) AS n FROM batch_file_drive_metadata'))?.n, 1, 'each row claimed exactly once');
});

test('batch system writing (aiming at 300 tx/s) for 10 s while the daemon claims and marks: no SQLITE_BUSY on either side, every write kept', async (t) => {
  const DURATION_MS = 10_000;
  const { path } = await makeTempDb(t, 'real');
  await seedJobs(path, ['job-1']);
  const db = await openTestDb(t, path);
  await migrate(db);
  let now = Date.now();
  const store = await createStore(db, { now: () => now, finalJobStatuses: ['completed', 'failed'] });
  await store.setJobEnabled('job-1', true);

  const writer = startChild(t, 'batch-writer.ts', [path, String(DURATION_MS), '300']);
  await writer.ready;
  let exited = false;
  const writerDone = writer.done.finally(() => (exited = true));

  const errors: unknown[] = [];
  const ops = { upserts: 0, claimed: 0, uploaded: 0, retried: 0, failed: 0, recomputes: 0 };
  let n = 0;
  while (!exited) {
    try {
      for (let i = 0; i < 5; i++) {
        await store.upsertFile('job-1', `out/f-${n++}.png`, { size: n, mtimeMs: n });
        ops.upserts++;
      }
      now += 1;
      const rows = await store.claimDue('daemon', 5, 60_000);
      ops.claimed += rows.length;
      for (const r of rows) {
        if (r.id % 7 === 0) {
          if (await store.markRetry(r.id, 'daemon', { error: '503', reason: 'retryable:backendError', nextAttemptAt: now })) ops.retried++;
        } else if (r.id % 11 === 0) {
          if (await store.markFailed(r.id, 'daemon', { error: '400', reason: 'permanent:badRequest' })) ops.failed++;
        } else if (await store.markUploaded(r.id, 'daemon', { driveFileId: `d${r.id}`, fileUrl: 'u', previewUrl: 'p', size: 1, mtimeMs: 1, md5: 'm' })) {
          ops.uploaded++;
        }
      }
      await store.recomputeJobStatus('job-1');
      ops.recomputes++;
    } catch (e) {
      errors.push(e);
      if (errors.length > 20) break;
    }
  }
  const w = await writerDone;
  t.is(w.code, 0, w.stderr);
  const report = JSON.parse(w.last) as { count: number; elapsedMs: number; errors: string[] };
  const rate = report.count / (report.elapsedMs / 1000);
  t.log(`writer: ${report.count} inserts in ${Math.round(report.elapsedMs)} ms = ${Math.round(rate)}/s; daemon: ${JSON.stringify(ops)}`);

  t.deepEqual(report.errors, [], 'writer saw no error');
  t.deepEqual(errors.map(String), [], 'daemon saw no error');
  t.true(report.elapsedMs >= DURATION_MS);
  // The rate each side reaches depends on the machine's load; what must hold at any rate is
  // that both sides kept writing at once and neither saw SQLITE_BUSY.
  t.true(report.count > 0, 'the writer wrote');
  t.is((await db.get<{ n: number }>("SELECT count(*) AS n FROM batch_jobs WHERE job_id LIKE 'writer-%'"))?.n, report.count);
  // The daemon did real work meanwhile and its writes are all there.
  t.true(ops.claimed > 0, `claimed ${ops.claimed}`);
  t.is((await db.get<{ n: number }>('SELECT count(*) AS n FROM batch_file_drive_metadata'))?.n, ops.upserts);
  t.is((await db.get<{ n: number }>("SELECT count(*) AS n FROM batch_file_drive_metadata WHERE upload_status = 'uploaded'"))?.n, ops.uploaded);
});
