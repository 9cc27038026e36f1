// An idle daemon watching 10,000 already-uploaded files: RSS and CPU over a quiet period.
import { goal, type Benchmark } from './lib/figures.js';
import { writeSmallFiles } from './lib/files.js';
import { CLI, USER_HZ, makeWorkspace, procCpuTicks, procMem, runCli, spawnNode, startBenchEmulator, statusCounts, stopChild, ROOT_FOLDER, rng } from '../test/helpers/processes.js';

export const idleBench: Benchmark = {
  name: 'idle',
  describe: 'idle daemon watching 10,000 files: RSS and CPU (BENCH_IDLE_SECONDS, default 60)',
  async run(ctx) {
    const B = 'idle';
    const seconds = Number(process.env.BENCH_IDLE_SECONDS ?? (ctx.quick ? 15 : 60));
    const jobs = Array.from({ length: 10 }, (_, i) => `idle-job-${i}`);
    const emu = await startBenchEmulator({ rootFolderId: ROOT_FOLDER, logRequests: false });
    const ws = await makeWorkspace({ prefix: 'bds-bench-idle-', emulatorUrl: emu.url, jobIds: jobs, config: { upload: { concurrency: 8 }, watch: { enabled: false } } });
    try {
      const w = await writeSmallFiles(ws.outputDir, jobs, 1000, { rand: rng(3), minB: 100, maxB: 300 });
      ctx.log(`${w.files} files; uploading them first with sync --once`);
      const r = await runCli(['sync', '--once', '--config', ws.configPath]);
      const counts = await statusCounts(ws.dbPath);
      if (counts.uploaded !== w.files) throw new Error(`sync --once left ${JSON.stringify(counts)} (exit ${r.code}):\n${r.output.slice(-2000)}`);
      // Now the daemon proper: watcher on, scan every minute (the default schedule).
      ws.writeConfig({ watch: { stability_ms: 2000 } });
      const req0 = emu.stats().driveRequests;
      const d = spawnNode([CLI(), 'run', '--config', ws.configPath]);
      try {
        await d.waitForLine(/"message":"daemon started"/, 120_000);
        const cpu0 = procCpuTicks(d.pid);
        const t0 = performance.now();
        let maxRss = 0;
        let sumRss = 0;
        let samples = 0;
        const deadline = t0 + seconds * 1000;
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
        const cpuShare = ((cpu1 ?? 0) - (cpu0 ?? 0)) / USER_HZ / elapsed;
        const scans = (d.output().match(/"message":"scan done"/g) ?? []).length;
        return [
          goal(B, 'idle RSS, max over the period', maxRss / 1000, 'MB', '<=', 120, `${w.files} files watched, ${seconds} s sampled every 1 s; mean ${(sumRss / samples / 1000).toFixed(1)} MB`),
          goal(B, 'idle CPU (share of one core)', cpuShare, 'ratio', '<=', 0.01, `${(((cpu1 ?? 0) - (cpu0 ?? 0)) * 10)} ms CPU in ${elapsed.toFixed(0)} s; ${scans} scans of all files ran (start-up + cron each minute); "≈ 0" read as ≤ 1 %`),
          goal(B, 'Drive requests while idle', emu.stats().driveRequests - req0, 'req', '==', 0, 'start-up scan and cron scans of unchanged files included'),
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
