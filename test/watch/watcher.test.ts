// createWatcher with real chokidar on a temp directory. Waits on events with deadlines, never sleeps.
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { createSilentLogger } from '../../src/log/index.js';
import { walkJobDir } from '../../src/local/index.js';
import { createIgnoreMatcher, createWatcher, type FileReady } from '../../src/watch/index.js';
import { makeTempDir } from '../helpers/db.js';

interface Recorder {
  out: string;
  files: FileReady[];
  dirs: string[];
  /** Resolves with the first file event matching `pred` (old ones included), rejects after `ms`. */
  waitFile(pred: (f: FileReady) => boolean, ms?: number): Promise<FileReady>;
  waitDir(jobId: string, ms?: number): Promise<void>;
  /**
   * Which jobs are watched file by file (the daemon passes the enabled, not completed ones).
   * chokidar sets the watches up asynchronously, so this resolves once each newly watched job has
   * reported a probe file (rewritten until seen), and forgets the probes' events.
   */
  setJobs(jobIds: string[]): Promise<void>;
}

async function watch(t: ExecutionContext, o: { ignore?: string[]; stabilityMs?: number; jobs?: string[] } = {}): Promise<Recorder> {
  const out = join(makeTempDir(t, 'bds-watch-'), 'output');
  mkdirSync(out);
  for (const j of o.jobs ?? []) mkdirSync(join(out, j));
  const files: FileReady[] = [];
  const dirs: string[] = [];
  const waiters = new Set<() => void>();
  const w = createWatcher({
    outputDir: out,
    stabilityMs: o.stabilityMs ?? 100,
    ignore: o.ignore ?? ['**/*.tmp', '**/*.part', '**/.*'],
    log: createSilentLogger(),
    onFile: (f) => {
      files.push(f);
      for (const x of waiters) x();
    },
    onDir: (j) => {
      dirs.push(j);
      for (const x of waiters) x();
    },
  });
  t.teardown(() => w.close());
  await w.ready;
  const wait = (check: () => boolean, what: string, ms: number) =>
    new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        waiters.delete(fire);
      };
      const fire = () => {
        if (check()) {
          done();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${what} within ${ms} ms; files ${JSON.stringify(files)}, dirs ${JSON.stringify(dirs)}`));
      }, ms);
      waiters.add(fire);
      fire();
    });
  const watched = new Set<string>();
  const r: Recorder = {
    out,
    files,
    dirs,
    async waitFile(pred, ms = 5000) {
      await wait(() => files.some(pred), 'matching file event', ms);
      return files.find(pred) as FileReady;
    },
    waitDir: (jobId, ms = 5000) => wait(() => dirs.includes(jobId), `directory event for ${jobId}`, ms),
    async setJobs(ids) {
      w.setJobs(ids);
      const added = ids.filter((j) => !watched.has(j));
      watched.clear();
      for (const j of ids) watched.add(j);
      for (const j of added) {
        const probe = join(out, j, 'watch-probe.txt');
        await waitRewriting(r, probe, 'probe', named(j, 'watch-probe.txt'));
        rmSync(probe);
      }
      for (let i = files.length - 1; i >= 0; i--) if (files[i]?.relPath === 'watch-probe.txt') files.splice(i, 1);
      dirs.length = 0;
    },
  };
  await r.setJobs((o.jobs ?? []).filter((j) => !j.includes('/')));
  return r;
}

const named = (jobId: string, relPath: string) => (f: FileReady) => f.jobId === jobId && f.relPath === relPath;

test('a file written into an existing job directory is reported once, when stable, with job, path and size', async (t) => {
  const r = await watch(t, { jobs: ['job-1'] });
  const p = join(r.out, 'job-1', 'a.txt');
  writeFileSync(p, 'part one, ');
  appendFileSync(p, 'part two');
  const f = await r.waitFile(named('job-1', 'a.txt'));
  t.is(f.size, 'part one, part two'.length, 'reported at its final size');
  t.true(f.mtimeMs > 0);
  // A later file is the proof that nothing more about a.txt was coming.
  writeFileSync(join(r.out, 'job-1', 'sentinel.txt'), 's');
  await r.waitFile(named('job-1', 'sentinel.txt'));
  t.is(r.files.filter(named('job-1', 'a.txt')).length, 1);
});

// chokidar sets up the watch of a new directory after announcing it, so a file written in that
// instant can be missed (the daemon re-walks the job on onDir for exactly this). Until the file is
// reported, it is rewritten at an interval longer than stability_ms: a write that lands after
// the watch exists must be reported.
async function waitRewriting(r: Recorder, path: string, content: string, pred: (f: FileReady) => boolean, deadlineMs = 8000): Promise<FileReady> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await r.waitFile(pred, 400);
    } catch (e) {
      if (Date.now() > until) throw e;
      writeFileSync(path, content);
    }
  }
}

test('a new job directory and a new sub-directory: onDir fires with the job id, and files in them are reported', async (t) => {
  const r = await watch(t, { jobs: ['old'] });
  mkdirSync(join(r.out, 'new-job', 'pages', 'deep'), { recursive: true });
  const first = join(r.out, 'new-job', 'first.txt');
  const deep = join(r.out, 'new-job', 'pages', 'deep', 'p-001.png');
  writeFileSync(first, 'first');
  writeFileSync(deep, 'png');
  await r.waitDir('new-job');
  await r.setJobs(['old', 'new-job']);
  t.is((await waitRewriting(r, first, 'first', named('new-job', 'first.txt'))).size, 5);
  t.is((await waitRewriting(r, deep, 'png', named('new-job', 'pages/deep/p-001.png'))).size, 3);

  mkdirSync(join(r.out, 'old', 'sub'));
  await r.waitDir('old');
  const x = join(r.out, 'old', 'sub', 'x.bin');
  writeFileSync(x, 'xx');
  t.is((await waitRewriting(r, x, 'xx', named('old', 'sub/x.bin'))).size, 2);
  t.true(
    r.dirs.every((d) => d === 'new-job' || d === 'old'),
    `onDir gets job ids only: ${JSON.stringify(r.dirs)}`,
  );
});

test('ignored files and ignored folders never fire; files at the top level (no job) never fire', async (t) => {
  const r = await watch(t, { jobs: ['job-1'] });
  writeFileSync(join(r.out, 'top-level.txt'), 'not in a job directory');
  writeFileSync(join(r.out, 'job-1', 'draft.tmp'), 'tmp');
  writeFileSync(join(r.out, 'job-1', 'upload.part'), 'part');
  writeFileSync(join(r.out, 'job-1', '.hidden'), 'dot');
  mkdirSync(join(r.out, 'job-1', '.cache'));
  writeFileSync(join(r.out, 'job-1', '.cache', 'inside.txt'), 'in a dot dir');
  mkdirSync(join(r.out, 'job-1', 'work.tmp'));
  writeFileSync(join(r.out, 'job-1', 'work.tmp', 'result.png'), 'in a tmp dir');
  // Written last: once it is reported, every earlier file had its chance.
  writeFileSync(join(r.out, 'job-1', 'kept.txt'), 'kept');
  await r.waitFile(named('job-1', 'kept.txt'));
  t.deepEqual(
    r.files.map((f) => `${f.jobId}/${f.relPath}`),
    ['job-1/kept.txt'],
  );
  t.false(r.dirs.includes('top-level.txt'));
});

test('a path-anchored ignore pattern means the same to the watcher as to the directory walk (relative to the job)', async (t) => {
  const r = await watch(t, { jobs: ['job-1', 'job-1/pages'], ignore: ['pages/*.bak'] });
  writeFileSync(join(r.out, 'job-1', 'pages', 'old.bak'), 'backup');
  writeFileSync(join(r.out, 'job-1', 'pages', 'p.png'), 'png');
  await r.waitFile(named('job-1', 'pages/p.png'));
  writeFileSync(join(r.out, 'job-1', 'sentinel.txt'), 's');
  await r.waitFile(named('job-1', 'sentinel.txt'));
  t.deepEqual(r.files.map((f) => f.relPath).sort(), ['pages/p.png', 'sentinel.txt']);
});

test('brace and class globs (picomatch) mean the same to the watcher as to the walk: *.{tmp,part} and [._]* are ignored', async (t) => {
  const ignore = ['*.{tmp,part}', '[._]*'];
  const r = await watch(t, { jobs: ['job-1'], ignore });
  for (const f of ['a.tmp', 'b.part', '_draft.txt', '.hidden', 'kept.tmpl']) writeFileSync(join(r.out, 'job-1', f), f);
  writeFileSync(join(r.out, 'job-1', 'sentinel.txt'), 's');
  await r.waitFile(named('job-1', 'sentinel.txt'));
  await r.waitFile(named('job-1', 'kept.tmpl'));
  t.deepEqual(r.files.map((f) => f.relPath).sort(), ['kept.tmpl', 'sentinel.txt']);
  const walked = await walkJobDir(join(r.out, 'job-1'), createIgnoreMatcher(ignore));
  t.deepEqual(walked.files.map((f) => f.relPath).sort(), ['kept.tmpl', 'sentinel.txt']);
});

test('only the jobs given to setJobs are watched file by file; a job taken out is no longer reported', async (t) => {
  const r = await watch(t, { jobs: ['on', 'off'] });
  await r.setJobs(['on']);
  writeFileSync(join(r.out, 'off', 'not-watched.txt'), 'x');
  writeFileSync(join(r.out, 'on', 'watched.txt'), 'y');
  await r.waitFile(named('on', 'watched.txt'));
  await r.setJobs([]);
  writeFileSync(join(r.out, 'on', 'after.txt'), 'z');
  await r.setJobs(['off']);
  writeFileSync(join(r.out, 'off', 'sentinel.txt'), 's');
  await r.waitFile(named('off', 'sentinel.txt'));
  t.deepEqual(r.files.map((f) => `${f.jobId}/${f.relPath}`).sort(), ['off/sentinel.txt', 'on/watched.txt']);
});

test('a job watched before its directory exists: directory and sub-directory made at once, later files in the sub-directory are reported', async (t) => {
  const out = join(makeTempDir(t, 'bds-watch-'), 'output');
  mkdirSync(out);
  const files: FileReady[] = [];
  const dirs: string[] = [];
  const w = createWatcher({
    outputDir: out,
    stabilityMs: 100,
    ignore: [],
    log: createSilentLogger(),
    onFile: (f) => files.push(f),
    // What the daemon does on a new directory: let chokidar re-read the job's tree.
    onDir: (j) => {
      dirs.push(j);
      w.resync(j);
    },
  });
  t.teardown(() => w.close());
  await w.ready;
  t.deepEqual(w.setJobs(['late-job']), ['late-job']);
  mkdirSync(join(out, 'late-job', 'pages'), { recursive: true });
  writeFileSync(join(out, 'late-job', 'pages', 'p-001.png'), 'first');
  const deadline = Date.now() + 8000;
  // Rewritten until reported: proves the sub-directory got its own watch.
  let n = 0;
  while (!files.some((f) => f.relPath.startsWith('pages/p-later'))) {
    if (Date.now() > deadline) throw new Error(`not reported; files ${JSON.stringify(files)}, dirs ${JSON.stringify(dirs)}`);
    writeFileSync(join(out, 'late-job', 'pages', `p-later-${n++}.png`), 'later');
    await new Promise((r) => setTimeout(r, 300));
  }
  t.true(dirs.includes('late-job'));
  t.true(files.every((f) => f.jobId === 'late-job'));
});
