// What the daemon agrees to read: job ids, original_filename values and real files behind them.
import { mkdirSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { checkRelativeName, isSafeJobId, LocalFileError, LocalPathError, resolveJobFile } from '../../src/watch/index.js';
import { makeTempDir } from '../helpers/db.js';

test('isSafeJobId: one plain directory name only', (t) => {
  for (const id of ['job-1', 'a', '..a', 'a..', 'job 1', 'résumé', 'a.b', '-x']) t.true(isSafeJobId(id), id);
  for (const id of ['', '.', '..', 'a/b', '/abs', 'a\\b', 'a\0b', '../x']) t.false(isSafeJobId(id), JSON.stringify(id));
});

test('checkRelativeName: relative, /-separated, no empty, . or .. segments, no NUL', (t) => {
  for (const n of ['a.txt', 'pages/p-001.png', 'a b/c d.txt', '..a/b..', 'a\\b.txt', '.hidden', 'x/.y/z']) t.is(checkRelativeName(n), null, n);
  t.regex(checkRelativeName('') ?? '', /empty/);
  t.regex(checkRelativeName('a\0b') ?? '', /NUL/);
  t.regex(checkRelativeName('/etc/passwd') ?? '', /absolute/);
  for (const n of ['../x', 'a/../b', 'a/..', '..', './a', 'a/./b', 'a//b', 'a/', 'a/b/']) {
    t.regex(checkRelativeName(n) ?? '', /segment/, n);
  }
});

async function jobDir(t: Parameters<typeof makeTempDir>[0]) {
  const root = makeTempDir(t, 'bds-paths-');
  const out = join(root, 'output');
  const job = join(out, 'job-1');
  mkdirSync(job, { recursive: true });
  const outside = join(root, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'outside the job directory');
  return { root, out, job, outside };
}

test('resolveJobFile: a plain and a nested file resolve to their real path, size and mtime', async (t) => {
  const { out, job } = await jobDir(t);
  writeFileSync(join(job, 'a.txt'), 'hello');
  mkdirSync(join(job, 'pages'));
  writeFileSync(join(job, 'pages', 'p-001.png'), 'png bytes!');
  const a = await resolveJobFile(out, 'job-1', 'a.txt');
  t.is(a.absPath, realpathSync(join(job, 'a.txt')));
  t.is(a.size, 5);
  t.is(a.mtimeMs, statSync(join(job, 'a.txt')).mtimeMs);
  const p = await resolveJobFile(out, 'job-1', 'pages/p-001.png');
  t.is(p.absPath, realpathSync(join(job, 'pages', 'p-001.png')));
  t.is(p.size, 10);
});

test('resolveJobFile: a missing file (or job directory) is a retryable LocalFileError ENOENT', async (t) => {
  const { out } = await jobDir(t);
  const e = await t.throwsAsync(resolveJobFile(out, 'job-1', 'not-yet.txt'), { instanceOf: LocalFileError });
  t.true(e?.retryable);
  t.is(e?.code, 'ENOENT');
  t.regex(e?.message ?? '', /not-yet\.txt not found/);
  const e2 = await t.throwsAsync(resolveJobFile(out, 'no-such-job', 'a.txt'), { instanceOf: LocalFileError });
  t.is(e2?.code, 'ENOENT');
  t.true(e2?.retryable);
});

test('resolveJobFile: .. segments, absolute names and unsafe job ids are refused before any file system access', async (t) => {
  const { out } = await jobDir(t);
  for (const name of ['../outside/secret.txt', '../../outside/secret.txt', 'a/../../outside/secret.txt', '/etc/passwd', '', './a.txt']) {
    const e = await t.throwsAsync(resolveJobFile(out, 'job-1', name), { instanceOf: LocalPathError }, name);
    t.regex(e?.message ?? '', /refused, never read/, name);
    t.true(e?.message.includes(JSON.stringify(name)), `the message names ${JSON.stringify(name)}`);
    t.false(e?.retryable ?? true);
  }
  for (const id of ['..', '.', 'a/b', '']) {
    const e = await t.throwsAsync(resolveJobFile(out, id, 'secret.txt'), { instanceOf: LocalPathError }, id);
    t.regex(e?.message ?? '', /job id/);
  }
});

test('resolveJobFile: a symlink to a file outside the job directory is refused and says outside', async (t) => {
  const { out, job, outside } = await jobDir(t);
  symlinkSync(join(outside, 'secret.txt'), join(job, 'escape.txt'));
  const e = await t.throwsAsync(resolveJobFile(out, 'job-1', 'escape.txt'), { instanceOf: LocalPathError });
  t.regex(e?.message ?? '', /escape\.txt resolves outside the job directory/);
  // Relative symlinks that climb out are just as outside.
  symlinkSync('../../outside/secret.txt', join(job, 'climb.txt'));
  await t.throwsAsync(resolveJobFile(out, 'job-1', 'climb.txt'), { instanceOf: LocalPathError, message: /outside the job directory/ });
  // A symlink into a sibling job is outside this job.
  mkdirSync(join(out, 'job-2'));
  writeFileSync(join(out, 'job-2', 'theirs.txt'), 'other job');
  symlinkSync(join(out, 'job-2', 'theirs.txt'), join(job, 'theirs.txt'));
  await t.throwsAsync(resolveJobFile(out, 'job-1', 'theirs.txt'), { instanceOf: LocalPathError, message: /outside/ });
});

test('resolveJobFile: a symlink that stays inside the job directory is followed to the real file', async (t) => {
  const { out, job } = await jobDir(t);
  mkdirSync(join(job, 'data'));
  writeFileSync(join(job, 'data', 'real.txt'), 'the real one');
  mkdirSync(join(job, 'links'));
  symlinkSync('../data/real.txt', join(job, 'links', 'alias.txt'));
  const r = await resolveJobFile(out, 'job-1', 'links/alias.txt');
  t.is(r.absPath, realpathSync(join(job, 'data', 'real.txt')));
  t.is(r.size, 'the real one'.length);
});

test('resolveJobFile: a symlinked directory inside the job that points elsewhere is refused', async (t) => {
  const { out, job, outside } = await jobDir(t);
  symlinkSync(outside, join(job, 'sub'));
  const e = await t.throwsAsync(resolveJobFile(out, 'job-1', 'sub/secret.txt'), { instanceOf: LocalPathError });
  t.regex(e?.message ?? '', /sub\/secret\.txt resolves outside the job directory/);
  // The same link pointing at a directory inside the job is fine.
  mkdirSync(join(job, 'real-dir'));
  writeFileSync(join(job, 'real-dir', 'ok.txt'), 'ok');
  symlinkSync(join(job, 'real-dir'), join(job, 'inner'));
  t.is((await resolveJobFile(out, 'job-1', 'inner/ok.txt')).size, 2);
});

test('resolveJobFile: a directory, the job directory itself and a symlink loop are not files to read', async (t) => {
  const { out, job } = await jobDir(t);
  mkdirSync(join(job, 'pages'));
  await t.throwsAsync(resolveJobFile(out, 'job-1', 'pages'), { instanceOf: LocalPathError, message: /pages is not a regular file/ });
  symlinkSync('.', join(job, 'self'));
  await t.throwsAsync(resolveJobFile(out, 'job-1', 'self'), { instanceOf: LocalPathError });
  symlinkSync('loop-b', join(job, 'loop-a'));
  symlinkSync('loop-a', join(job, 'loop-b'));
  await t.throwsAsync(resolveJobFile(out, 'job-1', 'loop-a'), { instanceOf: LocalPathError, message: /loop/ });
});
