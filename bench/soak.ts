// Leak check (opt-in: `npm run bench -- soak`; BENCH_SOAK_MINUTES, default 60): the daemon uploads
// a steady stream of files into jobs that start, run for a few minutes and finish; RSS is sampled
// every 5 s. Goal: the mean RSS of the last 10 minutes within 10 % of the first 10 minutes' (in a
// shorter run, the first and last sixth).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { goal, info, type Benchmark } from './lib/figures.js';
import { CLI, makeWorkspace, procMem, spawnNode, startBenchEmulator, stopChild, withDb, ROOT_FOLDER, rng } from '../test/helpers/processes.js';

const B = 'soak';

export const soakBench: Benchmark = {
  name: 'soak',
  describe: 'leak check: RSS over a long run of uploads (opt-in, BENCH_SOAK_MINUTES, default 60)',
  optIn: true,
  async run(ctx) {
    const minutes = Number(process.env.BENCH_SOAK_MINUTES ?? (ctx.quick ? 6 : 60));
    const perSec = 5;
    const jobMinutes = 2;
    const emu = await startBenchEmulator({ rootFolderId: ROOT_FOLDER, logRequests: false });
    const ws = await makeWorkspace({ prefix: 'bds-bench-soak-', emulatorUrl: emu.url, jobIds: [], config: { watch: { stability_ms: 500 } } });
    const rand = rng(17);
    const samples: { t: number; kb: number }[] = [];
    try {
      const d = spawnNode([CLI(), 'run', '--config', ws.configPath]);
      try {
        await d.waitForLine(/"message":"daemon started"/, 120_000);
        const t0 = Date.now();
        const end = t0 + minutes * 60_000;
        let job = -1;
        let jobUntil = 0;
        let files = 0;
        let nextSample = t0;
        while (Date.now() < end) {
          const now = Date.now();
          if (now >= jobUntil) {
            // The previous job finishes; a new one starts (the batch system's rhythm).
            if (job >= 0) await withDb(ws.dbPath, (db) => db.run("UPDATE batch_jobs SET status = 'completed' WHERE job_id = ?", `soak-${job}`));
            job++;
            jobUntil = now + jobMinutes * 60_000;
            mkdirSync(join(ws.outputDir, `soak-${job}`), { recursive: true });
            await withDb(ws.dbPath, (db) =>
              db.run(
                `INSERT INTO batch_jobs (job_id, status, total_files, created_at, updated_at, drive_integration_enabled, drive_upload_status)
                 VALUES (?, 'processing', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, 'pending')`,
                `soak-${job}`,
              ),
            );
          }
          // 260 kB on average, as the soak behind the figures.
          writeFileSync(join(ws.outputDir, `soak-${job}`, `f-${files++}.bin`), randomBytes(20_000 + Math.floor(rand() * 480_000)));
          if (now >= nextSample) {
            const m = procMem(d.pid);
            if (!m) throw new Error(`daemon gone:\n${d.output().slice(-2000)}`);
            samples.push({ t: now - t0, kb: m.rssKb });
            nextSample += 5000;
          }
          await new Promise((r) => setTimeout(r, 1000 / perSec));
        }
        const window = Math.min(10 * 60_000, (minutes * 60_000) / 6);
        const mean = (a: { kb: number }[]) => a.reduce((s, x) => s + x.kb, 0) / Math.max(1, a.length) / 1000;
        const first = mean(samples.filter((s) => s.t < window));
        const last = mean(samples.filter((s) => s.t >= minutes * 60_000 - window));
        const uploaded = emu.stats().uploadsCompleted;
        ctx.log(`${files} files written, ${uploaded} uploaded, ${job + 1} jobs; RSS first ${first.toFixed(1)} MB, last ${last.toFixed(1)} MB`);
        return [
          goal(
            B,
            `RSS, last ${window / 60_000} min / first ${window / 60_000} min`,
            last / first,
            'ratio',
            '<=',
            1.1,
            `${minutes} min, ${perSec} files/s of 260 kB average into ${job + 1} jobs of ${jobMinutes} min each (finished ones unwatched); mean RSS ${first.toFixed(1)} → ${last.toFixed(1)} MB; max ${(Math.max(...samples.map((s) => s.kb)) / 1000).toFixed(1)} MB`,
          ),
          info(B, 'files uploaded', uploaded, 'files', `${files} written`),
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
