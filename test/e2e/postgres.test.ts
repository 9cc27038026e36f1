/**
 * The CLI and the daemon on a real PostgreSQL server: the commands, wrong credentials at start,
 * LISTEN/NOTIFY wake-ups, two daemons standing for two hosts (per-host and shared storage), and
 * the server restarted while uploads are in flight.
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { allUploaded, assertExactlyOnce, md5, setupE2E, utcDate, waitUntil, type DaemonHandle } from '../helpers/e2e.js';
import { freePort, PG_TEST_PASSWORD, pgServer, startPgServer } from '../helpers/postgres.js';

const uploadedBy = (d: DaemonHandle) => d.lines.filter((l) => l.json?.message === 'uploaded').map((l) => `${String(l.json?.job)}/${String(l.json?.file)}`);

test.serial('CLI on PostgreSQL: migrate and --status, enable, sync --once uploads every file once, status, check-config', async (t) => {
  const e = await setupE2E(t, { postgres: true, migrate: false });
  const st0 = await e.cli(['migrate', '--status']);
  t.is(st0.code, 0, st0.stderr);
  t.regex(st0.stdout, /pending\s+001_seed_schema\.sql/);
  const m = await e.cli(['migrate']);
  t.is(m.code, 0, m.stderr);
  t.regex(m.stdout, /applied 005_nodes_and_wakeup\.sql/);
  t.regex((await e.cli(['migrate'])).stdout, /up to date/);
  t.regex((await e.cli(['migrate', '--status'])).stdout, /applied\s+005_nodes_and_wakeup\.sql/);

  await e.addJob('job-1', { enabled: false, status: 'completed' });
  const files = ['a.txt', 'sub/b.txt', 'c.txt'].map((rel) => ({ job: 'job-1', rel, content: `content of ${rel}\n` }));
  for (const f of files) e.writeFile(f.job, f.rel, f.content);
  const en = await e.cli(['enable', 'job-1', '--pattern', 'pg/{job_id}']);
  t.is(en.code, 0, en.stderr);
  const s = await e.cli(['sync', '--once']);
  t.is(s.code, 0, s.stderr);
  t.regex(s.stdout, /uploaded 3, failed rows 0/);
  await assertExactlyOnce(t, e, files, () => 'pg/job-1');
  t.is((await e.jobRow('job-1'))?.drive_upload_status, 'completed');
  const st = await e.cli(['status', '--json']);
  t.like(JSON.parse(st.stdout)[0], { jobId: 'job-1', enabled: true, counts: { uploaded: 3, pending: 0 } });
  const cc = await e.cli(['check-config']);
  t.regex(cc.stdout, new RegExp(`database postgres@127\\.0\\.0\\.1:${(await pgServer()).port}/t_[0-9a-f]+: ok`));
  t.false(e.allOutput().includes(PG_TEST_PASSWORD));
});

test.serial('wrong password, unknown database, nothing listening: exit 78 naming the host; the password is never shown', async (t) => {
  const e = await setupE2E(t, { postgres: true });
  const server = await pgServer();
  const wrongPw = 'Wrong-Pg-Password-5150';
  const deadPort = await freePort();
  const cases = [
    // Generous timeouts where the server answers (a loaded machine is slow to authenticate).
    { url: server.url('postgres', { password: wrongPw }), want: /password authentication failed.*28P01/, timeoutMs: 15_000 },
    { url: server.url('no_such_db'), want: /database "no_such_db" does not exist/, timeoutMs: 15_000 },
    { url: `postgres://bds:${wrongPw}@127.0.0.1:${deadPort}/batch`, want: /ECONNREFUSED|nothing answered/, timeoutMs: 400 },
  ];
  for (const c of cases) {
    e.writeConfig({ postgres: true, databaseUrl: c.url, databaseExtra: `connect_timeout_ms: ${c.timeoutMs}` });
    for (const args of [['run'], ['migrate'], ['status']]) {
      const r = await e.cli(args);
      t.is(r.code, 78, `${args[0]}: ${r.stderr}`);
      const port = new URL(c.url).port;
      t.true(r.stderr.includes(`127.0.0.1:${port}`), `names the host: ${r.stderr}`);
      t.regex(r.stderr, c.want);
      t.false(r.stderr.includes(wrongPw) || r.stdout.includes(wrongPw), 'password not shown');
      t.false(r.stderr.includes(PG_TEST_PASSWORD), 'password not shown');
    }
  }
  // The password from a file works, and a missing file is a clear error.
  const pwFile = join(e.dir, 'pg-password');
  writeFileSync(pwFile, PG_TEST_PASSWORD + '\n', { mode: 0o600 });
  e.writeConfig({
    postgres: true,
    databaseUrl: e.dbUrl!.replace(`:${encodeURIComponent(PG_TEST_PASSWORD)}@`, '@'),
    databaseExtra: `password_file: ${JSON.stringify(pwFile)}`,
  });
  const ok = await e.cli(['migrate', '--status']);
  t.is(ok.code, 0, ok.stderr);
  e.writeConfig({
    postgres: true,
    databaseUrl: e.dbUrl!.replace(`:${encodeURIComponent(PG_TEST_PASSWORD)}@`, '@'),
    databaseExtra: `password_file: ${JSON.stringify(pwFile + '.missing')}`,
  });
  const missing = await e.cli(['migrate', '--status']);
  t.is(missing.code, 78);
  t.regex(missing.stderr, /password_file .*pg-password\.missing: cannot read it \(ENOENT\)/);
  // Both a password in the URL and a password_file: a config error, without echoing the URL.
  e.writeConfig({ postgres: true, databaseExtra: `password_file: ${JSON.stringify(pwFile)}` });
  const both = await e.cli(['migrate', '--status']);
  t.is(both.code, 78);
  t.regex(both.stderr, /database\.password_file: the URL already carries a password/);
  t.false(both.stderr.includes(PG_TEST_PASSWORD));
});

test.serial('LISTEN/NOTIFY: a job enabled in batch_jobs and rows the batch system inserts are uploaded without waiting for a scan', async (t) => {
  // Cron once a year and no watcher: only the start-up scan and the wake-ups can find work.
  const e = await setupE2E(t, { postgres: true, scanCron: '0 0 1 1 *', watch: false });
  await e.addJob('later', { enabled: false, status: 'processing' });
  e.writeFile('later', 'x.txt', 'x\n');
  e.writeFile('later', 'y.txt', 'y\n');
  const d = await e.startedDaemon({ timeoutMs: 60_000 });
  await d.waitForLog(/listening for database wake-ups/);
  // The batch system enables the job: the daemon walks its directory at once.
  await e.sql("UPDATE batch_jobs SET drive_integration_enabled = TRUE, drive_upload_status = 'pending' WHERE job_id = 'later'");
  await waitUntil(() => allUploaded(e, 2), 30_000, 'the enabled job uploaded');
  // The batch system inserts a row itself for a file it wrote.
  e.writeFile('later', 'z.txt', 'z\n');
  await e.sql("INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename) VALUES ('later', 'z.txt')");
  await waitUntil(() => allUploaded(e, 3), 30_000, 'the inserted row uploaded');
  // The row reads uploaded a moment before the daemon's log line reaches us.
  await waitUntil(() => uploadedBy(d).length >= 3, 30_000, 'three uploads logged');
  t.deepEqual(uploadedBy(d).sort(), ['later/x.txt', 'later/y.txt', 'later/z.txt']);
  t.is(d.lines.filter((l) => l.json?.message === 'scan done').length, 1, 'only the start-up scan ran');
  d.kill('SIGTERM');
  t.is((await d.exited).code, 0);
});

for (const shared of [false, true]) {
  test.serial(
    `two daemons on two hosts (separate output directories), watch.shared_storage ${shared}: every file once, ${
      shared ? 'either daemon may upload any row' : 'each daemon uploads only the rows it found'
    }`,
    async (t) => {
      const e = await setupE2E(t, { postgres: true });
      const dirB = join(e.dir, 'output-host-b');
      mkdirSync(dirB);
      const cfgB = join(e.dir, 'config-b.yaml');
      e.writeConfig({ postgres: true, nodeName: 'host-a', sharedStorage: shared });
      e.writeConfig({ postgres: true, nodeName: 'host-b', sharedStorage: shared, outputDir: dirB }, cfgB);
      await e.addJob('job-a', { status: 'completed' });
      await e.addJob('job-b', { status: 'completed' });
      const expected: { job: string; rel: string; content: string }[] = [];
      for (let i = 0; i < 12; i++) {
        for (const job of ['job-a', 'job-b']) {
          const rel = `f-${i}.txt`;
          const content = `${job} ${i}\n`;
          expected.push({ job, rel, content });
          // Per-host disks: job-a's files are on host A only, job-b's on host B only. Shared
          // storage (NFS): both hosts see every file.
          // One file on shared storage has one mtime, whichever host looks at it.
          const mtime = new Date(Date.now() - 60_000);
          if (shared || job === 'job-a') utimesSync(e.writeFile(job, rel, content), mtime, mtime);
          if (shared || job === 'job-b') {
            mkdirSync(join(dirB, job), { recursive: true });
            writeFileSync(join(dirB, job, rel), content);
            utimesSync(join(dirB, job, rel), mtime, mtime);
          }
        }
      }
      const [a, b] = await Promise.all([e.startedDaemon({ timeoutMs: 60_000 }), e.startedDaemon({ config: cfgB, timeoutMs: 60_000 })]);
      await waitUntil(() => allUploaded(e, expected.length), 60_000, 'every file uploaded');
      await assertExactlyOnce(t, e, expected, (job) => `batch/${utcDate()}/${job}`);
      const rows = await e.sql<{ batch_job_id: string; found_by_node: string; attempts: number }>(
        'SELECT batch_job_id, found_by_node, attempts FROM batch_file_drive_metadata',
      );
      await waitUntil(() => uploadedBy(a).length + uploadedBy(b).length >= expected.length, 30_000, 'every upload logged');
      const byA = uploadedBy(a);
      const byB = uploadedBy(b);
      t.is(byA.length + byB.length, expected.length, 'one upload per file across both daemons');
      if (!shared) {
        t.true(
          rows.every((r) => r.found_by_node === (r.batch_job_id === 'job-a' ? 'host-a' : 'host-b')),
          'each row found by the host that has the file',
        );
        t.true(
          byA.every((f) => f.startsWith('job-a/')),
          `host A uploaded only its own files: ${byA.join(' ')}`,
        );
        t.true(
          byB.every((f) => f.startsWith('job-b/')),
          `host B uploaded only its own files: ${byB.join(' ')}`,
        );
        t.true(
          rows.every((r) => r.attempts === 1),
          'no failed attempt on a file the host does not have',
        );
      } else {
        t.true(rows.every((r) => r.found_by_node === 'host-a' || r.found_by_node === 'host-b'));
      }
      a.kill('SIGTERM');
      b.kill('SIGTERM');
      t.is((await a.exited).code, 0);
      t.is((await b.exited).code, 0);
    },
  );
}

test.serial(
  'PostgreSQL restarted mid-run: reconnect logged once, /healthz down meanwhile, uploads in flight finish and are recorded; 0 lost, 0 duplicated',
  async (t) => {
    // A server of its own: the other tests of this file keep theirs running.
    const server = await startPgServer();
    t.teardown(() => server.close());
    const metricsPort = await freePort();
    // Slow Drive answers keep uploads in flight across the restart.
    const e = await setupE2E(t, {
      postgres: true,
      pgServer: server,
      faults: { latencyMs: 500 },
      concurrency: 4,
      leaseMs: 5000,
      metricsListen: `127.0.0.1:${metricsPort}`,
    });
    await e.addJob('job-r', { status: 'completed' });
    const expected = Array.from({ length: 80 }, (_, i) => ({ job: 'job-r', rel: `r-${i}.txt`, content: `restart ${i} ${md5(String(i))}\n` }));
    for (const f of expected) e.writeFile(f.job, f.rel, f.content);
    const d = await e.startedDaemon({ timeoutMs: 60_000 });
    await waitUntil(async () => (await e.rows()).some((r) => r.upload_status === 'uploaded'), 30_000, 'first upload');
    const health = async () => {
      const r = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
      return { status: r.status, text: await r.text() };
    };
    t.is((await health()).status, 200);

    await server.stop();
    const lost = await d.waitForLog(/database connection lost/, 30_000);
    const down = await waitUntil(
      async () => {
        const h = await health();
        return h.status === 503 ? h : null;
      },
      30_000,
      '/healthz 503',
    );
    t.regex(down.text, /database/);
    await server.start();
    await d.waitForLog(/database connection restored/, 60_000);
    await waitUntil(() => allUploaded(e, expected.length), 90_000, 'every file uploaded after the restart');
    await waitUntil(async () => (await health()).status === 200, 30_000, '/healthz 200 again');
    await assertExactlyOnce(t, e, expected, (job) => `batch/${utcDate()}/${job}`);
    t.is(d.lines.filter((l) => /database connection lost/.test(l.text)).length, 1, 'the loss is logged once');
    // Uploads in flight when the server went away finished, and their outcome was written once
    // it was back: started before the loss was noticed, recorded (logged) after the restore.
    const restoredAt = Date.parse(String(d.lines.find((l) => /database connection restored/.test(l.text))?.json?.timestamp));
    const lostAt = Date.parse(String(lost.json?.timestamp));
    const across = d.lines.filter((l) => {
      if (l.json?.message !== 'uploaded') return false;
      const at = Date.parse(String(l.json.timestamp));
      return at - Number(l.json.ms) < lostAt && at >= restoredAt;
    });
    t.true(across.length > 0, 'at least one upload in flight across the restart was recorded after it');
    d.kill('SIGTERM');
    t.is((await d.exited).code, 0);
  },
);
