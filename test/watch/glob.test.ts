// watch.ignore globs: what is never uploaded, and nothing more.
import test from 'ava';
import { createIgnoreMatcher, globMatcher } from '../../src/watch/index.js';

const DEFAULT_IGNORE = ['**/*.tmp', '**/*.part', '**/.*'];

test('globMatcher: ** spans whole segments, * and ? stay inside one segment', (t) => {
  const tmp = globMatcher(['**/*.tmp']);
  t.true(tmp('a.tmp'));
  t.true(tmp('x/y/a.tmp'));
  t.true(tmp('.tmp'), 'an empty base name before the extension still matches *');
  t.false(tmp('a.tmpx'));
  t.false(tmp('a.tmp/b'), 'the pattern itself matches a full path only');
  t.false(tmp('atmp'), 'the dot is literal');

  const q = globMatcher(['p-?.png']);
  t.true(q('p-1.png'));
  t.true(q('deep/dir/p-9.png'), 'a pattern without / matches the base name at any depth');
  t.false(q('p-10.png'));
  t.false(q('p-/.png'), '? never matches a slash');

  const anchored = globMatcher(['pages/*.png']);
  t.true(anchored('pages/p.png'));
  t.false(anchored('x/pages/p.png'), 'a pattern with / is anchored');
  t.false(anchored('pages/sub/p.png'), '* does not cross a slash');
  t.true(globMatcher(['./pages/*.png'])('pages/p.png'), 'a leading ./ is dropped');

  const below = globMatcher(['cache/**']);
  t.true(below('cache/a'));
  t.true(below('cache/a/b/c'));
  t.false(below('cachex/a'));
});

test('globMatcher: braces, character classes and extglobs work as in a shell (they only partly did before picomatch)', (t) => {
  const braces = globMatcher(['*.{tmp,part}']);
  t.true(braces('a.tmp'));
  t.true(braces('deep/b.part'));
  t.false(braces('c.tmpart'));
  t.false(braces('d.txt'));
  const cls = globMatcher(['[._]*']);
  t.true(cls('.hidden'));
  t.true(cls('_draft.txt'));
  t.true(cls('sub/_x'), 'by base name at any depth');
  t.false(cls('a_b.txt'));
  const ext = globMatcher(['*.+(bak|orig)']);
  t.true(ext('x.bak') && ext('y.orig'));
  t.false(ext('z.txt'));
  const literal = globMatcher(['a+b$^.txt']);
  t.true(literal('a+b$^.txt'), 'regex metacharacters that are not glob syntax stay literal');
  t.false(literal('aab$^.txt'));
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
