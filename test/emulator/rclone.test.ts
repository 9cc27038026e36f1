// Conformance: rclone (Debian's 1.60), unchanged, against the emulator over TLS. rclone always
// dials www.googleapis.com, so it goes through a CONNECT tunnel to the emulator, which serves a
// certificate for Google's names from a CA made for the test; its token is refreshed at the
// emulator's token endpoint. What rclone reports must match the local files and the emulator's
// state. `.ci/run` installs rclone; without it this test fails (it never skips).
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { md5, withEmulator } from '../helpers/emulator.js';
import { googleCertificate, rclone, rcloneRemote, startTunnel } from '../helpers/rclone.js';

const run = promisify(execFile);
const FOLDER = 'application/vnd.google-apps.folder';

async function rcloneVersion(): Promise<string> {
  try {
    return (await run('rclone', ['version'])).stdout.split('\n')[0]?.trim() ?? '';
  } catch (e) {
    throw new Error(
      `rclone is not installed (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); install it with \`apt-get install -y rclone\` (.ci/run does)`,
      { cause: e },
    );
  }
}

interface Listed {
  Path: string;
  Name: string;
  Size: number;
  ModTime: string;
  IsDir: boolean;
  Hashes?: { md5?: string };
}

test('rclone over TLS: copy, check, list, download, server-side copy, move, delete and about agree with the files and with Drive state', async (t) => {
  t.log(await rcloneVersion());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-rclone-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cert = await googleCertificate(dir);
  // Short pages: rclone must follow nextPageToken through every listing.
  const emu = await withEmulator(t, { tls: { certFile: cert.certFile, keyFile: cert.keyFile }, faults: { shortPageRate: 0.5, seed: 7 } });
  const tunnel = await startTunnel(emu.port);
  t.teardown(() => tunnel.close());
  const remote = rcloneRemote(dir, { caFile: cert.caFile, tunnelUrl: tunnel.url, refreshToken: 'rt-rclone', tokenUrl: `${emu.url}/token` });

  // The local tree: odd names, an empty file, nested folders, and a file big enough for a
  // resumable upload in several 256 KiB chunks.
  const src = path.join(dir, 'src');
  // .125: a time utimes stores exactly (it takes seconds as a double; .123 would become .122999).
  const mtime = new Date('2021-03-04T05:06:07.125Z');
  const files: Record<string, Buffer> = {
    'plain.txt': Buffer.from('hello from rclone\n'),
    'ünïcode ✓ name.txt': Buffer.from('unicode\n'),
    "with space & 'quote'.txt": Buffer.from('spaces\n'),
    'empty.txt': Buffer.alloc(0),
    'nested/deep/data.bin': crypto.randomBytes(100 * 1024),
    'big.bin': crypto.randomBytes(3 * 1024 * 1024 + 123),
  };
  for (const [rel, bytes] of Object.entries(files)) {
    const p = path.join(src, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, bytes);
    fs.utimesSync(p, mtime, mtime);
  }
  const chunked = ['--drive-upload-cutoff', '256k', '--drive-chunk-size', '256k'];

  await rclone(remote, ['mkdir', 'emu:conformance']);
  await rclone(remote, ['copy', ...chunked, src, 'emu:conformance']);
  // big.bin went up as a resumable upload in 13 chunks of 256 KiB: twelve answered 308.
  // (The emulator counts every chunk request as "PUT resumable"; rclone sends them as POST.)
  const resumed = emu.stats().requests['PUT resumable']?.['308'] ?? 0;
  t.is(resumed, 12, JSON.stringify(emu.stats().requests));
  // The expired access token was refreshed at the emulator, and rclone saved the new one.
  t.notRegex(fs.readFileSync(remote.args[1] as string, 'utf8'), /"access_token":"expired"/);

  // rclone's own comparison (size and md5, both directions) finds no difference.
  const check = await rclone(remote, ['check', src, 'emu:conformance']).catch((e: Error) => e);
  t.false(check instanceof Error, check instanceof Error ? check.message : '');

  // Listing: every file once, with the local size, md5 and modification time.
  const listed = JSON.parse(await rclone(remote, ['lsjson', '-R', '--hash', 'emu:conformance'])) as Listed[];
  const listedFiles = listed.filter((f) => !f.IsDir);
  t.deepEqual(listedFiles.map((f) => f.Path).sort(), Object.keys(files).sort());
  for (const f of listedFiles) {
    const local = files[f.Path] as Buffer;
    t.is(f.Size, local.length, f.Path);
    t.is(f.Hashes?.md5, md5(local), f.Path);
    t.is(new Date(f.ModTime).toISOString(), mtime.toISOString(), f.Path);
  }
  t.deepEqual(
    listed
      .filter((f) => f.IsDir)
      .map((f) => f.Path)
      .sort(),
    ['nested', 'nested/deep'],
  );

  // The emulator's own state: one folder per directory, one file per local file, md5s equal.
  const state = emu.listFiles().filter((f) => !f.trashed);
  const root = state.filter((f) => f.name === 'conformance' && f.mimeType === FOLDER);
  t.is(root.length, 1, 'one conformance folder');
  for (const [rel, bytes] of Object.entries(files)) {
    const same = state.filter((f) => f.name === path.basename(rel) && f.mimeType !== FOLDER);
    t.is(same.length, 1, `one ${rel} on Drive`);
    t.is(same[0]?.md5Checksum, md5(bytes), rel);
  }

  // A second copy sends nothing: rclone sees every file already there.
  const uploadsBefore = emu.stats().uploadsCompleted;
  await rclone(remote, ['copy', ...chunked, src, 'emu:conformance']);
  t.is(emu.stats().uploadsCompleted, uploadsBefore, 'nothing re-uploaded');

  // Downloads, whole and ranged.
  t.is(await rclone(remote, ['cat', 'emu:conformance/plain.txt']), 'hello from rclone\n');
  const data = files['nested/deep/data.bin'] as Buffer;
  const slice = await rclone(remote, ['cat', '--offset', '1000', '--count', '16', 'emu:conformance/nested/deep/data.bin'], 'buffer');
  t.deepEqual(slice, data.subarray(1000, 1016));

  // Server-side copy, then a move into a subfolder under a new name.
  await rclone(remote, ['copyto', 'emu:conformance/plain.txt', 'emu:conformance/copy.txt']);
  await rclone(remote, ['moveto', 'emu:conformance/copy.txt', 'emu:conformance/nested/moved.txt']);
  const nested = emu.listFiles().find((f) => f.name === 'nested' && f.mimeType === FOLDER && !f.trashed);
  const moved = emu.listFiles().filter((f) => f.name === 'moved.txt' && !f.trashed);
  t.is(moved.length, 1);
  t.deepEqual(moved[0]?.parents, [nested?.id]);
  t.is(moved[0]?.md5Checksum, md5('hello from rclone\n'));
  t.false(
    emu.listFiles().some((f) => f.name === 'copy.txt' && !f.trashed),
    'the copy was moved, not duplicated',
  );

  // Delete goes to the trash (rclone's default), and the listing no longer shows it.
  await rclone(remote, ['deletefile', 'emu:conformance/nested/moved.txt']);
  t.true(emu.listFiles().find((f) => f.id === moved[0]?.id)?.trashed);
  t.false((await rclone(remote, ['lsf', '-R', 'emu:conformance'])).includes('moved.txt'));

  // about: the quota rclone reads from about.get.
  const about = JSON.parse(await rclone(remote, ['about', '--json', 'emu:'])) as Record<string, number>;
  t.true(typeof about.used === 'number' && about.used >= Object.values(files).reduce((n, b) => n + b.length, 0), JSON.stringify(about));

  // Every tunnel asked for Google's API host.
  t.true(tunnel.connects.length > 0);
  t.true(
    tunnel.connects.every((l) => l.startsWith('CONNECT www.googleapis.com:443 ')),
    tunnel.connects.join('\n'),
  );
});
