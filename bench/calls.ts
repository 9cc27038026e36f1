// Drive requests per small file (everything counted: token excluded, folders and generateIds
// amortised over the files), and requests made by a rescan of unchanged files.
import { goal, info, type Benchmark } from './lib/figures.js';
import { writeSmallFiles } from './lib/files.js';
import { makeWorkspace, runCli, startBenchEmulator, statusCounts, ROOT_FOLDER, rng } from '../test/helpers/processes.js';

export const callsBench: Benchmark = {
  name: 'calls',
  describe: 'Drive requests per small file (10 jobs), and on a rescan of unchanged files',
  async run(ctx) {
    const B = 'calls';
    const total = ctx.quick ? 1000 : 5000;
    const jobs = Array.from({ length: 10 }, (_, i) => `calls-job-${i}`);
    const emu = await startBenchEmulator({ rootFolderId: ROOT_FOLDER, logRequests: false });
    // The default folder pattern: three folder levels per job (batch/<date>/<job>).
    const ws = await makeWorkspace({
      prefix: 'bds-bench-calls-',
      emulatorUrl: emu.url,
      jobIds: jobs,
      config: { upload: { concurrency: 8 }, watch: { enabled: false }, drive: { folder_pattern: 'batch/{yyyy}-{mm}-{dd}/{job_id}' } },
    });
    try {
      const w = await writeSmallFiles(ws.outputDir, jobs, total / jobs.length, { rand: rng(2) });
      ctx.log(`${w.files} small files in ${jobs.length} jobs; sync --once`);
      const r1 = await runCli(['sync', '--once', '--config', ws.configPath]);
      const counts = await statusCounts(ws.dbPath);
      if (counts.uploaded !== w.files) throw new Error(`first sync left ${JSON.stringify(counts)} (exit ${r1.code}):\n${r1.output.slice(-2000)}`);
      const s1 = emu.stats();
      const byRoute = Object.entries(s1.requests)
        .filter(([k]) => !k.includes('/token') && !k.includes('__emulator'))
        .map(([k, v]) => `${k}: ${Object.values(v).reduce((a, b) => a + b, 0)}`)
        .join(', ');
      ctx.log(`requests by route: ${byRoute}`);
      const r2 = await runCli(['sync', '--once', '--config', ws.configPath]);
      const s2 = emu.stats();
      if (r2.code !== 0) throw new Error(`second sync exited ${r2.code}:\n${r2.output.slice(-2000)}`);
      return [
        goal(
          B,
          'Drive requests per small file',
          s1.driveRequests / w.files,
          'req/file',
          '<=',
          1.02,
          `${s1.driveRequests} requests for ${w.files} files; ${byRoute}`,
        ),
        goal(B, 'Drive requests on rescan of unchanged files', s2.driveRequests - s1.driveRequests, 'req', '==', 0, 'second sync --once'),
        info(B, 'first sync --once wall time', r1.ms / 1000, 's', `${(w.files / (r1.ms / 1000)).toFixed(0)} files/s, concurrency 8, no quota`),
        info(B, 'rescan sync --once wall time', r2.ms / 1000, 's'),
      ];
    } finally {
      await emu.close();
      ws.remove();
    }
  },
};
