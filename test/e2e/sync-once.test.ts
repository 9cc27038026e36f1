// `sync --once` end to end: the built CLI as a child process against the Drive emulator.
// Run with `npm test -- dist/test/e2e/` (builds, then runs these).
import test from 'ava';
import { assertExactlyOnce, md5, setupE2E, utcDate } from '../helpers/e2e.js';

const FILE_URL = /^https:\/\/drive\.google\.com\/file\/d\/([^/]+)\/view$/;
const PREVIEW_URL = /^https:\/\/drive\.google\.com\/file\/d\/([^/]+)\/preview$/;
const FOLDER_URL = /^https:\/\/drive\.google\.com\/drive\/folders\/([^/]+)$/;

test('sync --once uploads every file of the enabled jobs into their folders, leaves the disabled job alone; a rerun costs no Drive request', async (t) => {
  const e = await setupE2E(t);
  await e.addJob('job-a', { status: 'completed' });
  await e.addJob('job-b', { status: 'processing' });
  await e.addJob('job-off', { enabled: false, status: 'completed' });
  const files = [
    { job: 'job-a', rel: 'report.csv', content: 'page,shapes\n1,12\n' },
    { job: 'job-a', rel: 'pages/p-001.png', content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]) },
    { job: 'job-a', rel: 'pages/p-002.png', content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 4, 5, 6]) },
    { job: 'job-b', rel: 'deck.pptx', content: 'pptx bytes' },
  ];
  for (const f of files) e.writeFile(f.job, f.rel, f.content);
  e.writeFile('job-off', 'secret-plan.txt', 'never leaves the disk');

  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /uploaded 4, failed rows 0, pending rows 0/);

  const day = utcDate();
  await assertExactlyOnce(t, e, files, (job) => `batch/${day}/${job}`);
  for (const row of await e.rows()) {
    t.regex(row.drive_file_url ?? '', FILE_URL);
    t.is(FILE_URL.exec(row.drive_file_url ?? '')?.[1], row.drive_file_id ?? undefined);
    t.is(PREVIEW_URL.exec(row.preview_url ?? '')?.[1], row.drive_file_id ?? undefined);
    t.is(row.upload_error, null);
    const f = files.find((x) => x.job === row.batch_job_id && x.rel === row.original_filename);
    t.is(row.local_md5, f ? md5(f.content) : 'no such file');
  }
  // Files carry appProperties naming the job and row.
  const rows = await e.rows();
  for (const d of e.driveFiles()) {
    const row = rows.find((x) => x.drive_file_id === d.id);
    t.is(d.appProperties.bdsJob, row?.batch_job_id);
    t.is(d.appProperties.bdsRow, String(row?.id));
  }

  for (const job of ['job-a', 'job-b']) {
    const folder = await e.folderRow(job);
    const id = FOLDER_URL.exec(String(folder?.drive_folder_url))?.[1];
    t.truthy(id, `${job} folder url`);
    t.is(folder?.drive_folder_id, id);
    t.is(e.folderPath(e.driveFiles().find((f) => f.appProperties.bdsJob === job)!.id), `batch/${day}/${job}`);
    t.is(e.emu.listFiles().find((f) => f.id === id)?.name, job);
  }
  t.is((await e.jobRow('job-a'))?.drive_upload_status, 'completed');
  t.is((await e.jobRow('job-b'))?.drive_upload_status, 'in_progress', 'job still processing: not completed yet');
  t.is((await e.jobRow('job-off'))?.drive_upload_status, 'not_requested');
  t.deepEqual(await e.rows('job-off'), []);
  t.is(await e.folderRow('job-off'), undefined);
  t.false(e.emu.listFiles().some((f) => f.name === 'secret-plan.txt' || f.name === 'job-off'));

  // Second run, nothing changed: no Drive request at all (a token request at most), no new rows.
  const before = e.emu.stats();
  const rowsBefore = await e.rows();
  const r2 = await e.cli(['sync', '--once']);
  t.is(r2.code, 0, r2.stderr);
  t.regex(r2.stdout, /uploaded 0, failed rows 0/);
  t.is(e.emu.stats().driveRequests - before.driveRequests, 0, JSON.stringify(e.emu.stats().requests));
  t.deepEqual(await e.rows(), rowsBefore);

  // The batch system finishes job-b: the next pass completes it without touching Drive.
  await e.sql("UPDATE batch_jobs SET status = 'completed' WHERE job_id = 'job-b'");
  const r3 = await e.cli(['sync', '--once']);
  t.is(r3.code, 0, r3.stderr);
  t.is((await e.jobRow('job-b'))?.drive_upload_status, 'completed');
  t.is(e.emu.stats().driveRequests - before.driveRequests, 0);
});

test("a job's own drive_folder_pattern (the batch system's SVG2PPTX style) and `enable --pattern` decide its folder", async (t) => {
  const e = await setupE2E(t);
  await e.addJob('42', { pattern: 'SVG2PPTX-Batches/{date}/batch-{job_id}/' });
  await e.addJob('43', { enabled: false });
  e.writeFile('42', 'deck.pptx', 'deck 42');
  e.writeFile('43', 'deck.pptx', 'deck 43');

  const en = await e.cli(['enable', '43', '--pattern', 'custom/{job.status}/{yyyy}/j-{job_id}']);
  t.is(en.code, 0, en.stderr);
  t.regex(en.stdout, /job 43: Drive upload enabled with folder pattern/);
  t.is((await e.jobRow('43'))?.drive_integration_enabled, 1);

  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 0, r.stderr);
  const day = utcDate();
  await assertExactlyOnce(
    t,
    e,
    [
      { job: '42', rel: 'deck.pptx', content: 'deck 42' },
      { job: '43', rel: 'deck.pptx', content: 'deck 43' },
    ],
    (job) => (job === '42' ? `SVG2PPTX-Batches/${day}/batch-42` : `custom/completed/${day.slice(0, 4)}/j-43`),
  );
  t.is((await e.folderRow('42'))?.folder_path, `SVG2PPTX-Batches/${day}/batch-42`);

  // A bad --pattern is a usage error and changes nothing.
  const bad = await e.cli(['enable', '43', '--pattern', 'x/{nope}']);
  t.is(bad.code, 64);
  t.regex(bad.stderr, /\{nope\}/);
  t.is((await e.jobRow('43'))?.drive_folder_pattern, 'custom/{job.status}/{yyyy}/j-{job_id}');
});

test("an unknown token in a row's own pattern fails the job's rows with an error naming the token", async (t) => {
  const e = await setupE2E(t);
  await e.addJob('job-bad', { pattern: 'Batches/{client}/{job_id}' });
  await e.addJob('job-good');
  e.writeFile('job-bad', 'a.txt', 'a');
  e.writeFile('job-bad', 'b.txt', 'b');
  e.writeFile('job-good', 'c.txt', 'c');

  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 1, 'failed rows: exit 1');
  t.regex(r.stdout, /failed rows 2/);
  const bad = await e.rows('job-bad');
  t.is(bad.length, 2);
  for (const row of bad) {
    t.is(row.upload_status, 'failed');
    t.regex(row.upload_error ?? '', /\{client\}/);
  }
  t.is((await e.jobRow('job-bad'))?.drive_upload_status, 'failed');
  t.is((await e.jobRow('job-good'))?.drive_upload_status, 'completed');
  t.deepEqual(
    e.driveFiles().map((f) => f.name),
    ['c.txt'],
  );
  t.false(e.emu.listFiles().some((f) => f.name.includes('client') || f.name === 'Batches'));

  const st = await e.cli(['status', '--job', 'job-bad']);
  t.is(st.code, 0, st.stderr);
  t.regex(st.stdout, /drive=failed/);
  t.regex(st.stdout, /failed 2/);
  t.regex(st.stdout, /\{client\}/);
});

test('rows the batch system inserted itself (pending, no local size) are uploaded when the file exists', async (t) => {
  const e = await setupE2E(t);
  await e.addJob('job-bs');
  e.writeFile('job-bs', 'out/one.svg', '<svg/>');
  e.writeFile('job-bs', 'two.pptx', 'two');
  // The batch system's own INSERT: only the seed schema's columns.
  await e.sql("INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status) VALUES ('job-bs', 'out/one.svg', 'pending')");
  await e.sql("INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename) VALUES ('job-bs', 'two.pptx')");

  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 0, r.stderr + r.stdout);
  await assertExactlyOnce(
    t,
    e,
    [
      { job: 'job-bs', rel: 'out/one.svg', content: '<svg/>' },
      { job: 'job-bs', rel: 'two.pptx', content: 'two' },
    ],
    (job) => `batch/${utcDate()}/${job}`,
  );
  t.is((await e.rows('job-bs')).length, 2, 'the directory walk adopted the rows instead of adding new ones');
});

test('storage quota exceeded: rows failed with a readable error, exit 1; after the quota grows, retry --all and sync finish the job', async (t) => {
  const e = await setupE2E(t, { faults: { storageQuotaBytes: 10 } });
  await e.addJob('job-q');
  const files = [
    { job: 'job-q', rel: 'big-1.bin', content: 'x'.repeat(200) },
    { job: 'job-q', rel: 'big-2.bin', content: 'y'.repeat(300) },
  ];
  for (const f of files) e.writeFile(f.job, f.rel, f.content);

  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 1, r.stdout + r.stderr);
  t.regex(r.stdout, /failed rows 2/);
  for (const row of await e.rows('job-q')) {
    t.is(row.upload_status, 'failed');
    t.regex(row.upload_error ?? '', /storage quota/i);
  }
  t.is((await e.jobRow('job-q'))?.drive_upload_status, 'failed');
  t.deepEqual(e.driveFiles(), []);

  e.emu.setFaults({ storageQuotaBytes: null });
  const rt = await e.cli(['retry', '--all']);
  t.is(rt.code, 0, rt.stderr);
  t.regex(rt.stdout, /^2 failed row\(s\) back to pending/m);
  t.not((await e.jobRow('job-q'))?.drive_upload_status, 'failed');

  const r2 = await e.cli(['sync', '--once']);
  t.is(r2.code, 0, r2.stdout + r2.stderr);
  await assertExactlyOnce(t, e, files, (job) => `batch/${utcDate()}/${job}`);
  t.is((await e.jobRow('job-q'))?.drive_upload_status, 'completed');
});
