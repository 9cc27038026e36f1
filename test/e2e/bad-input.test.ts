// Bad input from the outside world: each ends with a clear error naming the thing, and nothing lost.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { DriveClient } from '../../src/drive/index.js';
import { drainDue, type SyncContext } from '../../src/sync/index.js';
import { md5, setupE2E, utcDate, type E2E } from '../helpers/e2e.js';
import { driveFiles, setupSync } from '../sync/fixtures.js';

test('disk full (SQLITE_FULL) while recording an upload: no crash, a clear error, and the next drain records the file exactly once', async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'full', enabled: true }], captureLogs: true, upload: { lease_ms: 60_000 } });
  // Filler rows so the tables span many packed pages.
  await s.rt.db.exec('CREATE TABLE filler (x TEXT)');
  await s.rt.db.run("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO filler SELECT printf('%080d', i) FROM n");
  const content = 'recorded exactly once';
  s.writeFile('full', 'result.txt', content);
  await s.rt.ctx.store.upsertFile('full', 'result.txt', { size: content.length, mtimeMs: 0 });
  await s.rt.db.run(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status) SELECT 'other', printf('f-%05d', i), 'uploaded' FROM n",
  );

  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => process.off('unhandledRejection', onUnhandled));

  // The disk fills while the bytes are on their way to Drive: VACUUM packs every page and
  // max_page_count (per connection, so on the runtime's own one) forbids a new page, so the row
  // growing by its Drive id, URLs and md5 needs room SQLite no longer has.
  const base = s.rt.ctx.drive;
  let full = false;
  const drive: DriveClient = {
    ...base,
    upload: async (req) => {
      const r = await base.upload(req);
      await s.rt.db.exec('VACUUM');
      const pages = (await s.rt.db.get<{ page_count: number }>('PRAGMA page_count'))?.page_count ?? 0;
      await s.rt.db.get(`PRAGMA max_page_count = ${pages}`);
      full = true;
      return r;
    },
  };
  const ctx: SyncContext = { ...s.rt.ctx, drive };
  const first = await drainDue(ctx, { stopClaiming: new AbortController().signal, abortUploads: new AbortController().signal }).then(
    (sum) => ({ ok: true as const, sum }),
    (e: unknown) => ({ ok: false as const, error: e }),
  );
  t.true(full, 'the upload ran');
  t.true(first.ok, `drainDue must not reject: ${first.ok ? '' : String(first.error)}`);
  t.deepEqual(unhandled, [], 'no unhandled rejection');
  t.is(driveFiles(s.emu).length, 1, 'the bytes reached Drive');
  // A warning when the retry could still be recorded (the page had room for the shorter error
  // text), an error when even that failed: which one depends on how VACUUM packed the pages.
  const errors = s.logs.filter((l) => l.level === 'error' || l.level === 'warning');
  t.true(
    errors.some((l) => /SQLITE_FULL|disk is full/.test(JSON.stringify(l)) && l.job === 'full' && l.file === 'result.txt'),
    `an error line names the job, the file and the full disk: ${JSON.stringify(errors)}`,
  );
  const [stuck] = await s.rows();
  t.not(stuck?.upload_status, 'failed', "a full disk is not the file's fault");
  t.not(stuck?.upload_status, 'uploaded');
  t.truthy(stuck?.reserved_drive_id, 'the reserved Drive id survived');

  // Space again; the lease runs out; the next drain finds the file already in Drive and records it.
  await s.rt.db.get('PRAGMA max_page_count = 1073741823');
  s.advance(61_000);
  const second = await drainDue(s.rt.ctx, { stopClaiming: new AbortController().signal, abortUploads: new AbortController().signal });
  t.like(second, { uploaded: 1, failed: 0 });
  const [row] = await s.rows();
  const files = driveFiles(s.emu);
  t.is(files.length, 1, 'exactly one Drive file');
  t.like(row, { upload_status: 'uploaded', drive_file_id: files[0]?.id, local_md5: md5(content), lease_owner: null });
  t.is(files[0]?.md5Checksum, md5(content));
  t.is(s.emu.stats().bytesReceived, content.length, 'not re-sent');
});

test('corrupt rows from the batch system: valid files still upload, bad names fail naming the file, a bogus status is left alone', async (t) => {
  const e = await setupE2E(t);
  await e.addJob('rows');
  e.writeFile('rows', 'good.txt', 'good');
  e.writeFile('rows', 'scheduled.txt', 'garbage schedule');
  e.writeFile('rows', 'odd-status.txt', 'odd status');
  const insert = (name: string, extra: Record<string, unknown> = {}) => {
    const row: Record<string, unknown> = { batch_job_id: 'rows', original_filename: name, upload_status: 'pending', ...extra };
    const cols = Object.keys(row);
    const vals = Object.values(row);
    return e.sql(`INSERT INTO batch_file_drive_metadata (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, ...vals);
  };
  await insert('odd-status.txt', { upload_status: 'bogus' });
  await insert('');
  await insert('/etc/passwd');
  await insert('scheduled.txt', { next_attempt_at: 'abc' });
  await e.sql("INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status) VALUES ('no-such-job', 'x.txt', 'pending')");

  const r = await e.cli(['sync', '--once'], { timeoutMs: 30_000 });
  t.is(r.code, 1, `failed rows make the pass exit 1\n${r.stdout}${r.stderr}`);
  const rows = await e.rows();
  const by = (job: string, name: string) => rows.find((x) => x.batch_job_id === job && x.original_filename === name);

  t.is(by('rows', 'good.txt')?.upload_status, 'uploaded');
  t.is(
    by('rows', 'scheduled.txt')?.upload_status,
    'uploaded',
    `a garbage next_attempt_at must not hide the file forever: ${JSON.stringify(by('rows', 'scheduled.txt'))}`,
  );

  const empty = by('rows', '');
  t.is(empty?.upload_status, 'failed');
  t.regex(empty?.upload_error ?? '', /original_filename "" is empty; refused/);
  const abs = by('rows', '/etc/passwd');
  t.is(abs?.upload_status, 'failed');
  t.regex(abs?.upload_error ?? '', /"\/etc\/passwd" is absolute.*refused, never read/);

  t.is(by('rows', 'odd-status.txt')?.upload_status, 'bogus', 'an unknown status is not ours to change');
  t.is(by('no-such-job', 'x.txt')?.upload_status, 'pending', 'a row of an unknown job is left alone');
  t.deepEqual(
    e
      .driveFiles()
      .map((f) => f.name)
      .sort(),
    ['good.txt', 'scheduled.txt'],
  );
  t.false(e.emu.listFiles().some((f) => f.name === 'passwd'));

  const st = await e.cli(['status', '--json']);
  t.is(st.code, 0, st.stderr);
  const rep = JSON.parse(st.stdout) as { jobId: string; counts: Record<string, number>; lastErrors: { file: string; error: string }[] }[];
  const job = rep.find((j) => j.jobId === 'rows');
  t.deepEqual(job?.counts, { pending: 0, uploading: 0, uploaded: 2, failed: 2 });
  t.deepEqual(job?.lastErrors.map((x) => x.file).sort(), ['', '/etc/passwd']);
  t.is((await e.cli(['status'])).code, 0);
  await assertDriveFolder(t, e, 'rows');
});

async function assertDriveFolder(t: ExecutionContext, e: E2E, job: string) {
  for (const f of e.driveFiles()) t.is(e.folderPath(f.id), `batch/${utcDate()}/${job}`);
}

function serviceAccountConfig(configPath: string, keyFile: string): string {
  const good = readFileSync(configPath, 'utf8');
  const out = good.replace(/^auth:\n(?: {2}.*\n)+/m, `auth:\n  type: service_account\n  key_file: ${JSON.stringify(keyFile)}\n  subject: user@example.com\n`);
  if (out === good) throw new Error('auth block not found in the e2e config');
  return out;
}

test('unusable service-account key file (a directory, not JSON, missing): check-config and run exit 78 naming auth.key_file and the path, no key text', async (t) => {
  const e = await setupE2E(t);
  const keyText = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC-not-json-key-material\n';
  const notJson = join(e.dir, 'key.pem');
  writeFileSync(notJson, keyText, { mode: 0o600 });
  const truncated = join(e.dir, 'truncated.json');
  writeFileSync(truncated, `{"type":"service_account","client_email":"sa@p.iam.gserviceaccount.com","private_key":"${keyText.replace(/\n/g, '\\n')}`, {
    mode: 0o600,
  });
  const asDir = join(e.dir, 'key-dir.json');
  mkdirSync(asDir);
  const missing = join(e.dir, 'no-such-key.json');
  // (Tests run as root, which reads a chmod 000 file anyway: a directory stands in for "unreadable".)
  chmodSync(notJson, 0o600);
  const cases: [string, RegExp][] = [
    [asDir, /cannot read \(EISDIR\)/],
    [notJson, /not valid JSON/],
    [truncated, /not valid JSON/],
    [missing, /cannot read \(ENOENT\)/],
  ];
  for (const [keyFile, why] of cases) {
    const cfg = join(e.dir, `sa-${cases.findIndex((c) => c[0] === keyFile)}.yaml`);
    writeFileSync(cfg, serviceAccountConfig(e.configPath, keyFile));
    for (const cmd of [['check-config'], ['run']]) {
      const r = await e.cli(cmd, { config: cfg, timeoutMs: 20_000 });
      const out = r.stdout + r.stderr;
      t.is(r.code, 78, `${cmd.join(' ')} with ${keyFile}: ${out}`);
      t.true(r.stderr.includes(`auth.key_file ${keyFile}`), `${cmd.join(' ')} names auth.key_file and the path: ${r.stderr}`);
      t.regex(r.stderr, why, `${cmd.join(' ')}: ${r.stderr}`);
      t.false(/BEGIN PRIVATE KEY|MIIEvQ|key-material/.test(out), `${cmd.join(' ')} printed key text: ${out}`);
    }
  }
  t.deepEqual(e.driveFiles(), []);
});

test('run against a database without batch_jobs exits 78 naming batch_jobs (fresh file, and migrated then dropped)', async (t) => {
  const fresh = await setupE2E(t, { batchJobs: false });
  const r1 = await fresh.cli(['run'], { timeoutMs: 20_000 });
  t.is(r1.code, 78, r1.stderr);
  t.regex(r1.stderr, /batch_jobs/);
  t.regex(r1.stderr, /database\.path|batch\.db/, 'says which database');

  const dropped = await setupE2E(t);
  await dropped.sql('DROP TABLE batch_jobs');
  const r2 = await dropped.cli(['run'], { timeoutMs: 20_000 });
  t.is(r2.code, 78, r2.stderr);
  t.regex(r2.stderr, /no table batch_jobs/);
});
