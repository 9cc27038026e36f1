// Crashes, signals and concurrent daemons, end to end.
import { readFileSync, writeFileSync } from 'node:fs';
import test from 'ava';
import { allUploaded, assertExactlyOnce, setupE2E, utcDate, waitUntil, type LogLine } from '../helpers/e2e.js';

const uploadedLine = (job: string, file: string) => (l: LogLine) => l.json?.message === 'uploaded' && l.json.job === job && l.json.file === file;

function makeFiles(jobs: string[], perJob: number) {
  const out: { job: string; rel: string; content: string }[] = [];
  for (const job of jobs) for (let i = 0; i < perJob; i++) out.push({ job, rel: `f-${String(i).padStart(3, '0')}.txt`, content: `${job} file ${i}\n` });
  return out;
}

test('SIGKILL during uploads, restart: every file exactly once, md5 equal, nothing stuck uploading', async (t) => {
  // Short lease so the killed daemon's rows come back quickly to the restarted one.
  const e = await setupE2E(t, { faults: { latencyMs: 50 }, concurrency: 4, leaseMs: 1500 });
  const jobs = ['k1', 'k2'];
  for (const j of jobs) await e.addJob(j);
  const files = makeFiles(jobs, 60);
  for (const f of files) e.writeFile(f.job, f.rel, f.content);

  const d1 = await e.startedDaemon();
  await waitUntil(async () => (await e.rows()).filter((r) => r.upload_status === 'uploaded').length >= 10, 20_000, '10 uploads');
  d1.kill('SIGKILL');
  t.is((await d1.exited).signal, 'SIGKILL');
  const mid = await e.rows();
  const midUploaded = mid.filter((r) => r.upload_status === 'uploaded').length;
  t.log(`killed with ${midUploaded}/${files.length} uploaded, ${mid.filter((r) => r.upload_status === 'uploading').length} uploading`);
  t.true(midUploaded < files.length, 'killed mid-way');

  const d2 = await e.startedDaemon();
  await waitUntil(() => allUploaded(e, files.length), 60_000, 'all uploaded after restart');
  d2.kill('SIGTERM');
  t.is((await d2.exited).code, 0);
  await assertExactlyOnce(t, e, files, (job) => `batch/${utcDate()}/${job}`);
  // Also by appProperties: one Drive file per row.
  const perRow = new Map<string, number>();
  for (const f of e.driveFiles())
    perRow.set(`${f.appProperties.bdsJob}/${f.appProperties.bdsRow}`, (perRow.get(`${f.appProperties.bdsJob}/${f.appProperties.bdsRow}`) ?? 0) + 1);
  t.is(perRow.size, files.length);
  t.true([...perRow.values()].every((n) => n === 1));
  t.deepEqual(
    (await e.rows()).filter((r) => r.upload_status === 'uploading'),
    [],
  );
});

test('SIGTERM drains: exit 0 within the deadline, a stopping/stopped line, no row left uploading', async (t) => {
  const e = await setupE2E(t, { faults: { latencyMs: 100 }, concurrency: 4, drainTimeoutMs: 5000 });
  await e.addJob('drain');
  for (const f of makeFiles(['drain'], 40)) e.writeFile(f.job, f.rel, f.content);
  const d = await e.startedDaemon();
  await d.waitForLog((l) => l.json?.message === 'uploaded', 15_000);
  const t0 = performance.now();
  d.kill('SIGTERM');
  const { code } = await d.exited;
  const ms = performance.now() - t0;
  t.log(`SIGTERM → exit in ${Math.round(ms)} ms`);
  t.is(code, 0, d.output().slice(-2000));
  t.true(ms < 5000 + 3000, 'within the drain deadline (+ process exit)');
  t.regex(d.output(), /stopping/);
  t.regex(d.output(), /"message":"stopped"/);
  const rows = await e.rows();
  t.deepEqual(
    rows.filter((r) => r.upload_status === 'uploading'),
    [],
  );
  t.true(rows.every((r) => r.upload_status === 'uploaded' || r.upload_status === 'pending'));
  t.true(
    rows.every((r) => r.lease_owner === null),
    'leases released',
  );
  // Whatever was uploaded is in Drive once; the rest is finished by the next run.
  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 0, r.stderr);
  await assertExactlyOnce(t, e, makeFiles(['drain'], 40), (job) => `batch/${utcDate()}/${job}`);
});

test('SIGHUP: a valid changed config is reloaded; an invalid one is refused and the daemon keeps uploading', async (t) => {
  const e = await setupE2E(t, { concurrency: 2 });
  await e.addJob('hup', { status: 'processing' });
  const d = await e.startedDaemon();

  let from = d.mark();
  writeFileSync(e.configPath, readFileSync(e.configPath, 'utf8').replace('concurrency: 2', 'concurrency: 5').replace('level: info', 'level: debug'));
  d.kill('SIGHUP');
  const reloaded = await d.waitForLog(/config reloaded/, 10_000, from);
  t.is(reloaded.json?.concurrency, 5);
  t.is(reloaded.json?.log_level, 'debug');

  from = d.mark();
  const good = readFileSync(e.configPath, 'utf8');
  writeFileSync(e.configPath, good.replace('upload:', 'upload:\n  no_such_key: 1'));
  d.kill('SIGHUP');
  const rejected = await d.waitForLog(/reload rejected/, 10_000, from);
  t.is(rejected.json?.level, 'error');
  t.regex(JSON.stringify(rejected.json), /no_such_key/);

  from = d.mark();
  writeFileSync(e.configPath, 'database: [unclosed');
  d.kill('SIGHUP');
  await d.waitForLog(/reload rejected/, 10_000, from);

  // Still running, still uploading with the last good config.
  from = d.mark();
  e.writeFile('hup', 'after-reload.txt', 'still alive');
  await d.waitForLog(uploadedLine('hup', 'after-reload.txt'), 10_000, from);
  t.is(d.child.exitCode, null);
  d.kill('SIGTERM');
  t.is((await d.exited).code, 0);
});

test('two daemons on one database at once: every file exactly once', async (t) => {
  const e = await setupE2E(t, { faults: { latencyMs: 20 }, concurrency: 4 });
  const jobs = ['two-1', 'two-2', 'two-3'];
  for (const j of jobs) await e.addJob(j);
  const files = makeFiles(jobs, 30);
  for (const f of files) e.writeFile(f.job, f.rel, f.content);
  const [a, b] = await Promise.all([e.startedDaemon(), e.startedDaemon()]);
  // Files written while both watch: both see them, one uploads each.
  const late = makeFiles(['two-1'], 40)
    .slice(30)
    .map((f) => ({ ...f, content: `late ${f.rel}` }));
  for (const f of late) e.writeFile(f.job, f.rel, f.content);
  const all = [...files, ...late];
  await waitUntil(() => allUploaded(e, all.length), 60_000, 'all uploaded by the two daemons');
  a!.kill('SIGTERM');
  b!.kill('SIGTERM');
  t.is((await a!.exited).code, 0);
  t.is((await b!.exited).code, 0);
  await assertExactlyOnce(t, e, all, (job) => `batch/${utcDate()}/${job}`);
  // Folders are recorded with their reserved id before they are made: each is made once, none trashed.
  const folders = e.emu.listFiles().filter((f) => f.mimeType.endsWith('folder'));
  t.true(
    folders.every((f) => !f.trashed),
    'no folder made and trashed',
  );
  const names = folders.map((f) => `${f.parents[0]}/${f.name}`);
  t.is(new Set(names).size, names.length, 'no duplicate folder');
  for (const job of jobs) {
    const folderId = (await e.folderRow(job))?.drive_folder_id;
    const parents = new Set(
      e
        .driveFiles()
        .filter((f) => f.appProperties.bdsJob === job)
        .map((f) => f.parents[0]),
    );
    t.deepEqual([...parents], [folderId], `every file of ${job} in its recorded folder`);
  }
  const byA = a!.lines.filter((l) => l.json?.message === 'uploaded').length;
  const byB = b!.lines.filter((l) => l.json?.message === 'uploaded').length;
  t.log(`uploads: daemon A ${byA}, daemon B ${byB}`);
});
