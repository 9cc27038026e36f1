// walkJobDir: the directory walk behind start-up and scheduled scans.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { walkJobDir } from '../../src/local/index.js';
import { createIgnoreMatcher } from '../../src/watch/index.js';
import { makeTempDir } from '../helpers/db.js';
import { bytePath } from '../helpers/files.js';

const DEFAULT_IGNORE = createIgnoreMatcher(['**/*.tmp', '**/*.part', '**/.*']);

test('nested files with /-separated relative paths and their sizes; ignored files and folders skipped', async (t) => {
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
  const tree = await walkJobDir(dir, DEFAULT_IGNORE);
  t.deepEqual(tree.files.map((f) => [f.relPath, f.size]).sort(), [
    ['a.txt', 1],
    ['pages/deep/er/p.bin', 6],
    ['pages/p-001.png', 5],
  ]);
  t.true(tree.files.every((f) => f.mtimeMs > 0));
  t.deepEqual(tree.badNames, []);
  t.deepEqual(tree.dirLinks, []);
  t.deepEqual(tree.unreadable, []);
});

test('links are never followed: a link to a file is listed (the upload refuses it, visibly); a link to a directory is reported apart', async (t) => {
  const root = makeTempDir(t, 'bds-walk-');
  const dir = join(root, 'job');
  mkdirSync(join(dir, 'inner'), { recursive: true });
  mkdirSync(join(root, 'outside'));
  writeFileSync(join(root, 'outside', 'secret.txt'), 'secret');
  writeFileSync(join(dir, 'real.txt'), 'real');
  writeFileSync(join(dir, 'inner', 'x.txt'), 'x');
  symlinkSync(join(root, 'outside', 'secret.txt'), join(dir, 'escape.txt'));
  symlinkSync(join(root, 'nowhere'), join(dir, 'dangling'));
  symlinkSync(join(root, 'outside'), join(dir, 'linked-dir'));
  symlinkSync('inner', join(dir, 'alias-dir'));
  execFileSync('mkfifo', [join(dir, 'pipe')]);
  const tree = await walkJobDir(dir, DEFAULT_IGNORE);
  t.deepEqual(tree.files.map((f) => f.relPath).sort(), ['dangling', 'escape.txt', 'inner/x.txt', 'pipe', 'real.txt']);
  t.deepEqual(tree.dirLinks.sort(), ['alias-dir', 'linked-dir']);
  t.false(tree.files.some((f) => f.relPath.startsWith('linked-dir/') || f.relPath.startsWith('alias-dir/')));
});

test('names that are not valid UTF-8 are reported escaped (directories with a trailing /), never dropped', async (t) => {
  const dir = join(makeTempDir(t, 'bds-walk-'), 'job');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'ok.txt'), 'ok');
  writeFileSync(bytePath(dir, Buffer.from('caf\xe9.txt', 'latin1')), 'x');
  writeFileSync(bytePath(dir, 'sub', Buffer.from([0x61, 0xff])), 'x');
  mkdirSync(bytePath(dir, Buffer.from([0x64, 0xfe])));
  writeFileSync(bytePath(dir, Buffer.from([0x64, 0xfe]), 'inner.txt'), 'x');
  // Ignored names stay ignored, whatever their bytes.
  writeFileSync(bytePath(dir, Buffer.from('draft\xe9.tmp', 'latin1')), 'x');
  const tree = await walkJobDir(dir, DEFAULT_IGNORE);
  t.deepEqual(
    tree.files.map((f) => f.relPath),
    ['ok.txt'],
  );
  t.deepEqual(tree.badNames.sort(), ['caf\\xE9.txt', 'd\\xFE/', 'sub/a\\xFF']);
});

test('a missing job directory is an empty tree', async (t) => {
  const root = makeTempDir(t, 'bds-walk-');
  t.deepEqual(await walkJobDir(join(root, 'no-such-job'), DEFAULT_IGNORE), { files: [], badNames: [], dirLinks: [], unreadable: [] });
});

test('the walk and the ignore matcher agree on paths relative to the job directory', async (t) => {
  const dir = join(makeTempDir(t, 'bds-walk-'), 'job');
  mkdirSync(join(dir, 'pages'), { recursive: true });
  writeFileSync(join(dir, 'pages', 'p.png'), 'p');
  writeFileSync(join(dir, 'pages', 'p.bak'), 'b');
  writeFileSync(join(dir, 'p.bak'), 'top');
  const tree = await walkJobDir(dir, createIgnoreMatcher(['pages/*.bak']));
  t.deepEqual(tree.files.map((f) => f.relPath).sort(), ['p.bak', 'pages/p.png']);
});
