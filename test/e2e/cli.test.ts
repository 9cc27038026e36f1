// The CLI surface end to end: status, retry, migrate, exit codes, demo, secrets.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { CLI, findSecrets, setupE2E, utcDate } from '../helpers/e2e.js';
import { schemaSnapshot, withRawDb } from '../helpers/db.js';

test('status (text and --json) shows folder URL, counts and last errors; retry --job puts only that job back', async (t) => {
  const e = await setupE2E(t);
  await e.addJob('st-ok');
  await e.addJob('st-bad', { pattern: 'x/{bogus}' });
  await e.addJob('st-bad2', { pattern: 'y/{bogus}' });
  e.writeFile('st-ok', 'a.txt', 'a');
  e.writeFile('st-bad', 'b.txt', 'b');
  e.writeFile('st-bad2', 'c.txt', 'c');
  t.is((await e.cli(['sync', '--once'])).code, 1);

  // By default the finished job is one total line; the failed ones are shown in full.
  const text = await e.cli(['status']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /^st-bad\s+drive=failed\s+job=completed$/m);
  t.regex(text.stdout, /^st-bad2\s+drive=failed/m);
  t.regex(text.stdout, /^ {2}failed b\.txt \(attempt 1\): .*\{bogus\}/m);
  t.notRegex(text.stdout, /^st-ok/m);
  t.regex(text.stdout, /^1 finished job: 1 files, 1 B in Drive \(status --all lists them\)$/m);

  const all = await e.cli(['status', '--all']);
  const folderUrl = String((await e.folderRow('st-ok'))?.drive_folder_url);
  t.regex(folderUrl, /^https:\/\/drive\.google\.com\/drive\/folders\/.+/);
  t.true(all.stdout.includes(`  folder ${folderUrl}\n`));
  t.regex(
    all.stdout,
    /^st-ok\s+drive=completed\s+job=completed\n {2}files {2}1\/1 \(100 %\) {3}pending 0, uploading 0, failed 0\n {2}bytes {2}1 B\/1 B \(100 %\)/m,
  );
  t.notRegex(all.stdout, /finished job/);

  const json = await e.cli(['status', '--all', '--json']);
  t.is(json.code, 0);
  const rep = JSON.parse(json.stdout) as {
    jobId: string;
    folderUrl: string | null;
    driveUploadStatus: string;
    counts: Record<string, number>;
    lastErrors: { file: string; error: string }[];
  }[];
  t.deepEqual(
    rep.map((j) => j.jobId),
    ['st-bad', 'st-bad2', 'st-ok'],
  );
  const ok = rep.find((j) => j.jobId === 'st-ok');
  t.is(ok?.folderUrl, folderUrl);
  t.deepEqual(ok?.counts, { pending: 0, uploading: 0, uploaded: 1, failed: 0 });
  const bad = rep.find((j) => j.jobId === 'st-bad');
  t.is(bad?.driveUploadStatus, 'failed');
  t.is(bad?.lastErrors[0]?.file, 'b.txt');
  t.regex(bad?.lastErrors[0]?.error ?? '', /\{bogus\}/);
  t.deepEqual(
    (JSON.parse((await e.cli(['status', '--json'])).stdout) as { jobId: string }[]).map((j) => j.jobId),
    ['st-bad', 'st-bad2', 'st-ok'],
    '--json lists every job, as --all',
  );

  const one = await e.cli(['status', '--job', 'st-ok', '--json']);
  t.deepEqual(
    (JSON.parse(one.stdout) as { jobId: string }[]).map((j) => j.jobId),
    ['st-ok'],
  );
  const none = await e.cli(['status', '--job', 'no-such-job']);
  t.is(none.code, 1);
  t.regex(none.stderr, /no-such-job/);

  const rt = await e.cli(['retry', '--job', 'st-bad']);
  t.is(rt.code, 0, rt.stderr);
  t.regex(rt.stdout, /^1 failed row\(s\) back to pending/m);
  t.is((await e.rows('st-bad'))[0]?.upload_status, 'pending');
  t.is((await e.rows('st-bad2'))[0]?.upload_status, 'failed', 'the other job is untouched');
  t.is((await e.jobRow('st-bad'))?.drive_upload_status, 'pending');

  // Fix the pattern the operator's way, then the retried row goes through.
  t.is((await e.cli(['enable', 'st-bad', '--pattern', 'fixed/{job_id}'])).code, 0);
  const r = await e.cli(['sync', '--once', '--job', 'st-bad']);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.is((await e.rows('st-bad'))[0]?.upload_status, 'uploaded');
  t.is(e.folderPath((await e.rows('st-bad'))[0]!.drive_file_id!), 'fixed/st-bad');
  t.is((await e.rows('st-bad2'))[0]?.upload_status, 'failed', '--job limits the pass');

  const usage = await e.cli(['retry']);
  t.is(usage.code, 64);
  t.regex(usage.stderr, /--job ID or --all/);
});

test('migrate: applies, is idempotent, --status lists; run refuses an unmigrated database with exit 78', async (t) => {
  const e = await setupE2E(t, { migrate: false });
  const st0 = await e.cli(['migrate', '--status']);
  t.is(st0.code, 0, st0.stderr);
  t.regex(st0.stdout, /^pending\s+001_seed_schema/m);
  t.regex(st0.stdout, /^pending\s+002_daemon_state/m);

  const run = await e.cli(['run'], { timeoutMs: 20_000 });
  t.is(run.code, 78, run.stderr);
  t.regex(run.stderr, /batch-drive-sync migrate/);
  const once = await e.cli(['sync', '--once']);
  t.is(once.code, 78);
  t.regex(once.stderr, /batch-drive-sync migrate/);

  const m = await e.cli(['migrate']);
  t.is(m.code, 0, m.stderr);
  t.regex(m.stdout, /applied 001_seed_schema/);
  t.regex(m.stdout, /applied 002_daemon_state/);
  const again = await e.cli(['migrate']);
  t.is(again.code, 0);
  t.regex(again.stdout, /up to date/);
  const st1 = await e.cli(['migrate', '--status']);
  t.regex(st1.stdout, /^applied\s+001_seed_schema/m);
  t.regex(st1.stdout, /^applied\s+002_daemon_state/m);
  t.notRegex(st1.stdout, /^pending/m);
});

test('migrate on a database without batch_jobs fails clearly and changes nothing', async (t) => {
  const e = await setupE2E(t, { batchJobs: false });
  const before = await withRawDb(e.dbPath, (raw) => schemaSnapshot(raw));
  const r = await e.cli(['migrate']);
  t.not(r.code, 0);
  t.regex(r.stderr, /batch_jobs/);
  t.deepEqual(await withRawDb(e.dbPath, (raw) => schemaSnapshot(raw)), before);
});

test('exit codes: usage 64; bad config 78 naming the key, the YAML error or the missing file', async (t) => {
  const e = await setupE2E(t);
  for (const args of [['frobnicate'], ['sync'], ['sync', '--once', '--bogus'], ['enable'], ['status', 'extra']]) {
    const r = await e.cli(args);
    t.is(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
    t.true(r.stderr.length > 0);
  }
  const none = await e.cli([], { config: null });
  t.is(none.code, 64);

  const good = readFileSync(e.configPath, 'utf8');
  const unknownKey = join(e.dir, 'unknown-key.yaml');
  writeFileSync(unknownKey, good.replace('upload:', 'upload:\n  turbo_mode: true'));
  const r1 = await e.cli(['sync', '--once'], { config: unknownKey });
  t.is(r1.code, 78);
  t.regex(r1.stderr, /upload\.turbo_mode: unknown key/);

  const badValue = join(e.dir, 'bad-value.yaml');
  writeFileSync(badValue, good.replace(/concurrency: \d+/, 'concurrency: -3'));
  const r2 = await e.cli(['run'], { config: badValue });
  t.is(r2.code, 78);
  t.regex(r2.stderr, /upload\.concurrency/);

  const badYaml = join(e.dir, 'bad.yaml');
  writeFileSync(badYaml, 'database: { path: [unclosed\n');
  const r3 = await e.cli(['status'], { config: badYaml });
  t.is(r3.code, 78);
  t.regex(r3.stderr, /invalid YAML/);

  const r4 = await e.cli(['check-config'], { config: join(e.dir, 'missing.yaml') });
  t.is(r4.code, 78);
  t.regex(r4.stderr, /missing\.yaml.*cannot read it/);

  const badPattern = join(e.dir, 'bad-pattern.yaml');
  writeFileSync(badPattern, good.replace(/folder_pattern: .*/, 'folder_pattern: "batch/{when}"'));
  const r5 = await e.cli(['run'], { config: badPattern });
  t.is(r5.code, 78);
  t.regex(r5.stderr, /drive\.folder_pattern.*\{when\}/);

  const ok = await e.cli(['check-config']);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /root folder .* readable/);
});

test('demo: exits 0 within 60 s, prints the Drive tree and every enabled job completed', async (t) => {
  const e = await setupE2E(t);
  const t0 = performance.now();
  const r = await e.cli(['demo'], { config: null, timeoutMs: 60_000 });
  t.log(`demo took ${Math.round(performance.now() - t0)} ms`);
  t.is(r.code, 0, r.stderr.slice(-3000));
  t.regex(r.stdout, /== Drive \(emulator\) tree/);
  t.regex(r.stdout, /^\s+batch\/$/m);
  t.regex(r.stdout, new RegExp(`^\\s+${utcDate()}/$`, 'm'));
  t.regex(r.stdout, /p-001\.png\s+\(\d+ bytes, md5 [0-9a-f]{32}\)/);
  t.regex(r.stdout, /SVG2PPTX-Batches\//);
  const status = r.stdout.slice(r.stdout.indexOf('== batch-drive-sync status'));
  t.regex(status, /job-1001\s+drive=completed/);
  t.regex(status, /job-1002\s+drive=completed/);
  t.notRegex(status, /job-1003\s+drive=/, 'the job without Drive upload is not listed');
  t.deepEqual(findSecrets(r.stdout + r.stderr, ['demo-secret', 'demo-refresh-token']), []);
});

test('secrets: no refresh token, client secret, access token or key in any output, even at debug level and on auth failure', async (t) => {
  const e = await setupE2E(t, { logLevel: 'debug' });
  await e.addJob('sec', { status: 'processing' }); // still running: its directory is watched
  e.writeFile('sec', 'a.txt', 'a');
  const outs: string[] = [];
  const keep = (r: { stdout: string; stderr: string; code: number | null }) => {
    outs.push(r.stdout, r.stderr);
    return r;
  };
  t.is(keep(await e.cli(['check-config'])).code, 0);
  t.is(keep(await e.cli(['sync', '--once'])).code, 0);
  const d = await e.startedDaemon();
  e.writeFile('sec', 'b.txt', 'b');
  await d.waitForLog((l) => l.json?.message === 'uploaded' && l.json.file === 'b.txt', 10_000);
  // Tokens die and the refresh token is revoked: errors are logged, the secrets are not.
  const from = d.mark();
  e.emu.expireTokens();
  e.emu.revokeRefreshToken(e.secrets.refreshToken);
  e.writeFile('sec', 'c.txt', 'c');
  const authLine = await d.waitForLog((l) => l.json?.level === 'error' && /invalid_grant|revoked/i.test(l.text), 15_000, from);
  t.log(authLine.text.slice(0, 400));
  d.kill('SIGTERM');
  await d.exited;
  outs.push(d.output());
  const cc = keep(await e.cli(['check-config']));
  t.is(cc.code, 78, 'revoked credentials are a config problem');
  const all = outs.join('\n');
  t.true(all.length > 1000, 'there was output to check');
  t.deepEqual(findSecrets(all, [e.secrets.refreshToken, e.secrets.clientSecret]), []);
  t.deepEqual(findSecrets(e.allOutput(), [e.secrets.refreshToken, e.secrets.clientSecret]), []);
});

test('demo --keep: prints what it kept and a command that restarts its emulator on the kept data; status reads the kept database', async (t) => {
  const e = await setupE2E(t);
  const r = await e.cli(['demo', '--keep'], { config: null, timeoutMs: 90_000 });
  t.is(r.code, 0, r.stderr.slice(-3000));
  const dir = /^== kept in (\S+)$/m.exec(r.stdout)?.[1];
  t.truthy(dir, r.stdout.slice(-2000));
  t.teardown(() => rmSync(dir!, { recursive: true, force: true }));
  for (const f of ['config.yaml', 'batch.db', 'output', 'emulator-data']) t.true(existsSync(join(dir!, f)), f);
  const cmd = /^ {2}batch-drive-sync (emulator --data \S+ --root-folder \S+ --port \d+) &$/m.exec(r.stdout)?.[1];
  t.truthy(cmd);
  // The printed command, as printed: the emulator comes back with the demo's files.
  const emu = spawn(process.execPath, [CLI, ...cmd!.split(' ')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => emu.once('exit', () => resolve()));
  // The emulator writes its state into the kept directory as it stops: teardowns run last-in
  // first-out, so this one ends (the emulator gone) before the directory is removed.
  t.teardown(async () => {
    if (emu.exitCode === null && emu.signalCode === null) emu.kill('SIGTERM');
    await exited;
  });
  const url = await new Promise<string>((resolve, reject) => {
    emu.stdout.setEncoding('utf8').on('data', (s: string) => {
      const m = /http:\/\/127\.0\.0\.1:\d+/.exec(s);
      if (m) resolve(m[0]);
    });
    emu.once('exit', (code) => reject(new Error(`emulator exited ${code}`)));
  });
  const state = await (await fetch(`${url}/__emulator/state`)).text();
  for (const name of ['report.csv', 'p-001.png', 'deck.pptx', 'summary.txt']) t.true(state.includes(name), name);
  const st = await e.cli(['status', '--all', '--config', join(dir!, 'config.yaml')], { config: null });
  t.is(st.code, 0, st.stderr);
  t.regex(st.stdout, /^job-1001\s+drive=completed/m);
  t.regex(st.stdout, /^ {2}files {2}4\/4 \(100 %\)/m);
});
