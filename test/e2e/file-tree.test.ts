// The output tree is untrusted input: links, odd names and unsafe job ids, end to end through
// the real CLI and daemon. Each test reproduces an attack or input of issue 11 and asserts what
// reaches Drive (never an outside byte), the row and job state, and the error text.
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { makeTempDir } from '../helpers/db.js';
import { md5, setupE2E, waitUntil, type LogLine } from '../helpers/e2e.js';
import { bytePath, directoryInodes, filesContaining, inotifyWatchedInodes } from '../helpers/files.js';

const MiB = 1024 * 1024;

/** A file outside every job directory whose content must never reach the emulator. */
function canary(t: Parameters<typeof makeTempDir>[0], size = 64): { dir: string; path: string; marker: string } {
  const dir = makeTempDir(t, 'bds-canary-');
  const marker = `CANARY-${randomBytes(8).toString('hex')}-`;
  const path = join(dir, 'secret.txt');
  writeFileSync(path, marker.repeat(Math.ceil(size / marker.length)).slice(0, Math.max(size, marker.length)));
  return { dir, path, marker };
}

test('a job directory that is a symlink out of output_dir: nothing read, its rows and the job fail with the reason in status', async (t) => {
  const emuDir = makeTempDir(t, 'bds-emu-');
  const e = await setupE2E(t, { emulatorDataDir: emuDir });
  const c = canary(t);
  symlinkSync(c.dir, join(e.outputDir, 'job-x'));
  await e.addJob('job-x');
  // The batch system's own row for the file (a walk would have found it through the link).
  await e.sql("INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status) VALUES ('job-x', 'secret.txt', 'pending')");
  await e.addJob('fine');
  e.writeFile('fine', 'a.txt', 'a');

  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 1, r.stdout + r.stderr);
  const rows = await e.rows('job-x');
  t.deepEqual(
    rows.map((x) => [x.original_filename, x.upload_status]),
    [['secret.txt', 'failed']],
    'no row from a walk through the link',
  );
  t.regex(rows[0]?.upload_error ?? '', /job directory .*job-x.* outside watch\.output_dir/);
  t.is((await e.jobRow('job-x'))?.drive_upload_status, 'failed');
  const status = await e.cli(['status', '--job', 'job-x']);
  t.regex(status.stdout, /job-x\s+drive=failed/);
  t.regex(status.stdout, /outside watch\.output_dir/);
  t.deepEqual(
    e.driveFiles().map((f) => f.name),
    ['a.txt'],
  );
  t.deepEqual(filesContaining(emuDir, c.marker), [], 'no byte of the outside file in the emulator');
});

test.serial(
  'a file swapped for a symlink to an outside file during a resumable upload: no outside byte reaches Drive; the retry refuses the link',
  async (t) => {
    const emuDir = makeTempDir(t, 'bds-emu-');
    const e = await setupE2E(t, {
      emulatorDataDir: emuDir,
      resumableThresholdBytes: MiB,
      chunkSizeBytes: 256 * 1024,
      stabilityMs: 100,
      faults: { latencyMs: 100 },
    });
    const c = canary(t, 4 * MiB);
    await e.addJob('swap');
    const own = Buffer.alloc(4 * MiB, 'job bytes ');
    const path = e.writeFile('swap', 'big.bin', own);
    const d = await e.startedDaemon({ timeoutMs: 90_000 });
    // Swap once Drive has confirmed the first chunk, while the rest is still to be sent.
    const before = await waitUntil(
      async () => {
        const row = (await e.rows('swap'))[0];
        return row && row.upload_status === 'uploading' && (row as { resumable_offset?: number }).resumable_offset ? row : null;
      },
      90_000,
      'the first confirmed chunk',
    );
    t.true(((before as { resumable_offset?: number }).resumable_offset ?? 0) < own.length, 'swapped mid-upload');
    symlinkSync(c.path, `${path}.swap`);
    renameSync(`${path}.swap`, path);
    const row = await waitUntil(
      async () => {
        const x = (await e.rows('swap'))[0];
        return x?.upload_status === 'failed' ? x : null;
      },
      90_000,
      'the swapped row to be refused',
    );
    t.deepEqual(filesContaining(emuDir, c.marker), [], 'no byte of the outside file in the emulator');
    t.regex(row.upload_error ?? '', /symbolic link/);
    t.is(row.attempts, 1, 'refused at once, not retried');
    // What did reach Drive is the job's own file, read through the descriptor opened before the swap.
    for (const f of e.driveFiles()) t.is(f.md5Checksum, md5(own));
    // The job's status follows the row's outcome in a statement of its own.
    await waitUntil(async () => (await e.jobRow('swap'))?.drive_upload_status === 'failed', 30_000, 'the job failed');
    d.kill('SIGTERM');
    t.is((await d.exited).code, 0);
  },
);

test('names that are not valid UTF-8 are never skipped silently: the job fails naming them (escaped); valid files still upload', async (t) => {
  const e = await setupE2E(t);
  await e.addJob('latin');
  e.writeFile('latin', 'ok.txt', 'ok');
  writeFileSync(bytePath(e.outputDir, 'latin', Buffer.from('caf\xe9.txt', 'latin1')), 'latin-1 name');
  mkdirSync(bytePath(e.outputDir, 'latin', Buffer.from([0x64, 0xff])));
  writeFileSync(bytePath(e.outputDir, 'latin', Buffer.from([0x64, 0xff]), 'inner.txt'), 'in a bad directory');

  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 1, r.stdout + r.stderr);
  t.is((await e.jobRow('latin'))?.drive_upload_status, 'failed');
  t.deepEqual(
    (await e.rows('latin')).map((x) => [x.original_filename, x.upload_status]),
    [['ok.txt', 'uploaded']],
  );
  t.deepEqual(
    e.driveFiles().map((f) => f.name),
    ['ok.txt'],
  );
  const status = await e.cli(['status', '--job', 'latin']);
  t.regex(status.stdout, /latin\s+drive=failed/);
  t.true(status.stdout.includes('caf\\xE9.txt'), status.stdout);
  t.true(status.stdout.includes('d\\xFF/'), status.stdout);
  t.regex(status.stdout, /not valid UTF-8/);
  const json = JSON.parse((await e.cli(['status', '--job', 'latin', '--json'])).stdout) as { jobError: string | null }[];
  t.regex(json[0]?.jobError ?? '', /caf\\xE9\.txt/);

  // Renamed by the operator: the next pass uploads it and the job completes.
  renameSync(bytePath(e.outputDir, 'latin', Buffer.from('caf\xe9.txt', 'latin1')), join(e.outputDir, 'latin', 'café.txt'));
  renameSync(bytePath(e.outputDir, 'latin', Buffer.from([0x64, 0xff])), join(e.outputDir, 'latin', 'd'));
  const r2 = await e.cli(['sync', '--once']);
  t.is(r2.code, 0, r2.stdout + r2.stderr);
  t.is((await e.jobRow('latin'))?.drive_upload_status, 'completed');
  t.deepEqual(
    e
      .driveFiles()
      .map((f) => f.name)
      .sort(),
    ['café.txt', 'inner.txt', 'ok.txt'],
  );
});

test.serial('run: a file with a non-UTF-8 name written while the daemon watches is reported, not dropped by the watcher', async (t) => {
  // No scheduled scan during the test: only the watcher can notice the file.
  const e = await setupE2E(t, { stabilityMs: 150, scanCron: '0 0 1 1 *' });
  await e.addJob('live', { status: 'completed' });
  e.writeFile('live', 'first.txt', 'first');
  const d = await e.startedDaemon({ timeoutMs: 90_000 });
  await waitUntil(async () => (await e.jobRow('live'))?.drive_upload_status === 'completed', 90_000, 'the first file');
  writeFileSync(bytePath(e.outputDir, 'live', Buffer.from('r\xe9sum\xe9.pdf', 'latin1')), 'x');
  await waitUntil(async () => (await e.jobRow('live'))?.drive_upload_status === 'failed', 90_000, 'the job to fail naming the file');
  const status = await e.cli(['status', '--job', 'live']);
  t.true(status.stdout.includes('r\\xE9sum\\xE9.pdf'), status.stdout);
  d.kill('SIGTERM');
  t.is((await d.exited).code, 0);
});

test.serial('unsafe job ids fail their job with the reason in status, and the daemon never watches outside output_dir', async (t) => {
  const e = await setupE2E(t, { scanCron: '* * * * * *' });
  // `../wide` is a real directory next to output_dir: the old daemon put a watch on every directory below it.
  const wide = join(e.outputDir, '..', 'wide');
  for (let i = 0; i < 30; i++) mkdirSync(join(wide, `d${i}`, 'sub'), { recursive: true });
  writeFileSync(join(wide, 'd0', 'file.txt'), 'outside');
  const unsafe = ['../wide', '..', 'a/b', ''];
  for (const id of unsafe) await e.addJob(id);
  await e.addJob('fine');
  e.writeFile('fine', 'a.txt', 'a');

  const d = await e.startedDaemon({ timeoutMs: 90_000 });
  await waitUntil(async () => (await e.jobRow('fine'))?.drive_upload_status === 'completed', 90_000, 'the fine job');
  // A few scheduled scans (one per second) pass.
  const from = d.mark();
  await d.waitForLog((l: LogLine) => l.json?.message === 'scan done', 60_000, from);
  await d.waitForLog((l: LogLine) => l.json?.message === 'scan done', 60_000, d.mark());
  for (const id of unsafe) {
    t.is((await e.jobRow(id))?.drive_upload_status, 'failed', JSON.stringify(id));
  }
  const outside = new Set(directoryInodes(wide));
  const watched = inotifyWatchedInodes(d.child.pid ?? 0);
  t.true(watched.length > 0, 'the daemon watches something');
  t.deepEqual(
    watched.filter((ino) => outside.has(ino)),
    [],
    'no watch outside output_dir',
  );
  // The refusal is said once per job, not on every scan.
  const refusals = d.lines.filter((l) => /job id/.test(String(l.json?.message ?? '')) || /job id/.test(String(l.json?.error ?? '')));
  t.true(refusals.length <= unsafe.length, refusals.map((l) => l.text).join('\n'));
  d.kill('SIGTERM');
  t.is((await d.exited).code, 0);

  const status = await e.cli(['status']);
  t.regex(status.stdout, /"\.\.\/wide"|\.\.\/wide/);
  t.regex(status.stdout, /cannot be a directory name under watch\.output_dir/);
  const json = JSON.parse((await e.cli(['status', '--json'])).stdout) as { jobId: string; driveUploadStatus: string; jobError: string | null }[];
  for (const id of unsafe) {
    const j = json.find((x) => x.jobId === id);
    t.is(j?.driveUploadStatus, 'failed', JSON.stringify(id));
    t.regex(j?.jobError ?? '', /job id/, JSON.stringify(id));
  }
  t.deepEqual(
    e.driveFiles().map((f) => f.name),
    ['a.txt'],
  );
  t.false(e.emu.listFiles().some((f) => f.name === 'wide' || f.name === 'file.txt'));
});

test('a symlinked directory inside a job is skipped with one notice; the rest of the job completes', async (t) => {
  const e = await setupE2E(t);
  const c = canary(t);
  await e.addJob('linked');
  e.writeFile('linked', 'real/a.txt', 'a');
  symlinkSync(c.dir, join(e.outputDir, 'linked', 'elsewhere'));
  symlinkSync('real', join(e.outputDir, 'linked', 'alias'));

  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.is((await e.jobRow('linked'))?.drive_upload_status, 'completed');
  t.deepEqual(
    (await e.rows('linked')).map((x) => [x.original_filename, x.upload_status]),
    [['real/a.txt', 'uploaded']],
  );
  const notices = r.stdout
    .split('\n')
    .concat(r.stderr.split('\n'))
    .filter((l) => /symbolic link to a directory/.test(l));
  t.is(notices.length, 2, notices.join('\n'));
  t.true(notices.every((l) => /"level":"notice"/.test(l)));
  t.deepEqual(
    e.driveFiles().map((f) => f.name),
    ['a.txt'],
  );
});

test('a row whose name is too long for the file system fails at once (ENAMETOOLONG is permanent)', async (t) => {
  const e = await setupE2E(t, { maxAttempts: 5 });
  await e.addJob('long');
  e.writeFile('long', 'ok.txt', 'ok');
  const name = `${'n'.repeat(300)}.txt`;
  await e.sql("INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status) VALUES ('long', ?, 'pending')", name);
  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 1);
  const row = (await e.rows('long')).find((x) => x.original_filename === name);
  t.is(row?.upload_status, 'failed');
  t.is(row?.attempts, 1, 'not retried');
  t.regex(row?.upload_error ?? '', /too long/);
  t.is((await e.sql<{ r: string }>('SELECT last_error_reason AS r FROM batch_file_drive_metadata'))[0]?.r, 'local:ENAMETOOLONG');
});

test('{job.constructor} and other prototype names are not batch_jobs columns', async (t) => {
  const e = await setupE2E(t);
  await e.addJob('proto', { pattern: 'p/{job.constructor}' });
  e.writeFile('proto', 'a.txt', 'a');
  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 1);
  const row = (await e.rows('proto'))[0];
  t.is(row?.upload_status, 'failed');
  t.regex(row?.upload_error ?? '', /no column "constructor"/);
  t.false(
    e.emu.listFiles().some((f) => /function|native code/.test(f.name)),
    'no folder named after Object()',
  );
});
