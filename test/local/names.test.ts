// Names from outside: job ids, original_filename values and directory entries as bytes.
import test from 'ava';
import { checkJobId, checkRelativeName, escapeName, isSafeJobId, jobIdProblem, LocalFileError, utf8Name } from '../../src/local/index.js';

test('job ids: one plain directory name only, with the reason for each refusal', (t) => {
  for (const id of ['job-1', 'a', '..a', 'a..', 'job 1', 'résumé', 'a.b', '-x', '...']) t.true(isSafeJobId(id), id);
  const refused: [string, RegExp][] = [
    ['', /empty/],
    ['.', /"\."/],
    ['..', /"\.\."/],
    ['a/b', /path separator/],
    ['../wide', /path separator/],
    ['/abs', /path separator/],
    ['a\\b', /path separator/],
    ['a\0b', /NUL/],
    ['x'.repeat(256), /255 bytes/],
  ];
  for (const [id, why] of refused) {
    t.false(isSafeJobId(id), JSON.stringify(id));
    t.regex(checkJobId(id) ?? '', why, JSON.stringify(id));
  }
  t.is(jobIdProblem('job-1'), null);
  t.is(jobIdProblem('../wide'), 'job id "../wide" contains a path separator: it cannot be a directory name under watch.output_dir');
  // Shown escaped: a NUL or an escape sequence never reaches a terminal raw.
  t.is(jobIdProblem('a\0b'), 'job id "a\\x00b" contains a NUL byte: it cannot be a directory name under watch.output_dir');
});

test('original_filename: relative, /-separated, no empty, . or .. segments, no NUL', (t) => {
  for (const n of ['a.txt', 'pages/p-001.png', 'a b/c d.txt', '..a/b..', 'a\\b.txt', '.hidden', 'x/.y/z']) t.is(checkRelativeName(n), null, n);
  t.regex(checkRelativeName('') ?? '', /empty/);
  t.regex(checkRelativeName('a\0b') ?? '', /NUL/);
  t.regex(checkRelativeName('/etc/passwd') ?? '', /absolute/);
  for (const n of ['../x', 'a/../b', 'a/..', '..', './a', 'a/./b', 'a//b', 'a/', 'a/b/']) {
    t.regex(checkRelativeName(n) ?? '', /segment/, n);
  }
});

test('escapeName: valid UTF-8 kept; invalid bytes and control characters as \\xNN', (t) => {
  t.is(escapeName(Buffer.from('café-日本.txt')), 'café-日本.txt');
  t.is(escapeName(Buffer.from('caf\xe9.txt', 'latin1')), 'caf\\xE9.txt');
  t.is(escapeName(Buffer.from([0x61, 0xff, 0xfe, 0x62])), 'a\\xFF\\xFEb');
  // A valid sequence next to a broken one survives whole.
  t.is(escapeName(Buffer.concat([Buffer.from('é'), Buffer.from([0xc3]), Buffer.from('x')])), 'é\\xC3x');
  t.is(escapeName('clear\x1b[2J.txt'), 'clear\\x1B[2J.txt');
  t.is(escapeName('tab\there\u009b'), 'tab\\x09here\\x9B');
  t.is(utf8Name(Buffer.from('ok.txt')), 'ok.txt');
  t.is(utf8Name(Buffer.from([0x64, 0xff])), null);
});

test('LocalFileError: one rule: ENOENT and other transient codes retry, refusals and the rest are permanent', (t) => {
  for (const code of ['ENOENT', 'changed', 'EIO', 'EMFILE', 'EAGAIN', 'EBUSY']) t.true(new LocalFileError('x', code).retryable, code);
  for (const code of ['refused', 'ENAMETOOLONG', 'EACCES', 'EPERM', 'ENOTDIR', 'ELOOP', 'ENOPROC']) t.false(new LocalFileError('x', code).retryable, code);
});
