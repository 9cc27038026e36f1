// Chaos-style: hostile rows and files mixed into a normal run of the daemon, with Drive faults.
// Every normal file must be uploaded exactly once, every hostile one refused with its reason,
// and no byte of a canary file outside the job directories may ever reach the emulator.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import { makeTempDir } from '../helpers/db.js';
import { countByPath, md5, ROOT_FOLDER_ID, setupE2E, utcDate, waitUntil, type E2E } from '../helpers/e2e.js';
import { driveClient, oauthClient } from '../helpers/emulator.js';
import { bytePath, directoryInodes, filesContaining, inotifyWatchedInodes } from '../helpers/files.js';

const MiB = 1024 * 1024;
const SEED = 1311; // emulator fault sequence; change it to replay another mix

async function insertRow(e: E2E, job: string, name: string, cols: Record<string, unknown> = {}): Promise<void> {
  const row: Record<string, unknown> = { batch_job_id: job, original_filename: name, upload_status: 'pending', ...cols };
  const keys = Object.keys(row);
  await e.sql(`INSERT INTO batch_file_drive_metadata (${keys.join(', ')}) VALUES (${keys.map(() => '?').join(', ')})`, ...Object.values(row));
}

test('hostile rows and files mixed into a normal run: normal files once, hostile ones refused with their reason, no outside byte in Drive', async (t) => {
  t.log(`emulator fault seed ${SEED}`);
  const emuDir = makeTempDir(t, 'bds-emu-');
  let onRequest: (req: IncomingMessage) => void = () => undefined;
  const e = await setupE2E(t, {
    emulatorDataDir: emuDir,
    resumableThresholdBytes: MiB,
    chunkSizeBytes: 256 * 1024,
    stabilityMs: 150,
    scanCron: '* * * * * *',
    faults: { error5xxRate: 0.08, latencyMs: 30, seed: SEED },
    onEmulatorRequest: (req) => onRequest(req),
  });

  // The canary: outside every job directory; its marker must never be stored by the emulator.
  const canaryDir = makeTempDir(t, 'bds-canary-');
  const marker = `CANARY-${randomBytes(8).toString('hex')}-`;
  const canary = join(canaryDir, 'secret.txt');
  writeFileSync(canary, marker.repeat(Math.ceil((3 * MiB) / marker.length)));
  const wide = join(e.outputDir, '..', 'wide');
  mkdirSync(join(wide, 'deep'), { recursive: true });
  writeFileSync(join(wide, 'deep', 'secret.txt'), marker);

  // A foreign listener for a stolen session URI, and a stranger's Drive file for a stolen id.
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const foreign = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const stranger = await driveClient(oauthClient(e.emu, 'rt-stranger')).files.create({
    requestBody: { name: 'strangers-report.pdf', parents: [ROOT_FOLDER_ID] },
    media: { mimeType: 'application/pdf', body: Readable.from([Buffer.from("the stranger's own bytes")]) },
    fields: 'id',
  });
  const strangerId = stranger.data.id ?? '';
  const strangerBefore = JSON.stringify(e.emu.listFiles().find((f) => f.id === strangerId));

  // Normal files, in normal jobs and beside the hostile ones.
  const normal: { job: string; rel: string; content: string | Buffer }[] = [];
  const put = (job: string, rel: string, content: string | Buffer) => {
    e.writeFile(job, rel, content);
    normal.push({ job, rel, content });
  };
  const hostile = new Map<string, RegExp>(); // "job/name" -> the reason its row must carry
  for (const job of ['norm-1', 'norm-2', 'latin', 'swap', 'job-x', '../wide', '..', 'a/b']) await e.addJob(job);
  for (let i = 0; i < 6; i++) put('norm-1', i % 2 ? `sub/f-${i}.txt` : `f-${i}.txt`, `norm-1 file ${i} `.repeat(50 + i));
  put('norm-1', 'résumé 日本.txt', 'unicode name');
  put('norm-2', 'big.bin', randomBytes(2 * MiB + 17));
  put('norm-2', 'small.txt', 'small');
  put('latin', 'ok.txt', 'fine name');

  // Traversal names in rows, links to the canary, a linked directory, a FIFO.
  const traversal = relative(join(e.outputDir, 'norm-1'), canary);
  await insertRow(e, 'norm-1', traversal);
  hostile.set(`norm-1/${traversal}`, /"\.\." segment.*refused, never read/);
  await insertRow(e, 'norm-1', canary);
  hostile.set(`norm-1/${canary}`, /is absolute.*refused, never read/);
  symlinkSync(canary, join(e.outputDir, 'norm-1', 'link-out.txt'));
  hostile.set('norm-1/link-out.txt', /is a symbolic link \(links are never followed\); refused, never read/);
  symlinkSync(canaryDir, join(e.outputDir, 'norm-1', 'shared'));
  execFileSync('mkfifo', [join(e.outputDir, 'norm-2', 'pipe')]);
  hostile.set('norm-2/pipe', /is a FIFO, not a regular file; refused, never read/);
  // A stolen session URI (the file itself is fine and must upload) and a stolen Drive id.
  put('norm-2', 'session.txt', 'uploads despite the stolen session');
  await insertRow(e, 'norm-2', 'session.txt', {
    resumable_session_uri: `${foreign}/upload/drive/v3/files?uploadType=resumable&upload_id=stolen`,
    resumable_offset: 3,
  });
  e.writeFile('norm-2', 'steal.txt', 'would overwrite the stranger');
  await insertRow(e, 'norm-2', 'steal.txt', { drive_file_id: strangerId });
  hostile.set('norm-2/steal.txt', /names a Drive file this row did not make.*refused, nothing on Drive was changed/);
  // A job directory that is a link out of output_dir, with the batch system's row for the file.
  symlinkSync(canaryDir, join(e.outputDir, 'job-x'));
  await insertRow(e, 'job-x', 'secret.txt');
  hostile.set('job-x/secret.txt', /job directory .*job-x resolves to .*, outside watch\.output_dir .*; refused, never read/);
  // A name that is not valid UTF-8.
  writeFileSync(bytePath(e.outputDir, 'latin', Buffer.from('caf\xe9.txt', 'latin1')), 'latin-1 name');
  // The file that will be swapped for a link to the canary mid-upload.
  const own = Buffer.alloc(3 * MiB, 'the job wrote this ');
  const swapPath = e.writeFile('swap', 'big.bin', own);
  hostile.set('swap/big.bin', /is a symbolic link \(links are never followed\); refused, never read/);
  // Swapped at an exact point, whatever the machine's load: as the first chunk after a confirmed
  // one (a PUT past offset 0 of this 3 MiB file; the other resumable file is 2 MiB + 17) arrives.
  let swapped = false;
  onRequest = (req) => {
    if (swapped || req.method !== 'PUT' || !/^bytes [1-9]\d*-\d+\/3145728$/.test(req.headers['content-range'] ?? '')) return;
    symlinkSync(canary, `${swapPath}.swap`);
    renameSync(`${swapPath}.swap`, swapPath);
    swapped = true;
  };

  const d = await e.startedDaemon({ timeoutMs: 90_000 });
  await waitUntil(() => swapped, 90_000, 'the swap file to be part-way up');
  // Written while the daemon watches.
  put('norm-1', 'late/after-start.txt', 'written after start');
  writeFileSync(bytePath(e.outputDir, 'latin', Buffer.from([0x6c, 0x61, 0x74, 0x65, 0xff])), 'late bad name');

  const jobs = ['norm-1', 'norm-2', 'latin', 'swap', 'job-x', '../wide', '..', 'a/b'];
  type JobStatus = { jobId: string; driveUploadStatus: string; jobError: string | null };
  const settled = async (): Promise<JobStatus[] | null> => {
    const rows = await e.rows();
    if (rows.some((r) => r.upload_status === 'pending' || r.upload_status === 'uploading')) return null;
    if (!normal.every((n) => rows.some((r) => r.batch_job_id === n.job && r.original_filename === n.rel && r.upload_status === 'uploaded'))) return null;
    if (
      !['swap/big.bin', 'norm-2/pipe', 'norm-1/link-out.txt'].every((k) =>
        rows.some((r) => `${r.batch_job_id}/${r.original_filename}` === k && r.upload_status === 'failed'),
      )
    )
      return null;
    const status = JSON.parse((await e.cli(['status', '--json'])).stdout) as JobStatus[];
    const done = jobs.every((j) => ['completed', 'failed'].includes(status.find((s) => s.jobId === j)?.driveUploadStatus ?? ''));
    return done && /late\\xFF/.test(status.find((s) => s.jobId === 'latin')?.jobError ?? '') ? status : null;
  };
  const status = await waitUntil(settled, 120_000, 'every job to settle', 500);
  const watched = inotifyWatchedInodes(d.child.pid ?? 0);
  d.kill('SIGTERM');
  t.is((await d.exited).code, 0);

  // No byte outside the job directories was read into Drive, and nothing outside was watched.
  t.deepEqual(filesContaining(emuDir, marker), [], 'the canary never reached the emulator');
  const outside = new Set([...directoryInodes(canaryDir), ...directoryInodes(wide)]);
  t.deepEqual(
    watched.filter((i) => outside.has(i)),
    [],
    'no inotify watch outside output_dir',
  );
  t.deepEqual(seen, [], 'the stolen session URI got no request');
  t.is(JSON.stringify(e.emu.listFiles().find((f) => f.id === strangerId)), strangerBefore, "the stranger's file is untouched");

  // Every normal file exactly once, with its content, in its folder.
  const rows = await e.rows();
  const files = e.driveFiles();
  const problems: string[] = [];
  for (const n of normal) {
    const r = rows.find((x) => x.batch_job_id === n.job && x.original_filename === n.rel);
    const f = files.find((x) => x.id === r?.drive_file_id);
    if (r?.upload_status !== 'uploaded' || f?.md5Checksum !== md5(n.content)) problems.push(`${n.job}/${n.rel}: ${r?.upload_status} ${r?.upload_error ?? ''}`);
    else if (e.folderPath(f.id) !== [`batch/${utcDate()}/${n.job}`, ...n.rel.split('/').slice(0, -1)].join('/'))
      problems.push(`${n.job}/${n.rel}: in ${e.folderPath(f.id)}`);
  }
  t.deepEqual(problems, []);
  t.deepEqual(
    [...countByPath(e)].filter(([, c]) => c > 1),
    [],
    'no file twice',
  );
  // The only other files in Drive: the stranger's, and the swapped file's own bytes (read through the descriptor opened before the swap).
  const known = new Set([...rows.map((r) => r.drive_file_id), strangerId]);
  t.deepEqual(
    files.filter((f) => !known.has(f.id)).map((f) => f.name),
    [],
  );
  const swapRow = rows.find((r) => r.batch_job_id === 'swap');
  for (const f of files.filter((x) => x.id === swapRow?.drive_file_id || x.id === swapRow?.reserved_drive_id)) t.is(f.md5Checksum, md5(own));

  // Every hostile row refused with its reason.
  for (const [key, why] of hostile) {
    const r = rows.find((x) => `${x.batch_job_id}/${x.original_filename}` === key);
    t.is(r?.upload_status, 'failed', key);
    t.regex(r?.upload_error ?? '', why, key);
  }
  t.false(
    rows.some((r) => r.original_filename.startsWith('shared')),
    'the linked directory was not walked',
  );
  t.false(rows.some((r) => r.batch_job_id === '../wide' || r.batch_job_id === '..' || r.batch_job_id === 'a/b'));
  // Job-level refusals, visible in status.
  const job = (id: string) => status.find((s) => s.jobId === id);
  for (const id of ['../wide', '..', 'a/b']) {
    t.is(job(id)?.driveUploadStatus, 'failed', id);
    t.regex(job(id)?.jobError ?? '', /cannot be a directory name under watch\.output_dir/, id);
  }
  t.regex(job('job-x')?.jobError ?? '', /outside watch\.output_dir/);
  t.regex(job('latin')?.jobError ?? '', /2 names are not valid UTF-8.*caf\\xE9\.txt/);
  for (const id of ['norm-1', 'norm-2', 'latin', 'swap', 'job-x']) t.is(job(id)?.driveUploadStatus, 'failed', id);
  // The linked directory was noticed once, not on every scan.
  t.is(d.lines.filter((l) => l.json?.message === 'symbolic link to a directory skipped (links are never followed)').length, 1);
});
