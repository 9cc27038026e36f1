// What an operator reads: status (progress, in-flight offsets, --watch), files, escaping of
// hostile names, and the CLI's help, version and suggestions. All through the real CLI.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { parseEmulatorArgs } from '../../src/emulator/cli.js';
import { CLI, REPO, setupE2E, type E2E } from '../helpers/e2e.js';
import { waitUntil } from '../helpers/poll.js';

interface JobJson {
  jobId: string;
  files: { done: number; total: number };
  bytes: { done: number; total: number; failed: number };
  rateBytesPerSec: number;
  etaSeconds: number | null;
  firstStartedAt: number | null;
  lastFinishedAt: number | null;
  counts: Record<string, number>;
  inFlight: { file: string; size: number; offset: number | null; startedAt: number; durationMs: number; attempt: number }[];
  lastErrors: { file: string; status: string; error: string }[];
}

async function statusJson(e: E2E, ...args: string[]): Promise<JobJson[]> {
  const r = await e.cli(['status', '--json', ...args]);
  if (r.code !== 0) throw new Error(`status --json exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as JobJson[];
}

test('status during a resumable upload: bytes done/total, confirmed offset of the file in flight, rate and ETA; then done with times', async (t) => {
  const e = await setupE2E(t, { resumableThresholdBytes: 256 * 1024, chunkSizeBytes: 256 * 1024, concurrency: 2, stabilityMs: 200 });
  await e.addJob('big-job', { status: 'processing' });
  const size = 24 * 256 * 1024;
  e.writeFile('big-job', 'small.txt', 'hello');
  e.writeFile('big-job', 'big.bin', Buffer.alloc(size, 7));
  // Slow answers keep the big file in flight long enough to be seen part-way.
  e.emu.setFaults({ latencyMs: 250 });
  const d = await e.startedDaemon();

  const mid = await waitUntil(
    async () => {
      const [j] = await statusJson(e, '--job', 'big-job');
      const f = j?.inFlight.find((x) => x.file === 'big.bin');
      // The totals and the files in flight are separate statements: a chunk confirmed between
      // them shows in the second only, so wait for a snapshot where they agree (a done count
      // that never includes the offset still times out).
      return f && (f.offset ?? 0) > 0 && j!.rateBytesPerSec > 0 && j!.bytes.done >= f.offset! ? j : null;
    },
    60_000,
    'a confirmed offset of big.bin, counted in bytes done',
  );
  // Slower still while the text is read, so the file is surely still in flight then.
  e.emu.setFaults({ latencyMs: 4000 });
  const f = mid.inFlight.find((x) => x.file === 'big.bin')!;
  t.is(f.size, size);
  t.true(f.offset! % (256 * 1024) === 0 && f.offset! < size, `offset ${f.offset} is a whole number of chunks below the size`);
  t.true(f.durationMs >= 0 && f.attempt === 1);
  t.is(mid.bytes.total, size + 5);
  t.true(mid.bytes.done >= f.offset!, 'bytes done count the confirmed offset');
  t.true(mid.etaSeconds !== null && mid.etaSeconds > 0, `ETA ${mid.etaSeconds}`);
  t.true(mid.firstStartedAt !== null && mid.firstStartedAt <= Date.now());

  const text = await e.cli(['status']);
  t.regex(text.stdout, /^big-job\s+drive=(pending|in_progress)\s+job=processing$/m);
  t.regex(text.stdout, /^ {2}uploading big\.bin {2}\d+(\.\d)? [kM]B\/6\.3 MB \(\d+ %\) {2}for \d+s {2}\(attempt 1\)$/m);
  t.regex(text.stdout, /^ {2}bytes {2}\S+ [kM]?B\/6\.3 MB \(\d+ %\) {3}rate \d+(\.\d)? [kM]?B\/s {3}ETA \d+(m\d\d)?s$/m);

  e.emu.setFaults({ latencyMs: 0 });
  const done = await waitUntil(
    async () => {
      const [j] = await statusJson(e, '--job', 'big-job');
      return j?.files.done === 2 ? j : null;
    },
    60_000,
    'both files uploaded',
  );
  t.deepEqual(done.files, { done: 2, total: 2 });
  t.deepEqual(done.bytes, { done: size + 5, total: size + 5, failed: 0 });
  t.deepEqual(done.inFlight, []);
  t.is(done.etaSeconds, 0);
  t.true(done.lastFinishedAt! >= done.firstStartedAt!);
  const after = await e.cli(['status', '--job', 'big-job']);
  t.regex(after.stdout, /^ {2}files {2}2\/2 \(100 %\)/m);
  t.regex(after.stdout, /^ {2}first upload started \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ, last finished \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/m);
  d.kill('SIGTERM');
  t.is((await d.exited).code, 0);
});

test('files --job: one line per file with size, status, attempts, next attempt, error, Drive and preview URLs; --status filters; --json', async (t) => {
  const e = await setupE2E(t);
  await e.addJob('fj');
  e.writeFile('fj', 'a.txt', 'aaa');
  e.writeFile('fj', 'sub/b.txt', 'bb');
  t.is((await e.cli(['sync', '--once'])).code, 0);
  // A row the batch system left failed, with a retry error.
  await e.sql(
    `INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status, upload_error, attempts, local_size, next_attempt_at)
     VALUES ('fj', 'gone.txt', 'failed', 'local file not found', 8, 10, 0)`,
  );
  const rows = await e.rows('fj');
  const a = rows.find((r) => r.original_filename === 'a.txt')!;

  const text = await e.cli(['files', '--job', 'fj']);
  t.is(text.code, 0, text.stderr);
  const lines = text.stdout.split('\n');
  t.regex(lines[0]!, /^PATH\s+SIZE\s+STATUS\s+ATTEMPTS\s+NEXT ATTEMPT$/);
  t.regex(text.stdout, /^a\.txt\s+3 B\s+uploaded\s+1\s+-$/m);
  t.regex(text.stdout, /^gone\.txt\s+10 B\s+failed\s+8\s+-\n {2}error: local file not found$/m);
  t.true(
    text.stdout.includes(
      `  file: https://drive.google.com/file/d/${a.drive_file_id}/view\n  preview: https://drive.google.com/file/d/${a.drive_file_id}/preview\n`,
    ),
  );
  t.deepEqual(
    lines.filter((l) => /^\S/.test(l)).map((l) => l.split(/\s+/)[0]),
    ['PATH', 'a.txt', 'gone.txt', 'sub/b.txt'],
  );

  const failed = await e.cli(['files', '--job', 'fj', '--status', 'failed', '--json']);
  const fj = JSON.parse(failed.stdout) as { path: string; status: string; attempts: number; lastError: string; fileUrl: string | null; size: number }[];
  t.deepEqual(
    fj.map((f) => [f.path, f.status, f.attempts, f.lastError, f.fileUrl, f.size]),
    [['gone.txt', 'failed', 8, 'local file not found', null, 10]],
  );
  const all = JSON.parse((await e.cli(['files', '--job', 'fj', '--json'])).stdout) as { path: string; previewUrl: string | null; driveFileId: string | null }[];
  t.deepEqual(
    all.map((f) => f.path),
    ['a.txt', 'gone.txt', 'sub/b.txt'],
  );
  t.is(all[0]?.previewUrl, `https://drive.google.com/file/d/${a.drive_file_id}/preview`);

  const none = await e.cli(['files', '--job', 'nope']);
  t.is(none.code, 1);
  t.regex(none.stderr, /no Drive-enabled job or file rows for job "nope"/);
  const bad = await e.cli(['files', '--job', 'fj', '--status', 'faild']);
  t.is(bad.code, 64);
  t.regex(bad.stderr, /--status expects one of pending, uploading, uploaded, failed, got "faild" \(did you mean failed\?\)/);
  t.is((await e.cli(['files'])).code, 64);
});

test('status and files escape control characters from the database: a name with ESC[2J cannot clear the terminal', async (t) => {
  const e = await setupE2E(t);
  await e.addJob('esc\x1b]0;job\x07');
  await e.sql(
    `INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status, upload_error, attempts, local_size, next_attempt_at)
     VALUES (?, ?, 'failed', ?, 1, 5, 0)`,
    'esc\x1b]0;job\x07',
    'evil\x1b[2J\x1b[Hname\r\nforged line\u2028.txt',
    'Drive said \x1b[31mred\x1b[0m\nand more \x9b2J',
  );
  for (const args of [['status'], ['status', '--all'], ['files', '--job', 'esc\x1b]0;job\x07']]) {
    const r = await e.cli(args);
    t.is(r.code, 0, r.stderr);
    // eslint-disable-next-line no-control-regex
    t.notRegex(r.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028]/, `${args[0]}: no control character but newlines`);
    t.true(r.stdout.includes('evil\\x1B[2J\\x1B[Hname\\x0D\\x0Aforged line\\u{2028}.txt'), r.stdout);
    t.notRegex(r.stdout, /^forged line/m, 'no forged line');
  }
  const st = await e.cli(['status']);
  t.true(st.stdout.includes('esc\\x1B]0;job\\x07  drive=pending'));
  t.true(st.stdout.includes('Drive said \\x1B[31mred\\x1B[0m\\x0Aand more \\x9B2J'));
  // JSON keeps the exact text (JSON escapes control characters itself).
  const [j] = JSON.parse((await e.cli(['status', '--json'])).stdout) as JobJson[];
  t.is(j?.lastErrors[0]?.file, 'evil\x1b[2J\x1b[Hname\r\nforged line\u2028.txt');
});

/** Runs the CLI under a pseudo-terminal (python's pty), returns everything it wrote, after SIGINT once `until` matched. */
function underPty(args: string[], until: string, cwd: string): Promise<{ out: string; code: number }> {
  const py = String.raw`
import os, pty, signal, sys, time, select, re
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b''
pat = re.compile(os.environ['UNTIL'].encode(), re.S)
end = time.time() + 60
sent = False
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    if not sent and pat.search(out):
        os.kill(pid, signal.SIGINT)
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status) if sent else 99)
`;
  return new Promise((resolve, reject) => {
    const c = spawn('python3', ['-c', py, process.execPath, CLI, ...args], { cwd, env: { ...process.env, UNTIL: until }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    c.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    c.once('error', reject);
    c.once('exit', (code) => (code === 99 ? reject(new Error(`pattern never seen; output: ${out} ${err}`)) : resolve({ out, code: code ?? -1 })));
  });
}

test('status --watch: redraws in place on a terminal (pseudo-terminal), prints plain blocks when piped; SIGINT ends it with 0', async (t) => {
  const e = await setupE2E(t);
  await e.addJob('w1', { status: 'processing' });
  e.writeFile('w1', 'a.txt', 'a');
  const frame = /batch-drive-sync status, every 1s/;
  const tty = await underPty(['status', '--watch', '--interval', '1', '--config', e.configPath], '(batch-drive-sync status, every 1s.*){2}', e.dir);
  t.is(tty.code, 0, tty.out);
  const frames = tty.out.split('\x1b[H\x1b[2J');
  t.true(frames.length >= 3, `at least two redraws, each starting with cursor-home + clear: ${JSON.stringify(tty.out.slice(0, 300))}`);
  t.regex(frames[1]!, frame);
  t.regex(frames[1]!, /^w1\s+drive=pending\s+job=processing/m);

  const piped = await new Promise<{ out: string; code: number | null }>((resolve) => {
    const c = spawn(process.execPath, [CLI, 'status', '--watch', '--interval', '1', '--config', e.configPath], {
      cwd: e.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if ((out.match(/batch-drive-sync status, every 1s/g) ?? []).length >= 2) c.kill('SIGINT');
    });
    c.once('exit', (code) => resolve({ out, code }));
  });
  t.is(piped.code, 0);
  t.false(piped.out.includes('\x1b'), 'no escape sequences when piped');
  t.is((piped.out.match(/^w1\s+drive=pending/gm) ?? []).length >= 2, true);
});

test('CLI: --version from package.json; every command has --help listing its options; unknown commands and options suggest the nearest; no class names in errors', async (t) => {
  const e = await setupE2E(t);
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
  for (const v of ['--version', '-V']) {
    const r = await e.cli([v], { config: null });
    t.is(r.code, 0);
    t.is(r.stdout, `batch-drive-sync ${pkg.version}\n`);
  }
  const help = await e.cli(['--help'], { config: null });
  t.is(help.code, 0);
  const commands = [...help.stdout.matchAll(/^ {2}([a-z-]+) {2,}\S/gm)].map((m) => m[1]!);
  t.deepEqual(commands, ['run', 'sync', 'migrate', 'status', 'files', 'retry', 'enable', 'disable', 'check-config', 'install-service', 'emulator', 'demo']);
  for (const c of commands) {
    const r = await e.cli([c, '--help'], { config: null });
    t.is(r.code, 0, `${c} --help`);
    const usage = r.stdout.split('\n')[0]!;
    t.true(usage.startsWith(`Usage: batch-drive-sync ${c}`), usage);
    // Every option in the usage line has exactly one line in the option list, and vice versa.
    const inUsage = [...usage.matchAll(/--([a-z-]+)/g)].map((m) => m[1]!);
    const listed = [...r.stdout.matchAll(/^ {2}(?:-\w, | {4})--([a-z-]+)/gm)].map((m) => m[1]!).filter((o) => o !== 'help');
    t.deepEqual([...new Set(inUsage)].sort(), listed.sort(), `${c}: usage and option lines agree`);
  }
  // The emulator's help lists every flag its parser accepts, and each listed one is accepted.
  const emu = (await e.cli(['emulator', '--help'], { config: null })).stdout;
  const emuFlags = [...emu.matchAll(/^ {6}--([a-z-]+)/gm)].map((m) => `--${m[1]!}`);
  const parserUsage = (() => {
    try {
      parseEmulatorArgs(['--no-such-flag', '1']);
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  })();
  t.deepEqual([...new Set(parserUsage.match(/--[a-z-]+/g)!.filter((f) => f !== '--no-such-flag'))].sort(), emuFlags.sort());

  const typo = await e.cli(['stauts']);
  t.is(typo.code, 64);
  t.regex(typo.stderr, /unknown command "stauts" \(did you mean status\?\)/);
  const opt = await e.cli(['status', '--jbo', 'x']);
  t.is(opt.code, 64);
  t.regex(opt.stderr, /unknown option --jbo \(did you mean --job\?\); see "batch-drive-sync status --help"/);
  const noDb = join(e.dir, 'no-db.yaml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(noDb, readFileSync(e.configPath, 'utf8').replace(e.dbPath, join(e.dir, 'missing.db')));
  const dbErr = await e.cli(['status'], { config: noDb });
  t.is(dbErr.code, 78);
  t.regex(dbErr.stderr, /^error: database\.path .*missing\.db: cannot open it/m);
  for (const r of [typo, opt, dbErr]) t.notRegex(r.stderr, /\b[A-Z][A-Za-z]*Error:/, 'no class-name prefix');
});
