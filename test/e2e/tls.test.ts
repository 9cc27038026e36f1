// The daemon end to end over TLS: the built CLI against the emulator in HTTPS mode with a private
// CA, trusted only through NODE_EXTRA_CA_CERTS (what an operator sets for a TLS stand-in).
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { assertExactlyOnce, setupE2E, utcDate } from '../helpers/e2e.js';

test('sync --once over TLS: small (multipart) and large (resumable) files exactly once', async (t) => {
  const e = await setupE2E(t, { tls: true, resumableThresholdBytes: 1024 * 1024, chunkSizeBytes: 256 * 1024 });
  t.regex(e.emu.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  await e.addJob('job-tls', { status: 'completed' });
  const files = [
    { job: 'job-tls', rel: 'small.txt', content: 'over TLS\n' },
    { job: 'job-tls', rel: 'large.bin', content: randomBytes(1024 * 1024 + 300 * 1024) },
  ];
  for (const f of files) e.writeFile(f.job, f.rel, f.content);
  const r = await e.cli(['sync', '--once']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /uploaded 2, failed rows 0, pending rows 0/);
  await assertExactlyOnce(t, e, files, (job) => `batch/${utcDate()}/${job}`);
  const req = e.emu.stats().requests;
  t.is(req['POST /upload/drive/v3/files?uploadType=resumable']?.['200'], 1);
  t.is(req['PUT resumable']?.['200'], 1);
  t.is(req['POST /upload/drive/v3/files?uploadType=multipart']?.['200'], 1);
});
