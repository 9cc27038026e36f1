// watch.ignore globs: what is never uploaded, and nothing more.
import test from 'ava';
import { createIgnoreMatcher, globToRegExp } from '../../src/watch/index.js';

const DEFAULT_IGNORE = ['**/*.tmp', '**/*.part', '**/.*'];

test('globToRegExp: ** spans whole segments, * and ? stay inside one segment', (t) => {
  const tmp = globToRegExp('**/*.tmp');
  t.true(tmp.test('a.tmp'));
  t.true(tmp.test('x/y/a.tmp'));
  t.true(tmp.test('.tmp'), 'an empty base name before the extension still matches *');
  t.false(tmp.test('a.tmpx'));
  t.false(tmp.test('a.tmp/b'), 'the pattern itself matches a full path only');
  t.false(tmp.test('atmp'), 'the dot is literal');

  const q = globToRegExp('p-?.png');
  t.true(q.test('p-1.png'));
  t.true(q.test('deep/dir/p-9.png'), 'a pattern without / matches the base name at any depth');
  t.false(q.test('p-10.png'));
  t.false(q.test('p-/.png'), '? never matches a slash');

  const anchored = globToRegExp('pages/*.png');
  t.true(anchored.test('pages/p.png'));
  t.false(anchored.test('x/pages/p.png'), 'a pattern with / is anchored');
  t.false(anchored.test('pages/sub/p.png'), '* does not cross a slash');
  t.true(globToRegExp('./pages/*.png').test('pages/p.png'), 'a leading ./ is dropped');

  const below = globToRegExp('cache/**');
  t.true(below.test('cache/a'));
  t.true(below.test('cache/a/b/c'));
  t.false(below.test('cachex/a'));
});

test('globToRegExp: regex metacharacters in a pattern are literal', (t) => {
  const re = globToRegExp('a+b(1)[x]{2}$^|.txt');
  t.true(re.test('a+b(1)[x]{2}$^|.txt'));
  t.false(re.test('aab(1)[x]{2}$^|.txt'));
  t.false(re.test('a+b1x2.txt'));
});

test('createIgnoreMatcher with the default patterns: temp files, partial files and dotfiles at any depth', (t) => {
  const ignored = createIgnoreMatcher(DEFAULT_IGNORE);
  for (const p of ['draft.tmp', 'pages/p-001.png.tmp', 'a/b/c/d.part', 'x.part', '.hidden', 'pages/.DS_Store', 'a/.git/config']) {
    t.true(ignored(p), p);
  }
  for (const p of ['a.tmpx', 'a.tmp.png', 'tmp', 'part', 'a.partial', 'pages/p-001.png', 'notes.txt', 'a.b/c.txt', 'x/y.z/w']) {
    t.false(ignored(p), p);
  }
});

test('createIgnoreMatcher: a matching parent folder ignores everything below it', (t) => {
  const ignored = createIgnoreMatcher(DEFAULT_IGNORE);
  t.true(ignored('.cache/inside.txt'));
  t.true(ignored('pages/.thumbs/a/b/c.png'));
  t.true(ignored('work.tmp/result.png'), 'a directory named *.tmp hides its files');
  t.false(ignored('pages/thumbs/c.png'));

  const byName = createIgnoreMatcher(['scratch']);
  t.true(byName('scratch'));
  t.true(byName('scratch/a.txt'));
  t.true(byName('deep/scratch/a.txt'));
  t.false(byName('scratchpad/a.txt'));
  t.false(byName('my-scratch/a.txt'));
});

test('createIgnoreMatcher: no patterns ignores nothing; *.part without a slash matches at every depth', (t) => {
  const none = createIgnoreMatcher([]);
  t.false(none('.hidden'));
  t.false(none('a.tmp'));
  const part = createIgnoreMatcher(['*.part']);
  t.true(part('a.part'));
  t.true(part('x/y/a.part'));
  t.false(part('a.part.png'));
  t.false(part('x.partx/y.png'));
});
