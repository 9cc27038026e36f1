// Hostile file names and paths, end to end: what reaches Drive and what is refused.
import { mkdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { assertExactlyOnce, setupE2E, utcDate, waitUntil, type LogLine } from '../helpers/e2e.js';
import { makeTempDir } from '../helpers/db.js';

test('quotes, backslashes, unicode, spaces and a quoted sub-folder arrive intact; *.tmp and dotfiles never leave', async (t) => {
  const e = await setupE2E(t);
  await e.addJob('names');
  const files = [
    { job: 'names', rel: `it's "x".txt`, content: 'quotes' },
    { job: 'names', rel: 'a\\b.txt', content: 'backslash' },
    { job: 'names', rel: 'résumé-日本.txt', content: 'unicode' },
    { job: 'names', rel: 'with  spaces .txt', content: 'spaces' },
    { job: 'names', rel: `bob's "dir"/inner file.txt`, content: 'nested' },
  ];
  for (const f of files) e.writeFile(f.job, f.rel, f.content);
  e.writeFile('names', 'draft.tmp', 'partial');
  e.writeFile('names', '.hidden', 'dotfile');
  e.writeFile('names', '.cache/inside.txt', 'in a dot dir');

  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 0, r.stderr + r.stdout);
  await assertExactlyOnce(t, e, files, (job) => `batch/${utcDate()}/${job}`);
  const names = e.emu.listFiles().map((f) => f.name);
  for (const n of ['draft.tmp', '.hidden', '.cache', 'inside.txt']) t.false(names.includes(n), n);
  t.deepEqual((await e.rows()).map((x) => x.original_filename).sort(), files.map((f) => f.rel).sort());

  // A rerun finds every folder again (quoted names in the `q` query): no new folder, no new file.
  const folders = e.emu.listFiles().length;
  const r2 = await e.cli(['sync', '--once']);
  t.is(r2.code, 0);
  t.is(e.emu.listFiles().length, folders);
});

test('a batch-system row naming ../../etc/passwd and a symlink out of the job directory are refused, never read', async (t) => {
  const e = await setupE2E(t);
  await e.addJob('evil');
  e.writeFile('evil', 'ok.txt', 'fine');
  // A file the traversal would reach (output/../../… = the e2e dir's parent is outside; use a sibling target).
  const outside = makeTempDir(t, 'bds-outside-');
  const target = join(outside, 'private.txt');
  writeFileSync(target, 'TOP SECRET outside the job dir');
  mkdirSync(join(e.outputDir, 'evil', 'links'), { recursive: true });
  symlinkSync(target, join(e.outputDir, 'evil', 'links', 'escape.txt'));
  await e.sql("INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status) VALUES ('evil', '../../etc/passwd', 'pending')");

  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 1, 'refused rows are failures');
  const rows = await e.rows('evil');
  const by = (n: string) => rows.find((x) => x.original_filename === n);
  t.is(by('ok.txt')?.upload_status, 'uploaded');
  t.is(by('../../etc/passwd')?.upload_status, 'failed');
  t.regex(by('../../etc/passwd')?.upload_error ?? '', /\.\./);
  t.regex(by('../../etc/passwd')?.upload_error ?? '', /refused, never read/);
  t.is(by('links/escape.txt')?.upload_status, 'failed');
  t.regex(by('links/escape.txt')?.upload_error ?? '', /links\/escape\.txt is a symbolic link \(links are never followed\); refused, never read/);
  t.deepEqual(
    e.driveFiles().map((f) => f.name),
    ['ok.txt'],
  );
  t.is(e.emu.stats().uploadsCompleted, 1, 'exactly one upload reached Drive');
  t.false(e.emu.listFiles().some((f) => f.name === 'passwd' || f.name === 'escape.txt'));
  t.is((await e.jobRow('evil'))?.drive_upload_status, 'failed');
});

test('run: a file deleted after it was detected ends with a clear error; the daemon keeps going', async (t) => {
  const e = await setupE2E(t, { logLevel: 'debug', stabilityMs: 200, maxAttempts: 2, backoffBaseMs: 50, backoffMaxMs: 100 });
  await e.addJob('gone');
  // The job directory exists before the watcher starts: this test is about the deletion only.
  e.writeFile('gone', 'first.txt', 'first');
  const d = await e.startedDaemon();
  await d.waitForLog((l: LogLine) => l.json?.message === 'uploaded' && l.json.file === 'first.txt', 10_000);
  // Recorded as a row first (what the watcher would do), the file vanishes before the upload.
  const p = e.writeFile('gone', 'ghost.txt', 'here for a moment');
  // (On a busy machine the watcher may have recorded it already: either way there is a row.)
  await e.sql(
    "INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status) VALUES ('gone', 'ghost.txt', 'pending') ON CONFLICT DO NOTHING",
  );
  unlinkSync(p);
  // Nudge the daemon through its watcher with a real file, which must still upload.
  e.writeFile('gone', 'real.txt', 'real');
  await d.waitForLog((l: LogLine) => l.json?.message === 'uploaded' && l.json.file === 'real.txt', 10_000);
  const ghost = await waitUntil(
    async () => {
      const row = (await e.rows('gone')).find((x) => x.original_filename === 'ghost.txt');
      // The daemon may have claimed the row while the file was still there and fresh: it then
      // waits for the file to be still ('file still being written') before trying again, and that
      // attempt finds the file gone.
      return row && row.upload_status !== 'uploading' && /not found|deleted/i.test(row.upload_error ?? '') ? row : null;
    },
    15_000,
    'the ghost row to carry a "not found" error',
  );
  t.true(ghost.upload_status === 'failed' || ghost.upload_status === 'pending', ghost.upload_status);
  t.regex(ghost.upload_error ?? '', /not found|deleted/i);
  t.deepEqual(
    e
      .driveFiles()
      .map((f) => f.name)
      .sort(),
    ['first.txt', 'real.txt'],
  );
  t.is(d.child.exitCode, null, 'still running');
  // And afterwards it still picks up new work.
  const from = d.mark();
  e.writeFile('gone', 'later.txt', 'later');
  await d.waitForLog((l: LogLine) => l.json?.message === 'uploaded' && l.json.file === 'later.txt', 10_000, from);
  d.kill('SIGTERM');
  t.is((await d.exited).code, 0);
});
