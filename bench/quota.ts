// Quota use: how much of a per-second write quota the daemon turns into accepted writes, and how
// many of its requests Drive rejects. The real CLI (`sync --once`) runs as a child process against
// the emulator started here with `writeQuotaPerSec`.
import { goal, info, type Benchmark, type BenchContext, type Figure } from './lib/figures.js';
import { writeSmallFiles } from './lib/files.js';
import { makeWorkspace, runCli, startBenchEmulator, statusCounts, ROOT_FOLDER, rng, type LoggedRequest } from '../test/helpers/processes.js';

const WRITE = /^(POST|PATCH|DELETE) \/(upload\/)?drive\/v3\/files(\/[^/?]+)?(\?|$)/;
const isWrite = (r: LoggedRequest) => !r.url.includes('upload_id=') && !r.url.includes('generateIds') && WRITE.test(`${r.method} ${r.url}`);

async function runOne(ctx: BenchContext, quota: number, files: number, tag: string): Promise<Figure[]> {
  const B = `quota`;
  const jobs = Array.from({ length: 5 }, (_, i) => `quota-job-${i}`);
  const emu = await startBenchEmulator({ rootFolderId: ROOT_FOLDER, faults: { writeQuotaPerSec: quota, rateLimitStatus: 403, seed: 7 } });
  const ws = await makeWorkspace({
    prefix: 'bds-bench-quota-',
    emulatorUrl: emu.url,
    jobIds: jobs,
    config: { upload: { concurrency: 4 }, watch: { enabled: false } },
  });
  try {
    const w = await writeSmallFiles(ws.outputDir, jobs, Math.ceil(files / jobs.length), { rand: rng(1) });
    ctx.log(`${tag}: ${w.files} small files in ${jobs.length} jobs, emulator write quota ${quota}/s; running sync --once`);
    const r = await runCli(['sync', '--once', '--config', ws.configPath, '--max-wait-ms', '600000']);
    const counts = await statusCounts(ws.dbPath);
    if (counts.uploaded !== w.files) throw new Error(`sync --once left ${JSON.stringify(counts)} (exit ${r.code}):\n${r.output.slice(-2000)}`);
    const s = emu.stats();
    const writes = emu.requests.filter(isWrite);
    const first = writes[0];
    const last = writes[writes.length - 1];
    if (!first || !last) throw new Error('no write requests seen');
    const windowS = (last.at - first.at) / 1000;
    const accepted = emu.writesAccepted();
    const used = accepted / (quota * windowS);
    const usedWall = accepted / (quota * (r.ms / 1000));
    // The bucket starts full (one second of quota) and the window runs from the first write to the
    // last, not one interval past it: counting both in what the quota allowed, 1.0 is the ceiling.
    const usedStrict = accepted / (quota * windowS + Math.max(quota, 1) + 1);
    const rejected = s.rejectedRateLimit / s.driveRequests;
    return [
      goal(
        B,
        `${tag} quota used (accepted writes / (quota × write window))`,
        used,
        'ratio',
        '>=',
        0.9,
        `${accepted} writes accepted in ${windowS.toFixed(1)} s from first to last write; the bucket also allows a 1 s burst, so 1.0 is not a hard ceiling`,
      ),
      goal(B, `${tag} requests rejected (rate limit / all Drive requests)`, rejected, 'ratio', '<', 0.01, `${s.rejectedRateLimit} of ${s.driveRequests}`),
      info(
        B,
        `${tag} quota used, counting the bucket's initial burst as allowed (accepted / (quota × window + burst + 1))`,
        usedStrict,
        'ratio',
        'the goal figure above leaves the burst out',
      ),
      info(
        B,
        `${tag} quota used over the whole process (spawn → exit)`,
        usedWall,
        'ratio',
        `${(r.ms / 1000).toFixed(1)} s wall, includes node start, token, folders`,
      ),
      info(B, `${tag} files`, w.files, 'files'),
    ];
  } finally {
    await emu.close();
    ws.remove();
  }
}

export const quotaBench: Benchmark = {
  name: 'quota',
  describe: 'share of a write quota used, share of requests rejected (sync --once, small files)',
  async run(ctx) {
    // 10/s (600 files ≈ 60 s); the README's goal is stated at 3/s: run that too.
    const out = await runOne(ctx, 10, ctx.quick ? 150 : 600, '10/s');
    out.push(...(await runOne(ctx, 3, ctx.quick ? 45 : 240, '3/s')));
    return out;
  },
};
