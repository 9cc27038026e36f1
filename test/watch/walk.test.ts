// walkJobDir: the directory walk behind start-up and scheduled scans.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { createIgnoreMatcher, walkJobDir } from '../../src/watch/index.js';
import { makeTempDir } from '../helpers/db.js';

const DEFAULT_IGNORE = createIgnoreMatcher(['**/*.tmp', '**/*.part', '**/.*']);

test('walkJobDir: nested files with /-separated relative paths and their sizes; ignored files and folders skipped', async (t) => {
  const dir = join(makeTempDir(t, 'bds-walk-'), 'job');
  const put = (rel: string, content: string) => {
    const p = join(dir, ...rel.split('/'));
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, content);
  };
  put('a.txt', 'a');
  put('pages/p-001.png', 'png-1');
  put('pages/deep/er/p.bin', '123456');
  put('draft.tmp', 'x');
  put('pages/upload.part', 'x');
  put('.hidden', 'x');
  put('.cache/inside.txt', 'x');
  put('pages/.thumbs/t.png', 'x');
  mkdirSync(join(dir, 'empty-dir'));
  const files = await walkJobDir(dir, DEFAULT_IGNORE);
  t.deepEqual(
    files.map((f) => [f.relPath, f.size, f.symlink]).sort(),
    [
      ['a.txt', 1, false],
      ['pages/deep/er/p.bin', 6, false],
      ['pages/p-001.png', 5, false],
    ],
  );
  t.true(files.every((f) => f.mtimeMs > 0));
});

test('walkJobDir: symlinks are reported (symlink: true), never followed', async (t) => {
  const root = makeTempDir(t, 'bds-walk-');
  const dir = join(root, 'job');
  mkdirSync(dir);
  mkdirSync(join(root, 'outside'));
  writeFileSync(join(root, 'outside', 'secret.txt'), 'secret');
  writeFileSync(join(dir, 'real.txt'), 'real');
  symlinkSync(join(root, 'outside', 'secret.txt'), join(dir, 'escape.txt'));
  symlinkSync(join(root, 'outside'), join(dir, 'linked-dir'));
  const files = await walkJobDir(dir, DEFAULT_IGNORE);
  const by = new Map(files.map((f) => [f.relPath, f]));
  t.is(by.get('real.txt')?.symlink, false);
  t.is(by.get('escape.txt')?.symlink, true);
  t.is(by.get('linked-dir')?.symlink, true, 'a symlinked directory is reported as a link, not walked');
  t.false(by.has('linked-dir/secret.txt'));
  t.is(files.length, 3);
});

test('walkJobDir: a missing job directory is an empty list', async (t) => {
  const root = makeTempDir(t, 'bds-walk-');
  t.deepEqual(await walkJobDir(join(root, 'no-such-job'), DEFAULT_IGNORE), []);
});

test('walkJobDir and the ignore matcher agree on paths relative to the job directory', async (t) => {
  const dir = join(makeTempDir(t, 'bds-walk-'), 'job');
  mkdirSync(join(dir, 'pages'), { recursive: true });
  writeFileSync(join(dir, 'pages', 'p.png'), 'p');
  writeFileSync(join(dir, 'pages', 'p.bak'), 'b');
  writeFileSync(join(dir, 'p.bak'), 'top');
  const files = await walkJobDir(dir, createIgnoreMatcher(['pages/*.bak']));
  t.deepEqual(files.map((f) => f.relPath).sort(), ['p.bak', 'pages/p.png']);
});
