// Operations with the real daemon (`run`) as a child process: systemd notify, metrics,
// journald priorities, SIGTERM in the middle of a resumable upload.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { CLI, md5, setupE2E, waitUntil, type E2E } from '../helpers/e2e.js';
import { hasBinary, startNotifyListener } from '../ops/notify-listener.js';
import { parsePromText, sampleValue } from '../ops/prom-text.js';

interface Line {
  text: string;
  stream: 'stdout' | 'stderr';
  at: number;
}

interface Child {
  lines: Line[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(re: RegExp, ms?: number, from?: number): Promise<Line>;
  kill(sig: NodeJS.Signals): void;
  output(): string;
}

/** `run` with a chosen environment (the e2e harness strips NOTIFY_SOCKET and JOURNAL_STREAM). */
function runDaemon(t: ExecutionContext, e: E2E, extraEnv: Record<string, string>): Child {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['NOTIFY_SOCKET', 'JOURNAL_STREAM', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'NODE_OPTIONS']) delete env[k];
  Object.assign(env, extraEnv);
  const c = spawn(process.execPath, [CLI, 'run', '--config', e.configPath], { cwd: e.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(async () => {
    if (c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    }
  });
  const lines: Line[] = [];
  const waiters = new Set<() => void>();
  for (const stream of ['stdout', 'stderr'] as const) {
    let buf = '';
    c[stream].setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        lines.push({ text: buf.slice(0, nl), stream, at: performance.now() });
        buf = buf.slice(nl + 1);
      }
      for (const w of waiters) w();
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    c.once('exit', (code, signal) => {
      for (const w of waiters) w();
      r({ code, signal });
    }),
  );
  const output = () => lines.map((l) => l.text).join('\n');
  return {
    lines,
    exited,
    output,
    kill: (sig) => {
      if (c.exitCode === null && c.signalCode === null) c.kill(sig);
    },
    waitFor: (re, ms = 15_000, from = 0) =>
      new Promise<Line>((resolve, reject) => {
        const check = () => {
          const hit = lines.slice(from).find((l) => re.test(l.text));
          if (hit) {
            done();
            resolve(hit);
          } else if (c.exitCode !== null || c.signalCode !== null) {
            done();
            reject(new Error(`daemon exited before a line matching ${String(re)}\n${output().slice(-3000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no line matching ${String(re)} within ${ms} ms\n${output().slice(-3000)}`));
        }, ms);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
  };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  await new Promise<void>((r) => srv.close(() => r()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

test('systemd notify: READY after start-up, WATCHDOG while idle, RELOADING then READY on SIGHUP, STOPPING on SIGTERM, exit 0', async (t) => {
  if (!hasBinary('systemd-notify')) {
    t.fail('systemd-notify is missing: install the `systemd` Debian package (apt-get install -y systemd; .ci/run does)');
    return;
  }
  const listener = await startNotifyListener();
  t.teardown(() => listener.close());
  const e = await setupE2E(t);
  await e.addJob('sd');
  const d = runDaemon(t, e, { NOTIFY_SOCKET: listener.socketPath, WATCHDOG_USEC: '2000000' });
  const isReady = (m: string) => m.split('\n').includes('READY=1');
  // Looked at the moment READY shows up: start-up must already be over.
  const ready = await waitUntil(
    () => {
      const m = listener.messages().find(isReady);
      return m === undefined ? null : { m, startedBefore: d.lines.some((l) => /daemon started/.test(l.text)) };
    },
    // A hang guard: start-up on a loaded machine (a niced suite beside CI) took over 20 s.
    60_000,
    'READY=1',
  );
  t.regex(ready.m, /STATUS=watching and uploading/);
  t.true(ready.startedBefore, `READY=1 before the "daemon started" line:\n${d.output()}`);
  t.is(listener.messages().filter(isReady).length, 1, 'one READY at start-up');

  // Idle: the loop's heartbeat pings the watchdog every WATCHDOG_USEC / 2.
  const before = listener.messages().length;
  const pings = await waitUntil(
    () => {
      const n = listener
        .messages()
        .slice(before)
        .filter((m) => m === 'WATCHDOG=1').length;
      return n >= 2 ? n : 0;
    },
    5_000,
    '2 WATCHDOG=1 pings within 5 s',
  );
  t.true(pings >= 2);

  const mark = listener.messages().length;
  d.kill('SIGHUP');
  await d.waitFor(/config reloaded/, 10_000);
  const afterHup = await waitUntil(
    () => {
      // The periodic STATUS= summary may come in between; it is tested on its own below.
      const m = listener
        .messages()
        .slice(mark)
        .filter((x) => x !== 'WATCHDOG=1' && !x.startsWith('STATUS='));
      return m.length >= 2 ? m : null;
    },
    10_000,
    'RELOADING=1 and READY=1 after SIGHUP',
  );
  t.regex(afterHup[0] ?? '', /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
  t.true(isReady(afterHup[1] ?? ''), afterHup[1]);

  const mark2 = listener.messages().length;
  d.kill('SIGTERM');
  const { code } = await d.exited;
  t.is(code, 0, d.output().slice(-2000));
  await waitUntil(() => listener.messages().slice(mark2).includes('STOPPING=1'), 5_000, 'STOPPING=1');
  t.false(listener.messages().slice(mark2).some(isReady), 'no READY after STOPPING');
});

test('systemd status line: STATUS= summarises the queue (jobs, pending files and bytes, uploading, rate, failed) and is refreshed', async (t) => {
  const listener = await startNotifyListener();
  t.teardown(() => listener.close());
  const e = await setupE2E(t, { stabilityMs: 200 });
  await e.addJob('s1', { status: 'processing' });
  await e.addJob('s2', { status: 'processing' });
  e.writeFile('s1', 'a.txt', 'alpha');
  // A failed row and two pending rows of a disabled job: counted, never uploaded.
  await e.addJob('off', { enabled: false });
  await e.sql(`INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status, upload_error, local_size, next_attempt_at)
               VALUES ('s2', 'bad.bin', 'failed', 'boom', 10, 0), ('off', 'p1', 'pending', NULL, 1500000, 0), ('off', 'p2', 'pending', NULL, 1700000, 0)`);
  const d = runDaemon(t, e, { NOTIFY_SOCKET: listener.socketPath });
  const status = (m: string) => /^STATUS=/.test(m) && !m.includes('READY=1');
  const line = /^STATUS=\d+ jobs? active, 2 pending, 0 uploading, 3\.2 MB to go, \d+(\.\d)? [kM]?B\/s, 1 failed$/;
  const first = await waitUntil(
    () =>
      listener
        .messages()
        .filter(status)
        .find((m) => line.test(m)),
    30_000,
    `a STATUS= line like ${String(line)}; got ${JSON.stringify(listener.messages().filter(status).slice(-3))}`,
  );
  // "daemon started" comes before the first scan's summary, not after it.
  const at = (re: RegExp) => d.lines.findIndex((l) => re.test(l.text));
  t.true(at(/daemon started/) >= 0 && at(/daemon started/) < at(/scan done/), d.output().slice(0, 2000));
  t.log(`systemctl status would show: Status: "${first.slice('STATUS='.length)}"`);
  // A new pending row shows up in a later refresh: the line is read from the database, every few seconds.
  await e.sql(
    `INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status, local_size, next_attempt_at) VALUES ('off', 'p3', 'pending', 1000, 0)`,
  );
  const later = await waitUntil(
    () =>
      listener
        .messages()
        .filter(status)
        .find((m) => /, 3 pending, 0 uploading, 3\.2 MB to go/.test(m)),
    20_000,
    'a refreshed STATUS= line',
  );
  t.regex(later, /3 pending/);
  d.kill('SIGTERM');
  t.is((await d.exited).code, 0);
});

test('metrics: /metrics counts uploads and bytes, last scan is recent, queue empty; /healthz is 200 ok', async (t) => {
  const port = await freePort();
  const e = await setupE2E(t, { extraYaml: `metrics: { listen: "127.0.0.1:${port}" }` });
  await e.addJob('m');
  const contents = ['one', 'second file', 'a third, longer file body'];
  contents.forEach((c, i) => e.writeFile('m', `f-${i}.txt`, c));
  const d = await e.startedDaemon();
  const base = `http://127.0.0.1:${port}`;
  const scrape = async () => parsePromText(await (await fetch(`${base}/metrics`)).text());
  const total = contents.reduce((n, c) => n + Buffer.byteLength(c), 0);
  const samples = await waitUntil(
    async () => {
      const s = await scrape();
      return sampleValue(s, 'bds_files_uploaded_total') === contents.length && sampleValue(s, 'bds_queue_depth') === 0 ? s : null;
    },
    15_000,
    `${contents.length} uploads in /metrics`,
  );
  t.is(sampleValue(samples, 'bds_files_uploaded_total'), contents.length);
  t.is(sampleValue(samples, 'bds_uploaded_bytes_total'), total);
  t.is(sampleValue(samples, 'bds_queue_depth'), 0);
  const lastScan = sampleValue(samples, 'bds_last_scan_timestamp_seconds');
  t.true(Math.abs(Date.now() / 1000 - lastScan) < 60, `last scan ${lastScan}`);
  t.is((await e.rows('m')).filter((r) => r.upload_status === 'uploaded').length, contents.length);

  const h = await fetch(`${base}/healthz`);
  t.is(h.status, 200);
  t.is(await h.text(), 'ok\n');
  d.kill('SIGTERM');
  t.is((await d.exited).code, 0);
});

test('journald: every stderr line starts with <N>; an upload is <6>, a permanent failure <3>', async (t) => {
  const e = await setupE2E(t, { logFormat: 'text' });
  await e.addJob('jd');
  e.writeFile('jd', 'fine.txt', 'fine');
  await e.sql("INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status) VALUES ('jd', '../escape.txt', 'pending')");
  const d = runDaemon(t, e, { JOURNAL_STREAM: '8:1234' });
  await d.waitFor(/daemon started/, 20_000);
  const up = await d.waitFor(/^<\d>uploaded .*fine\.txt/, 15_000);
  t.true(up.text.startsWith('<6>'), up.text);
  const failed = await d.waitFor(/upload failed permanently/, 15_000);
  t.true(failed.text.startsWith('<3>'), failed.text);
  t.regex(failed.text, /escape\.txt/);
  d.kill('SIGTERM');
  t.is((await d.exited).code, 0);
  const stderr = d.lines.filter((l) => l.stream === 'stderr');
  t.true(stderr.length >= 4);
  t.deepEqual(
    stderr.filter((l) => !/^<[0-7]>/.test(l.text)).map((l) => l.text),
    [],
    'lines without a priority',
  );
  t.false(
    stderr.some((l) => /^\d{4}-\d\d-\d\dT/.test(l.text.slice(3))),
    'no timestamp: journald adds its own',
  );
});

test('SIGTERM mid resumable upload: exit 0 after drain_timeout, row pending with its session and offset; restart finishes it re-sending ≤ 1 chunk', async (t) => {
  const chunk = 262144;
  const e = await setupE2E(t, { faults: { latencyMs: 50 }, resumableThresholdBytes: chunk, chunkSizeBytes: chunk, drainTimeoutMs: 300 });
  await e.addJob('big');
  const body = randomBytes(20 * 1024 * 1024);
  e.writeFile('big', 'big.bin', body);
  const d1 = await e.startedDaemon();
  type Cp = { upload_status: string; resumable_session_uri: string | null; resumable_offset: number | null; attempts: number };
  const cp = () =>
    e.sql<Cp>("SELECT upload_status, resumable_session_uri, resumable_offset, attempts FROM batch_file_drive_metadata WHERE batch_job_id = 'big'");
  await waitUntil(async () => ((await cp())[0]?.resumable_offset ?? 0) > 0, 15_000, 'a stored checkpoint');
  const t0 = performance.now();
  d1.kill('SIGTERM');
  const { code } = await d1.exited;
  const ms = performance.now() - t0;
  t.is(code, 0, d1.output().slice(-2000));
  t.true(ms < 300 + 4000, `exit ${Math.round(ms)} ms after SIGTERM`);
  const [row] = await cp();
  t.is(row?.upload_status, 'pending', 'back to pending, not left uploading');
  t.truthy(row?.resumable_session_uri, 'session kept');
  t.true((row?.resumable_offset ?? 0) > 0, `offset ${row?.resumable_offset}`);
  t.true((row?.resumable_offset ?? 0) < body.length, 'stopped mid-way');
  t.is(row?.attempts, 0, 'the interrupted attempt is refunded');

  const d2 = await e.startedDaemon();
  await d2.waitForLog((l) => l.json?.message === 'uploaded' && l.json.file === 'big.bin', 20_000);
  d2.kill('SIGTERM');
  t.is((await d2.exited).code, 0);
  const files = e.driveFiles();
  t.is(files.length, 1);
  t.is(files[0]?.md5Checksum, md5(body));
  t.is(files[0]?.size, body.length);
  const resent = e.emu.stats().bytesReceived - body.length;
  t.log(`bytes re-sent after the restart: ${resent}`);
  t.true(resent >= 0 && resent <= chunk, `re-sent ${resent} bytes (≤ one chunk of ${chunk})`);
  t.is((await e.rows('big'))[0]?.upload_status, 'uploaded');
});
