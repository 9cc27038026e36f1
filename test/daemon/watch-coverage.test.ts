// The daemon in-process (real SQLite, emulator, fs.watch, cron): what the scans walk when the
// watcher covers a job, and when it does not (a missed event, the kernel's watch limit).
import { mkdirSync, readFileSync, watch as fsWatch, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { Writable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { startDaemon, type Daemon } from '../../src/daemon/index.js';
import type { WatchDir } from '../../src/watch/index.js';
import { setupE2E, waitUntil, type E2E, type E2EOptions } from '../helpers/e2e.js';

interface Running {
  d: Daemon;
  lines: Record<string, unknown>[];
  /** Lines logged from index `from` on that match. */
  logged(message: RegExp, from?: number): Record<string, unknown>[];
}

async function run(t: ExecutionContext, e: E2E, watchDir?: WatchDir): Promise<Running> {
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          lines.push(JSON.parse(text) as Record<string, unknown>);
        } catch {
          lines.push({ message: text });
        }
      }
      cb();
    },
  });
  const d = await startDaemon({ configPath: e.configPath, env: {}, logStream, ...(watchDir ? { watchDir } : {}) });
  t.teardown(() => d.stop());
  return { d, lines, logged: (m, from = 0) => lines.slice(from).filter((l) => m.test(String(l.message))) };
}

const uploaded = async (e: E2E, job: string, file: string) => (await e.rows(job)).find((r) => r.original_filename === file)?.upload_status === 'uploaded';

/** fs.watch that never reports `name`, as when its event is lost. */
const dropping =
  (name: string): WatchDir =>
  (dir, onEvent, onError) => {
    const w = fsWatch(dir, { persistent: true }, (_ev, n) => {
      if (n !== name) onEvent(n === null ? null : String(n));
    });
    w.on('error', onError);
    return w;
  };

const every = { stabilityMs: 100, scanCron: '*/1 * * * * *' } satisfies E2EOptions;

test('a file the watcher misses is not walked by scheduled scans of a watched job, and is found by the full walk (full_scan_cron)', async (t) => {
  const e = await setupE2E(t, { ...every, fullScanCron: '0 0 1 1 *', logLevel: 'debug' });
  await e.addJob('w', { status: 'processing' });
  // The job directory exists before the start (a new one would be walked when it appears).
  mkdirSync(join(e.outputDir, 'w'));
  const r = await run(t, e, dropping('missed.txt'));
  e.writeFile('w', 'missed.txt', 'the watcher never hears of me');
  e.writeFile('w', 'seen.txt', 'seen');
  await waitUntil(() => uploaded(e, 'w', 'seen.txt'), 15_000, 'seen.txt uploaded');
  // Three scheduled scans after both files exist: none walked the watched job.
  const from = r.lines.length;
  await waitUntil(() => r.logged(/^scan done$/, from).filter((l) => l.kind === 'scheduled').length >= 3, 15_000, 'three scheduled scans');
  const scans = r.logged(/^scan done$/, from).filter((l) => l.kind === 'scheduled');
  t.true(
    scans.every((l) => l.files === 0 && l.skipped === 1),
    JSON.stringify(scans),
  );
  t.deepEqual(
    (await e.rows('w')).map((x) => x.original_filename),
    ['seen.txt'],
  );

  // The safety net, on its own cron (a reload applies the new schedule at once).
  writeFileSync(e.configPath, readFileSync(e.configPath, 'utf8').replace('full_scan_cron: "0 0 1 1 *"', 'full_scan_cron: "*/1 * * * * *"'));
  t.true(await r.d.reload());
  await waitUntil(() => uploaded(e, 'w', 'missed.txt'), 15_000, 'missed.txt found by the full walk and uploaded');
  const full = r.logged(/^scan done$/).filter((l) => l.kind === 'full');
  t.true(full.length >= 1 && full.some((l) => l.files === 2), JSON.stringify(full));
});

test('at the inotify watch limit (ENOSPC): one clear warning, the unwatched jobs are walked by every scheduled scan, and every file is uploaded', async (t) => {
  const e = await setupE2E(t, { ...every, fullScanCron: '0 0 1 1 *' });
  for (const j of ['a', 'b', 'c']) {
    await e.addJob(j, { status: 'processing' });
    e.writeFile(j, 'sub/deeper/start.txt', `start ${j}`);
  }
  // The kernel's answer once max_user_watches is used up: 4 directory watches fit, 9 are needed.
  let live = 0;
  const limited: WatchDir = (dir, onEvent, onError) => {
    if (live >= 4) {
      throw Object.assign(new Error(`ENOSPC: System limit for number of file watchers reached, watch '${dir}'`), {
        code: 'ENOSPC',
        errno: -28,
        syscall: 'watch',
        path: dir,
      });
    }
    live++;
    const w = fsWatch(dir, { persistent: true }, (_ev, n) => onEvent(n === null ? null : String(n)));
    w.on('error', onError);
    return {
      close() {
        live--;
        w.close();
      },
    };
  };
  const r = await run(t, e, limited);
  const warnings = r.logged(/inotify watch limit reached/);
  t.is(warnings.length, 1, JSON.stringify(r.logged(/watch/)));
  t.is(warnings[0]?.level, 'warning');
  t.regex(String(warnings[0]?.message), /raise fs\.inotify\.max_user_watches/);
  t.is(live, 4);

  // Files written after start, into every job and every level: all uploaded.
  const written: [string, string][] = [];
  for (const j of ['a', 'b', 'c']) {
    for (const rel of ['top.txt', 'sub/mid.txt', 'sub/deeper/low.txt']) {
      e.writeFile(j, rel, `${j}/${rel}`);
      written.push([j, rel]);
    }
  }
  await waitUntil(
    async () => {
      for (const [j, rel] of [...written, ['a', 'sub/deeper/start.txt'], ['b', 'sub/deeper/start.txt'], ['c', 'sub/deeper/start.txt']] as [string, string][]) {
        if (!(await uploaded(e, j, rel))) return false;
      }
      return true;
    },
    20_000,
    'all 12 files uploaded',
  );
  // Scheduled scans walked the jobs the watcher could not cover fully.
  const walked = r.logged(/^scan done$/).filter((l) => l.kind === 'scheduled' && Number(l.files) > 0);
  t.true(walked.length >= 1);
  t.is(r.logged(/inotify watch limit reached/).length, 1, 'no warning per scan');
});

test('a finished job whose files are all uploaded is unwatched; a running one stays watched', async (t) => {
  const e = await setupE2E(t, { ...every, fullScanCron: '0 0 1 1 *' });
  await e.addJob('done', { status: 'completed' });
  await e.addJob('running', { status: 'processing' });
  e.writeFile('done', 'pages/p1.txt', 'one');
  e.writeFile('running', 'pages/p1.txt', 'one');
  const open = new Map<string, number>();
  const counting: WatchDir = (dir, onEvent, onError) => {
    const job = dir.slice(e.outputDir.length + 1).split(sep)[0] ?? '';
    open.set(job, (open.get(job) ?? 0) + 1);
    const w = fsWatch(dir, { persistent: true }, (_ev, n) => onEvent(n === null ? null : String(n)));
    w.on('error', onError);
    return {
      close() {
        open.set(job, (open.get(job) ?? 0) - 1);
        w.close();
      },
    };
  };
  await run(t, e, counting);
  t.is(open.get('done'), 2, 'watched until its files are in Drive');
  await waitUntil(async () => (await e.jobRow('done'))?.drive_upload_status === 'completed', 15_000, 'job done completed');
  await waitUntil(() => open.get('done') === 0, 15_000, 'job done unwatched after the next scan');
  await waitUntil(() => uploaded(e, 'running', 'pages/p1.txt'), 15_000, 'the running job uploaded');
  t.is((await e.jobRow('running'))?.drive_upload_status, 'in_progress');
  t.is(open.get('running'), 2, 'a running job stays watched');
});
