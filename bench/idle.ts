// An idle daemon: 10 running jobs × 1,000 already-uploaded files, plus 40 finished jobs whose
// files are all in Drive. RSS, CPU, Drive requests and inotify watches over a quiet minute
// that starts once start-up has settled.
import { goal, info, type Benchmark } from './lib/figures.js';
import { writeSmallFiles } from './lib/files.js';
import { inotifyWatches } from './lib/proc.js';
import {
  CLI,
  USER_HZ,
  makeWorkspace,
  procCpuTicks,
  procMem,
  runCli,
  spawnNode,
  startBenchEmulator,
  statusCounts,
  stopChild,
  withDb,
  ROOT_FOLDER,
  rng,
} from '../test/helpers/processes.js';

export const idleBench: Benchmark = {
  name: 'idle',
  describe: 'idle daemon, 10,000 files in 10 running jobs + 40 finished ones: RSS, CPU, watches (BENCH_IDLE_SECONDS, default 60)',
  async run(ctx) {
    const B = 'idle';
    const seconds = Number(process.env.BENCH_IDLE_SECONDS ?? (ctx.quick ? 20 : 60));
    const settleSeconds = 10;
    const running = Array.from({ length: 10 }, (_, i) => `idle-job-${i}`);
    const finished = Array.from({ length: 40 }, (_, i) => `done-job-${i}`);
    const emu = await startBenchEmulator({ rootFolderId: ROOT_FOLDER, logRequests: false });
    const ws = await makeWorkspace({
      prefix: 'bds-bench-idle-',
      emulatorUrl: emu.url,
      jobIds: [...running, ...finished],
      config: { upload: { concurrency: 8 }, watch: { enabled: false } },
    });
    try {
      const w = await writeSmallFiles(ws.outputDir, running, 1000, { rand: rng(3), minB: 100, maxB: 300 });
      const wf = await writeSmallFiles(ws.outputDir, finished, 10, { rand: rng(4), minB: 100, maxB: 300 });
      await withDb(ws.dbPath, (db) => db.run(`UPDATE batch_jobs SET status = 'completed' WHERE job_id LIKE 'done-job-%'`));
      ctx.log(`${w.files} files in running jobs, ${wf.files} in finished ones; uploading them first with sync --once`);
      const r = await runCli(['sync', '--once', '--config', ws.configPath]);
      const counts = await statusCounts(ws.dbPath);
      if (counts.uploaded !== w.files + wf.files) throw new Error(`sync --once left ${JSON.stringify(counts)} (exit ${r.code}):\n${r.output.slice(-2000)}`);
      // Now the daemon proper: watcher on, the default schedules.
      ws.writeConfig({ watch: { stability_ms: 2000 } });
      const req0 = emu.stats().driveRequests;
      const d = spawnNode([CLI(), 'run', '--config', ws.configPath]);
      try {
        await d.waitForLine(/"message":"daemon started"/, 120_000);
        await new Promise((res) => setTimeout(res, settleSeconds * 1000));
        const cpu0 = procCpuTicks(d.pid);
        const t0 = performance.now();
        let maxRss = 0;
        let sumRss = 0;
        let samples = 0;
        const deadline = t0 + seconds * 1000;
        const from = d.output().length;
        while (performance.now() < deadline) {
          await new Promise((res) => setTimeout(res, Math.min(1000, Math.max(0, deadline - performance.now()))));
          const m = procMem(d.pid);
          if (!m) throw new Error(`daemon gone:\n${d.output().slice(-2000)}`);
          maxRss = Math.max(maxRss, m.rssKb);
          sumRss += m.rssKb;
          samples++;
        }
        const cpu1 = procCpuTicks(d.pid);
        const elapsed = (performance.now() - t0) / 1000;
        const cpuMs = ((cpu1 ?? 0) - (cpu0 ?? 0)) * (1000 / USER_HZ);
        const scans = (
          d
            .output()
            .slice(from)
            .match(/"message":"scan done"/g) ?? []
        ).length;
        const watches = inotifyWatches(d.pid) ?? NaN;
        // One watch per directory of a running job (one directory each here) and one for the output directory.
        const bound = running.length + 1;
        const hwm = (procMem(d.pid)?.hwmKb ?? NaN) / 1000;
        return [
          goal(
            B,
            'idle RSS, max over the period',
            maxRss / 1000,
            'MB',
            '<=',
            100,
            `${w.files} files in running jobs watched; ${seconds} s sampled every 1 s from ${settleSeconds} s after "daemon started"; mean ${(sumRss / samples / 1000).toFixed(1)} MB`,
          ),
          goal(
            B,
            'idle CPU (share of one core)',
            cpuMs / 1000 / elapsed,
            'ratio',
            '<=',
            0.005,
            `${cpuMs.toFixed(0)} ms CPU in ${elapsed.toFixed(0)} s; ${scans} scheduled scans ran in the period (scan_cron each minute)`,
          ),
          goal(
            B,
            'Drive requests while idle',
            emu.stats().driveRequests - req0,
            'req',
            '==',
            0,
            'start-up scan and scheduled scans of unchanged files included',
          ),
          goal(
            B,
            'inotify watches',
            watches,
            'watches',
            '<=',
            bound,
            `${running.length} running jobs (one directory each), ${finished.length} finished and completed jobs unwatched; bound = their directories + the output directory`,
          ),
          info(B, 'daemon peak RSS from start (VmHWM)', hwm, 'MB', 'includes the start-up walk of 10,400 files'),
        ];
      } finally {
        await stopChild(d);
      }
    } finally {
      await emu.close();
      ws.remove();
    }
  },
};
