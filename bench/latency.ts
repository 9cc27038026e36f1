// File closed in a watched job directory → the emulator receives the upload request for it.
// Files are written one at a time; the next is written once the previous one's upload request
// has arrived, so every upload request belongs to the file written last (checked by name at the end).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { goal, info, type Benchmark } from './lib/figures.js';
import { CLI, makeWorkspace, percentile, spawnNode, startBenchEmulator, stopChild, ROOT_FOLDER } from '../test/helpers/processes.js';
import { waitUntil } from '../test/helpers/poll.js';

const STABILITY_MS = 250;

export const latencyBench: Benchmark = {
  name: 'latency',
  describe: `file closed → upload request received (run, watch.stability_ms ${STABILITY_MS})`,
  async run(ctx) {
    const B = 'latency';
    const n = ctx.quick ? 50 : 200;
    const emu = await startBenchEmulator({ rootFolderId: ROOT_FOLDER, logRequests: false });
    const ws = await makeWorkspace({
      prefix: 'bds-bench-latency-',
      emulatorUrl: emu.url,
      jobIds: ['lat-job'],
      config: { watch: { stability_ms: STABILITY_MS } },
    });
    const d = spawnNode([CLI(), 'run', '--config', ws.configPath]);
    try {
      await d.waitForLine(/"message":"daemon started"/, 30_000);
      const lat: number[] = [];
      for (let i = 0; i < n; i++) {
        const name = `lat-${String(i).padStart(4, '0')}.bin`;
        const seen = new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no upload request for ${name} within 15 s:\n${d.output().slice(-2000)}`)), 15_000);
          emu.onRequest = (r) => {
            if (r.method === 'POST' && r.url.startsWith('/upload/drive/v3/files')) {
              clearTimeout(timer);
              emu.onRequest = null;
              resolve(r.at);
            }
          };
        });
        await writeFile(join(ws.outputDir, 'lat-job', name), randomBytes(2048));
        const closedAt = Date.now();
        lat.push((await seen) - closedAt);
      }
      await waitUntil(() => emu.stats().uploadsCompleted >= n, 30_000, 'the last uploads to finish');
      const names = emu
        .listFiles()
        .filter((f) => f.size !== null)
        .sort((a, b) => (a.createdTime < b.createdTime ? -1 : 1))
        .map((f) => f.name);
      const expected = Array.from({ length: n }, (_, i) => `lat-${String(i).padStart(4, '0')}.bin`);
      if (names.length !== n || new Set(names).size !== n || names.some((x) => !expected.includes(x)))
        throw new Error(`Drive holds ${names.length} files, expected ${n} distinct`);
      const sorted = [...lat].sort((a, b) => a - b);
      const note = `${n} files, written one by one; watch.stability_ms = ${STABILITY_MS} (a floor on the figure); measured from write close to the emulator receiving the upload request`;
      return [
        goal(B, 'file closed → upload started, p50', percentile(sorted, 50) / 1000, 's', '<=', 1, note),
        goal(B, 'file closed → upload started, p99', percentile(sorted, 99) / 1000, 's', '<=', 3),
        info(B, 'file closed → upload started, max', (sorted[sorted.length - 1] ?? NaN) / 1000, 's', `min ${(sorted[0] ?? NaN).toFixed(0)} ms`),
      ];
    } finally {
      emu.onRequest = null;
      await stopChild(d);
      await emu.close();
      ws.remove();
    }
  },
};
