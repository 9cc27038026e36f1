// openJobFile: what the daemon agrees to read, and that it reads only through the descriptor it checked.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readdirSync, readlinkSync, realpathSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { createJobDirCache, LocalFileError, openJobFile, resolveJobDir, type LocalFile } from '../../src/local/index.js';
import { makeTempDir } from '../helpers/db.js';

const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('hex');

async function tree(t: Parameters<typeof makeTempDir>[0]) {
  const root = makeTempDir(t, 'bds-local-');
  const out = join(root, 'output');
  const job = join(out, 'job-1');
  mkdirSync(job, { recursive: true });
  const outside = join(root, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'OUTSIDE the job directory');
  return { root, out, job, outside };
}

async function opened(t: Parameters<typeof makeTempDir>[0], p: Promise<LocalFile>): Promise<LocalFile> {
  const f = await p;
  t.teardown(() => f.close());
  return f;
}

async function readAll(f: LocalFile, start = 0, end = f.size - 1): Promise<string> {
  const buf = Buffer.alloc(end - start + 1);
  await f.readInto(buf, buf.length, start);
  return buf.toString();
}

async function refusal(t: Parameters<typeof makeTempDir>[0], p: Promise<unknown>, message: RegExp, what = ''): Promise<void> {
  const e = await t.throwsAsync(p, { instanceOf: LocalFileError }, what);
  t.is(e?.code, 'refused', what);
  t.false(e?.retryable ?? true, what);
  t.regex(e?.message ?? '', message, what);
  t.regex(e?.message ?? '', /refused, never read$/, what);
}

test('a plain and a nested file: size and mtime from the descriptor, bytes and md5 read through it', async (t) => {
  const { out, job } = await tree(t);
  writeFileSync(join(job, 'a.txt'), 'hello world');
  mkdirSync(join(job, 'pages'));
  writeFileSync(join(job, 'pages', 'p-001.png'), 'png bytes!');
  const a = await opened(t, openJobFile(out, 'job-1', 'a.txt'));
  t.is(a.size, 11);
  t.is(a.mtimeMs, statSync(join(job, 'a.txt')).mtimeMs);
  t.is(await readAll(a), 'hello world');
  t.is(await readAll(a, 6, 10), 'world');
  t.is(await a.md5(), md5('hello world'));
  const p = await opened(t, openJobFile(out, 'job-1', 'pages/p-001.png'));
  t.is(p.relPath, 'pages/p-001.png');
  t.is(await readAll(p), 'png bytes!');
  writeFileSync(join(job, 'empty'), '');
  const e = await opened(t, openJobFile(out, 'job-1', 'empty'));
  t.is(await e.md5(), 'd41d8cd98f00b204e9800998ecf8427e');
});

test('swapped for a link, or deleted, after the open: reads still see the file that was checked, never the new target', async (t) => {
  const { out, job, outside } = await tree(t);
  const path = join(job, 'big.bin');
  writeFileSync(path, 'the job wrote this');
  const f = await opened(t, openJobFile(out, 'job-1', 'big.bin'));
  symlinkSync(join(outside, 'secret.txt'), `${path}.swap`);
  renameSync(`${path}.swap`, path);
  t.is(await readAll(f), 'the job wrote this');
  t.is(await f.md5(), md5('the job wrote this'));
  t.false((await f.pathNow())?.same ?? true, 'the path names something else now');
  // The next attempt opens again and refuses the link.
  await refusal(t, openJobFile(out, 'job-1', 'big.bin'), /big\.bin is a symbolic link/);
  unlinkSync(path);
  t.is(await readAll(f), 'the job wrote this');
  t.is(await f.pathNow(), null);
});

test('changedSinceOpen: appended or rewritten after the open is seen through the descriptor', async (t) => {
  const { out, job } = await tree(t);
  writeFileSync(join(job, 'grow.txt'), 'abc');
  const f = await opened(t, openJobFile(out, 'job-1', 'grow.txt'));
  t.false(await f.changedSinceOpen());
  t.true((await f.pathNow())?.same);
  appendFileSync(join(job, 'grow.txt'), 'def');
  t.true(await f.changedSinceOpen());
  t.is(await readAll(f), 'abc', 'reads stop at the size checked at open');
});

test('a missing file or job directory is a retryable ENOENT; a file deleted since its row was made says not found', async (t) => {
  const { out } = await tree(t);
  const e = await t.throwsAsync(openJobFile(out, 'job-1', 'not-yet.txt'), { instanceOf: LocalFileError });
  t.like(e, { code: 'ENOENT', retryable: true });
  t.regex(e?.message ?? '', /file not-yet\.txt: not found/);
  const e2 = await t.throwsAsync(openJobFile(out, 'no-such-job', 'a.txt'), { instanceOf: LocalFileError });
  t.like(e2, { code: 'ENOENT', retryable: true });
  t.regex(e2?.message ?? '', /job directory .*no-such-job: not found/);
});

test('.. segments, absolute names and unsafe job ids are refused before any file system access', async (t) => {
  const { out } = await tree(t);
  for (const name of ['../outside/secret.txt', '../../outside/secret.txt', 'a/../../outside/secret.txt', '/etc/passwd', '', './a.txt']) {
    await refusal(t, openJobFile(out, 'job-1', name), /original_filename/, name);
  }
  for (const id of ['..', '.', 'a/b', '', '../outside']) {
    await refusal(t, openJobFile(out, id, 'secret.txt'), /job id .* cannot be a directory name under watch\.output_dir/, id);
  }
});

test('a link as the file is never followed, wherever it points (outside, a sibling job, inside the job)', async (t) => {
  const { out, job, outside } = await tree(t);
  symlinkSync(join(outside, 'secret.txt'), join(job, 'escape.txt'));
  symlinkSync('../../outside/secret.txt', join(job, 'climb.txt'));
  mkdirSync(join(out, 'job-2'));
  writeFileSync(join(out, 'job-2', 'theirs.txt'), 'other job');
  symlinkSync(join(out, 'job-2', 'theirs.txt'), join(job, 'theirs.txt'));
  writeFileSync(join(job, 'real.txt'), 'real');
  symlinkSync('real.txt', join(job, 'alias.txt'));
  for (const name of ['escape.txt', 'climb.txt', 'theirs.txt', 'alias.txt']) {
    await refusal(t, openJobFile(out, 'job-1', name), /is a symbolic link \(links are never followed\)/, name);
  }
  symlinkSync('loop-b', join(job, 'loop-a'));
  symlinkSync('loop-a', join(job, 'loop-b'));
  await refusal(t, openJobFile(out, 'job-1', 'loop-a'), /symbolic link/);
});

test('a linked directory on the way is never followed: the real path of the descriptor must be the name itself', async (t) => {
  const { out, job, outside } = await tree(t);
  symlinkSync(outside, join(job, 'sub'));
  await refusal(t, openJobFile(out, 'job-1', 'sub/secret.txt'), /sub\/secret\.txt resolves to .*outside\/secret\.txt, outside the job directory/);
  mkdirSync(join(job, 'real-dir'));
  writeFileSync(join(job, 'real-dir', 'ok.txt'), 'ok');
  symlinkSync('real-dir', join(job, 'inner'));
  await refusal(t, openJobFile(out, 'job-1', 'inner/ok.txt'), /inner\/ok\.txt is reached through a symbolic link/);
  t.is((await opened(t, openJobFile(out, 'job-1', 'real-dir/ok.txt'))).size, 2);
});

test('the job directory: a link out of output_dir is refused (nothing read); a link within output_dir is its real place', async (t) => {
  const { root, out, outside } = await tree(t);
  symlinkSync(outside, join(out, 'job-x'));
  await refusal(t, openJobFile(out, 'job-x', 'secret.txt'), /job directory .*job-x resolves to .*outside, outside watch\.output_dir/);
  await refusal(t, resolveJobDir(out, 'job-x'), /outside watch\.output_dir/);
  symlinkSync('.', join(out, 'self'));
  await refusal(t, resolveJobDir(out, 'self'), /outside watch\.output_dir/);
  mkdirSync(join(out, 'archive', 'job-y'), { recursive: true });
  writeFileSync(join(out, 'archive', 'job-y', 'a.txt'), 'archived');
  symlinkSync(join('archive', 'job-y'), join(out, 'job-y'));
  t.is(await resolveJobDir(out, 'job-y'), realpathSync(join(out, 'archive', 'job-y')));
  t.is(await readAll(await opened(t, openJobFile(out, 'job-y', 'a.txt'))), 'archived');
  // output_dir itself may be a link: both sides are resolved.
  symlinkSync(out, join(root, 'out-link'));
  t.is(await readAll(await opened(t, openJobFile(join(root, 'out-link'), 'job-y', 'a.txt'))), 'archived');
});

// What this process holds open below `dir` (a refused open must leave nothing behind).
const openBelow = (dir: string): string[] =>
  readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((p) => p.startsWith(dir + '/'));

test('a cached job directory swapped for a link out of output_dir is still refused: nothing outside is read or kept open', async (t) => {
  const { out, job, outside } = await tree(t);
  writeFileSync(join(job, 'secret.txt'), 'inside');
  const dirs = createJobDirCache({ now: () => 1000 });
  const f = await opened(t, openJobFile(out, 'job-1', 'secret.txt', dirs));
  t.is(await readAll(f), 'inside');
  t.is(dirs.get(out, 'job-1'), realpathSync(job));
  // The job directory is moved away and a link out of output_dir takes its name; the cache still names it.
  renameSync(job, join(out, 'job-1.old'));
  symlinkSync(outside, job);
  const realOutside = realpathSync(outside);
  await refusal(t, openJobFile(out, 'job-1', 'secret.txt', dirs), /job directory .*job-1 resolves to .*outside, outside watch\.output_dir/);
  t.is(dirs.get(out, 'job-1'), undefined, 'the stale entry is forgotten');
  t.deepEqual(openBelow(realOutside), [], 'no descriptor outside is kept');
  // Again with the refused entry gone: the same refusal, from a fresh resolve.
  await refusal(t, openJobFile(out, 'job-1', 'secret.txt', dirs), /outside watch\.output_dir/);
  // A link within output_dir is the job directory's real place: found again once re-resolved.
  unlinkSync(job);
  symlinkSync('job-1.old', job);
  t.is(await readAll(await opened(t, openJobFile(out, 'job-1', 'secret.txt', dirs))), 'inside');
  t.is(dirs.get(out, 'job-1'), realpathSync(join(out, 'job-1.old')));
});

test('a cached job directory expires: a job link pointed elsewhere inside output_dir is followed after ttlMs', async (t) => {
  const { out } = await tree(t);
  for (const d of ['a', 'b']) {
    mkdirSync(join(out, 'archive', d), { recursive: true });
    writeFileSync(join(out, 'archive', d, 'f.txt'), d);
  }
  symlinkSync(join('archive', 'a'), join(out, 'job-y'));
  let now = 1000;
  const dirs = createJobDirCache({ now: () => now, ttlMs: 5000 });
  t.is(await readAll(await opened(t, openJobFile(out, 'job-y', 'f.txt', dirs))), 'a');
  unlinkSync(join(out, 'job-y'));
  symlinkSync(join('archive', 'b'), join(out, 'job-y'));
  // Within the TTL the old real directory (still a real directory inside output_dir) may be used.
  t.is(await readAll(await opened(t, openJobFile(out, 'job-y', 'f.txt', dirs))), 'a');
  now += 5000;
  t.is(await readAll(await opened(t, openJobFile(out, 'job-y', 'f.txt', dirs))), 'b');
});

test('a directory, a FIFO (without waiting for a writer) and a socket are not regular files', async (t) => {
  const { out, job } = await tree(t);
  mkdirSync(join(job, 'pages'));
  await refusal(t, openJobFile(out, 'job-1', 'pages'), /file pages is a directory, not a regular file/);
  execFileSync('mkfifo', [join(job, 'pipe')]);
  await refusal(t, openJobFile(out, 'job-1', 'pipe'), /file pipe is a FIFO, not a regular file/);
  const server = createServer();
  await new Promise<void>((r) => server.listen(join(job, 'sock'), r));
  t.teardown(() => server.close());
  const e = await t.throwsAsync(openJobFile(out, 'job-1', 'sock'), { instanceOf: LocalFileError });
  t.false(e?.retryable ?? true, 'a socket cannot be opened: permanent');
});

test('a name too long for the file system is permanent (ENAMETOOLONG)', async (t) => {
  const { out } = await tree(t);
  const e = await t.throwsAsync(openJobFile(out, 'job-1', `${'n'.repeat(300)}.txt`), { instanceOf: LocalFileError });
  t.like(e, { code: 'ENAMETOOLONG', retryable: false });
  t.regex(e?.message ?? '', /name too long for the file system \(ENAMETOOLONG\)/);
});
