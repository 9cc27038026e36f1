import crypto from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import test from 'ava';
import { userToken, withEmulator } from '../helpers/emulator.js';

const MIB = 1024 * 1024;

/** `total` bytes of a repeating pattern, generated on the fly (never whole in memory). */
function generated(total: number, block: Buffer): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(block.length, total - sent);
      sent += n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
}

test('a 300 MiB multipart upload streams to disk: RSS stays flat', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const total = 300 * MIB;
  const block = crypto.randomBytes(MIB);
  const expected = crypto.createHash('md5');
  for (let i = 0; i < 300; i++) expected.update(block);

  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  t.teardown(() => clearInterval(sampler));

  const boundary = 'mem-test-boundary';
  const head = Buffer.from(
    `--${boundary}\r\ncontent-type: application/json\r\n\r\n{"name":"big.bin"}\r\n--${boundary}\r\ncontent-type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--`);
  const body = Readable.from(
    (async function* () {
      yield head;
      for await (const chunk of generated(total, block)) yield chunk as Buffer;
      yield tail;
    })(),
  );
  const answer = await new Promise<{ status: number; json: any }>((resolve, reject) => {
    const req = http.request(`${emu.url}/upload/drive/v3/files?uploadType=multipart&fields=id,size,md5Checksum`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': `multipart/related; boundary=${boundary}`,
        'content-length': String(head.length + total + tail.length),
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    pipeline(body, req).catch(reject);
  });
  clearInterval(sampler);
  t.is(answer.status, 200);
  t.is(answer.json.size, String(total));
  t.is(answer.json.md5Checksum, expected.digest('hex'));
  const growthMb = (peak - before) / MIB;
  t.log(`RSS growth during upload: ${growthMb.toFixed(1)} MB`);
  t.true(growthMb < 100, `RSS grew by ${growthMb.toFixed(1)} MB`);
  t.is(emu.stats().bytesReceived, total);
});
