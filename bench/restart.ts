// Uploads right after a restart: the write pacer learns Drive's quota (10 writes/s here) in a
// first run, the daemon restarts, and files then arrive at 8/s. With the learned rate kept in
// $STATE_DIRECTORY the restarted daemon keeps up at once; from the default 3/s it fell behind.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { goal, info, type Benchmark } from './lib/figures.js';
import { writeSmallFiles } from './lib/files.js';
import { waitUntil } from '../test/helpers/poll.js';
import { CLI, makeWorkspace, percentile, spawnNode, startBenchEmulator, stopChild, ROOT_FOLDER, rng } from '../test/helpers/processes.js';

const B = 'restart';

export const restartBench: Benchmark = {
  name: 'restart',
  describe: 'file closed → uploaded right after a restart, with the write pacer’s learned rate kept (quota 10 writes/s, files at 8/s)',
  async run(ctx) {
    const quota = 10;
    const perSec = 8;
    const seconds = ctx.quick ? 10 : 20;
    const emu = await startBenchEmulator({ rootFolderId: ROOT_FOLDER, logRequests: false, faults: { writeQuotaPerSec: quota, rateLimitStatus: 403, seed: 3 } });
    const ws = await makeWorkspace({
      prefix: 'bds-bench-restart-',
      emulatorUrl: emu.url,
      jobIds: ['learn', 'after'],
      config: { watch: { stability_ms: 250 } },
    });
    const env = { STATE_DIRECTORY: join(ws.dir, 'state') };
    try {
      // Run 1: a backlog of 300 files teaches the pacer the quota.
      await writeSmallFiles(ws.outputDir, ['learn'], 300, { rand: rng(5) });
      const d1 = spawnNode([CLI(), 'run', '--config', ws.configPath], { env });
      await d1.waitForLine(/"message":"daemon started"/, 120_000);
      await waitUntil(() => emu.stats().uploadsCompleted >= 300, 300_000, 'the first 300 uploads', 200);
      await stopChild(d1);
      const rejected1 = emu.stats().rejectedRateLimit;

      // Run 2: restart, then files at 8/s; each file's latency is write → its "uploaded" line.
      const d2 = spawnNode([CLI(), 'run', '--config', ws.configPath], { env });
      await d2.waitForLine(/"message":"daemon started"/, 120_000);
      const restored = /"message":"write rate restored"[^\n]*"rate_per_sec":([\d.]+)|"rate_per_sec":([\d.]+)[^\n]*"message":"write rate restored"/.exec(
        d2.output(),
      );
      const written = new Map<string, number>();
      const n = perSec * seconds;
      const t0 = Date.now();
      for (let i = 0; i < n; i++) {
        const due = t0 + (i * 1000) / perSec;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        const name = `r-${String(i).padStart(4, '0')}.bin`;
        writeFileSync(join(ws.outputDir, 'after', name), randomBytes(2048));
        written.set(name, Date.now());
      }
      await waitUntil(() => emu.stats().uploadsCompleted >= 300 + n, 300_000, 'the uploads after the restart', 200);
      const lat: number[] = [];
      for (const line of d2.output().split('\n')) {
        if (!line.includes('"message":"uploaded"') || !line.includes('"job":"after"')) continue;
        const j = JSON.parse(line) as { file: string; timestamp: string };
        const w = written.get(j.file);
        if (w !== undefined) lat.push(Date.parse(j.timestamp) - w);
      }
      await stopChild(d2);
      if (lat.length !== n) throw new Error(`${lat.length} "uploaded" lines for ${n} files`);
      lat.sort((a, b) => a - b);
      const rejected2 = emu.stats().rejectedRateLimit - rejected1;
      return [
        goal(
          B,
          'file closed → uploaded after a restart, p99',
          percentile(lat, 99) / 1000,
          's',
          '<=',
          5,
          `${n} files written at ${perSec}/s from "daemon started", quota ${quota} writes/s; p50 ${(percentile(lat, 50) / 1000).toFixed(2)} s; the restarted daemon began at ${restored ? (restored[1] ?? restored[2]) : 'the default 3'} writes/s (from $STATE_DIRECTORY/pacer.json); was 28–31 s p99 starting at 3/s`,
        ),
        info(B, 'rate-limit rejections after the restart', rejected2, 'req'),
      ];
    } finally {
      await emu.close();
      ws.remove();
    }
  },
};
