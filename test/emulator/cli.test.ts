import { PassThrough } from 'node:stream';
import test from 'ava';
import { parseEmulatorArgs, runEmulatorCli } from '../../src/emulator/index.js';

test('parseEmulatorArgs maps every flag', (t) => {
  t.deepEqual(
    parseEmulatorArgs([
      '--host',
      '0.0.0.0',
      '--port',
      '8080',
      '--data',
      '/tmp/x',
      '--root-folder',
      'R1',
      '--shared-drive=D1',
      '--write-quota',
      '3',
      '--rate-limit-status',
      '429',
      '--daily-cap-bytes',
      '1000',
      '--storage-quota-bytes',
      '5000',
      '--error-rate',
      '0.1',
      '--reset-rate',
      '0.05',
      '--latency-ms',
      '20',
      '--seed',
      '9',
      '--short-page-rate',
      '0.5',
      '--partial-chunk-rate=0.25',
      '--partial-chunk-answer',
      '308',
    ]),
    {
      host: '0.0.0.0',
      port: 8080,
      dataDir: '/tmp/x',
      rootFolderId: 'R1',
      sharedDriveId: 'D1',
      faults: {
        writeQuotaPerSec: 3,
        rateLimitStatus: 429,
        dailyUploadCapBytes: 1000,
        storageQuotaBytes: 5000,
        error5xxRate: 0.1,
        resetRate: 0.05,
        latencyMs: 20,
        seed: 9,
        shortPageRate: 0.5,
        partialChunkRate: 0.25,
        partialChunkAnswer: '308',
      },
    },
  );
  t.deepEqual(parseEmulatorArgs([]), {});
});

test('parseEmulatorArgs rejects bad flags with a clear message', (t) => {
  t.throws(() => parseEmulatorArgs(['--port', 'abc']), { message: /--port expects a port number/ });
  t.throws(() => parseEmulatorArgs(['--port', '70000']), { message: /--port/ });
  t.throws(() => parseEmulatorArgs(['--error-rate', '1.5']), { message: /--error-rate expects a number between 0 and 1/ });
  t.throws(() => parseEmulatorArgs(['--rate-limit-status', '500']), { message: /403 or 429/ });
  t.throws(() => parseEmulatorArgs(['--data']), { message: /--data needs a value/ });
  t.throws(() => parseEmulatorArgs(['--bogus', '1']), { message: /unknown flag --bogus/ });
  t.throws(() => parseEmulatorArgs(['--partial-chunk-answer', 'drop']), { message: /--partial-chunk-answer expects reset or 308, got "drop"/ });
  t.throws(() => parseEmulatorArgs(['--short-page-rate', '-1']), { message: /--short-page-rate expects a number between 0 and 1/ });
  t.throws(() => parseEmulatorArgs(['serve']), { message: /unexpected argument "serve"/ });
});

test('runEmulatorCli prints the base URL on its own line when ready', async (t) => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const emu = await runEmulatorCli(['--port', '0', '--seed', '3'], out);
  t.teardown(() => emu.close());
  t.is(text, `${emu.url}\n`);
  const res = await fetch(`${emu.url}/__emulator/faults`);
  t.is(((await res.json()) as { seed: number }).seed, 3);
});
