// Partial-chunk fault: Drive may keep only part of a chunk (whole 256 KiB blocks), so the Range a
// client learns can end inside the chunk it sent. Raw protocol first, then the daemon's uploader.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import test from 'ava';
import { RetryableDriveError, type UploadCheckpoint, type UploadRequest } from '../../src/drive/index.js';
import { api, md5, userToken, withEmulator } from '../helpers/emulator.js';
import { ROOT_ID, setup, writeRandomFile } from '../helpers/drive.js';

const KIB256 = 256 * 1024;
const MIB = 1024 * 1024;

async function start(emu: Parameters<typeof api>[0], token: string, total: number): Promise<string> {
  const res = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=resumable', { name: 'p.bin' }, { 'x-upload-content-length': String(total) });
  return res.headers.get('location') as string;
}

const lastByte = (range: string | null): number => Number(/^bytes=0-(\d+)$/.exec(range ?? '')?.[1] ?? -1);

test('partialChunkAnswer reset: the chunk is cut after whole blocks, the status query answers the mid-chunk Range', async (t) => {
  const emu = await withEmulator(t, { faults: { partialChunkRate: 1, seed: 11 } });
  const token = await userToken(emu);
  const data = Buffer.alloc(4 * KIB256 + 100, 7);
  const loc = await start(emu, token, data.length);
  const chunk = data.subarray(0, 4 * KIB256);
  const cut = await api(emu, null, 'PUT', loc, new Uint8Array(chunk), { 'content-range': `bytes 0-${chunk.length - 1}/${data.length}` }).then(
    (r) => r.status,
    () => 'reset',
  );
  t.is(cut, 'reset');
  const status = await api(emu, null, 'PUT', loc, '', { 'content-range': `bytes */${data.length}` });
  t.is(status.status, 308);
  const kept = lastByte(status.headers.get('range')) + 1;
  t.true(kept > 0 && kept < chunk.length, `kept ${kept} of ${chunk.length}`);
  t.is(kept % KIB256, 0, 'whole blocks only');
  t.is(emu.stats().partialChunks, 1);
  t.is(emu.stats().requests['PUT resumable']?.reset, 1);
  // Resume from the mid-chunk offset: the rest is one final chunk (a last chunk is never cut).
  emu.setFaults({ partialChunkRate: 0 });
  const rest = await api(emu, null, 'PUT', loc, new Uint8Array(data.subarray(kept)), { 'content-range': `bytes ${kept}-${data.length - 1}/${data.length}` });
  t.is(rest.status, 200);
  t.is(emu.listFiles()[0]?.md5Checksum, md5(data));
});

test('partialChunkAnswer 308: the whole body is read, only whole blocks before the cut are kept, 308 names them', async (t) => {
  const emu = await withEmulator(t, { faults: { partialChunkRate: 1, partialChunkAnswer: '308', seed: 3 } });
  const token = await userToken(emu);
  const data = Buffer.from(Array.from({ length: 6 * KIB256 }, (_, i) => i % 251));
  const loc = await start(emu, token, data.length);
  let offset = 0;
  const ranges: number[] = [];
  while (offset < data.length) {
    const end = Math.min(offset + 3 * KIB256, data.length) - 1;
    const res = await api(emu, null, 'PUT', loc, new Uint8Array(data.subarray(offset, end + 1)), { 'content-range': `bytes ${offset}-${end}/${data.length}` });
    if (res.status === 200) break;
    t.is(res.status, 308);
    const next = lastByte(res.headers.get('range')) + 1;
    t.true(next > offset && next <= end, `progress inside the chunk: ${offset} -> ${next} (chunk end ${end + 1})`);
    ranges.push(next);
    offset = next;
  }
  t.true(
    ranges.some((r) => r % (3 * KIB256) !== 0),
    `a Range ended inside a chunk: ${ranges.join(',')}`,
  );
  t.is(emu.listFiles()[0]?.md5Checksum, md5(data));
  t.true(emu.stats().partialChunks >= 1);
});

test('the daemon resumes from a mid-chunk offset: reset answers (via its checkpoint) and 308 answers (in the same call)', async (t) => {
  for (const answer of ['reset', '308'] as const) {
    const s = await setup(t, {
      emulator: { faults: { partialChunkRate: 1, partialChunkAnswer: answer, seed: 21 } },
      client: { chunkSizeBytes: MIB },
    });
    const [fileId] = await s.drive.reserveIds(1);
    const size = 3 * MIB + 1234;
    const localPath = await writeRandomFile(s.dir, `p-${answer}.bin`, size);
    const offsets: number[] = [];
    let stored: UploadCheckpoint | null = null;
    const req: Omit<UploadRequest, 'file'> = {
      fileId: fileId!,
      name: 'p.bin',
      parentId: ROOT_ID,
      appProperties: { job: 'j' },
      mode: 'create',
      onCheckpoint: async (cp) => {
        stored = cp;
        if (cp) offsets.push(cp.offset);
      },
    };
    let result = null;
    let failures = 0;
    for (let attempt = 0; attempt < 40 && result === null; attempt++) {
      try {
        // Each attempt opens the file afresh, as the daemon's retries do.
        result = await s.drive.upload({ ...req, file: await s.open(localPath), resume: stored });
      } catch (e) {
        t.true(e instanceof RetryableDriveError, String(e));
        failures++;
      }
    }
    const want = createHash('md5')
      .update(await readFile(localPath))
      .digest('hex');
    t.truthy(result, answer);
    t.is(result?.file.md5Checksum, want, answer);
    t.is(result?.md5 ?? want, want);
    t.true(
      offsets.some((o) => o % MIB !== 0),
      `${answer}: resumed from inside a chunk: ${offsets.join(',')}`,
    );
    t.true(s.emu.stats().partialChunks >= 1);
    if (answer === '308') t.is(failures, 0, 'a short 308 is progress, not an error');
    else t.true(failures >= 1);
    t.is(s.emu.listFiles().filter((f) => f.size !== null).length, 1);
  }
});
