// A daemon SIGKILLed mid-upload and restarted on the same host takes its dead predecessor's
// leases back at once and resumes from the stored offset, long before upload.lease_ms (10 min
// here, so waiting it out would fail the test). Leases of other hosts and of live local
// processes are left to expire as before.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import test from 'ava';
import { md5, setupE2E, waitUntil, type LogLine } from '../helpers/e2e.js';

const CHUNK = 256 * 1024;

test('SIGKILL mid resumable upload, restart: the upload resumes from its offset at once; other owners keep their leases', async (t) => {
  const e = await setupE2E(t, { faults: { latencyMs: 100 }, leaseMs: 600_000, resumableThresholdBytes: CHUNK, chunkSizeBytes: CHUNK, concurrency: 2 });
  await e.addJob('big');
  const content = randomBytes(32 * CHUNK);
  e.writeFile('big', 'big.bin', content);
  // Two rows leased by others for the whole test: a daemon on another host, and a live process of this host (this test).
  const leaseUntil = Date.now() + 600_000;
  const others = { 'remote.txt': 'remote.example:4242:0badc0de', 'live.txt': `${hostname()}:${process.pid}:0badc0de` };
  for (const [rel, owner] of Object.entries(others)) {
    e.writeFile('big', rel, rel);
    await e.sql(
      `INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status, attempts, lease_owner, lease_until, next_attempt_at)
       VALUES ('big', ?, 'uploading', 1, ?, ?, 0)`,
      rel,
      owner,
      leaseUntil,
    );
  }

  const d1 = await e.startedDaemon();
  const killedAt = await waitUntil(
    async () => {
      const r = (await e.rows('big')).find((x) => x.original_filename === 'big.bin') as
        { resumable_offset?: number | null; lease_owner: string | null } | undefined;
      return r && (r.resumable_offset ?? 0) > 0 ? r : null;
    },
    60_000,
    'a confirmed chunk of big.bin',
  );
  d1.kill('SIGKILL');
  t.is((await d1.exited).signal, 'SIGKILL');
  const offset = Number(killedAt.resumable_offset);
  t.true(offset < content.length, `killed mid-upload (offset ${offset} of ${content.length})`);
  t.true(killedAt.lease_owner?.startsWith(`${hostname()}:${d1.child.pid}:`), String(killedAt.lease_owner));
  const rowAfterKill = (await e.rows('big')).find((x) => x.original_filename === 'big.bin');
  t.is(rowAfterKill?.upload_status, 'uploading', 'the dead daemon still holds the lease');

  const d2 = e.startDaemon();
  const uploaded = await d2.waitForLog((l: LogLine) => l.json?.message === 'uploaded' && l.json.file === 'big.bin', 60_000);
  t.is(uploaded.json?.resumed, true, 'continued the stored session');
  t.true(Number(uploaded.json?.sent) <= content.length - offset + CHUNK, `sent ${String(uploaded.json?.sent)} bytes after ${offset} were confirmed`);
  const tookBack = d2.lines.findIndex((l) => /took back the leases of a daemon of this host that is gone/.test(String(l.json?.message)));
  t.true(tookBack >= 0, d2.output());
  t.is(d2.lines[tookBack]?.json?.owner, killedAt.lease_owner);
  t.true(tookBack < d2.lines.indexOf(uploaded), 'taken back before the upload finished');

  const rows = await e.rows('big');
  const big = rows.find((x) => x.original_filename === 'big.bin');
  t.is(big?.upload_status, 'uploaded');
  t.is(e.driveFiles().find((f) => f.id === big?.drive_file_id)?.md5Checksum, md5(content));
  t.is(e.driveFiles().length, 1, 'one Drive file');
  for (const [rel, owner] of Object.entries(others)) {
    const r = rows.find((x) => x.original_filename === rel);
    t.like(r, { upload_status: 'uploading', lease_owner: owner }, `${rel} keeps its lease`);
  }
  d2.kill('SIGTERM');
  t.is((await d2.exited).code, 0);
});
