// The Drive file's modifiedTime is the local file's mtime (from the open descriptor), on create
// and on a new revision, multipart and resumable alike, as rclone sends it.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { setupE2E } from '../helpers/e2e.js';

const MiB = 1024 * 1024;

test('modifiedTime in Drive is the local mtime: create and update, multipart and resumable', async (t) => {
  const e = await setupE2E(t, { resumableThresholdBytes: MiB, chunkSizeBytes: 256 * 1024 });
  await e.addJob('mt');
  const times = { 'small.txt': '2021-05-06T07:08:09.123Z', 'big.bin': '2020-01-02T03:04:05.678Z' } as const;
  const write = (rel: keyof typeof times, content: string | Buffer, at: string) => {
    const p = e.writeFile('mt', rel, content);
    // touch sets the exact nanoseconds (utimes() takes float seconds: .123 may land at .122999…).
    execFileSync('touch', ['-m', '-d', at, p]);
  };
  write('small.txt', 'small', times['small.txt']);
  write('big.bin', randomBytes(2 * MiB + 5), times['big.bin']);
  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 0, r.stdout + r.stderr);
  const modified = () => Object.fromEntries(e.driveFiles().map((f) => [f.name, f.modifiedTime]));
  t.deepEqual(modified(), times);

  // New revisions (same Drive ids) carry the new mtimes.
  const next = { 'small.txt': '2022-02-03T04:05:06.789Z', 'big.bin': '2023-03-04T05:06:07.891Z' } as const;
  write('small.txt', 'small, changed', next['small.txt']);
  write('big.bin', randomBytes(2 * MiB + 9), next['big.bin']);
  const ids = e
    .driveFiles()
    .map((f) => f.id)
    .sort();
  const r2 = await e.cli(['sync', '--once']);
  t.is(r2.code, 0, r2.stdout + r2.stderr);
  t.deepEqual(
    e
      .driveFiles()
      .map((f) => f.id)
      .sort(),
    ids,
    'same files, new revisions',
  );
  t.deepEqual(modified(), next);
});
