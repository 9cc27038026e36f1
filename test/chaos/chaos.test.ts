// Short chaos run inside `npm test`: 150 files, 2 SIGKILLs, the same faults as `npm run chaos`
// (10 % 5xx, 5 % resets, 429 bursts), the same invariants (re-sent bytes: at most one chunk per
// upload in flight per kill; the 1 % share is checked by the full run). Spawns the built CLI (dist/), which
// `npm test` builds first. CHAOS_SEED=N replays a run.
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/processes.js';
import { runChaos } from './chaos.js';

test('chaos (short): SIGKILLs and injected faults lose, duplicate and corrupt nothing', async (t) => {
  t.timeout(150_000);
  if (!existsSync(join(repoRoot(), 'dist', 'src', 'cli', 'main.js'))) {
    t.fail('dist/src/cli/main.js missing: run `npm run build` (npm test does) before this test');
    return;
  }
  const seed = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);
  t.log(`seed ${seed} (replay: CHAOS_SEED=${seed} npm test -- dist/test/chaos/chaos.test.js)`);
  const r = await runChaos({ seed, files: 150, jobs: 10, kills: 2, daemons: 1, timeoutMs: 120_000, resentShareLimit: null, log: (m) => t.log(m) });
  t.log(JSON.stringify(r.summary));
  t.deepEqual(r.violations, [], `seed ${seed}`);
  t.is(r.summary.matchedFiles, 150);
});

// The same on PostgreSQL: three daemons on one database, SIGKILLs, and the database server
// restarted once mid-run (the full run: `npm run chaos`).
test('chaos (short, PostgreSQL): three daemons, SIGKILLs, a server restart and injected faults lose, duplicate and corrupt nothing', async (t) => {
  t.timeout(200_000);
  const seed = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);
  t.log(`seed ${seed} (replay: CHAOS_SEED=${seed} npm test -- dist/test/chaos/chaos.test.js)`);
  const r = await runChaos({
    seed,
    files: 120,
    jobs: 6,
    kills: 2,
    daemons: 3,
    postgres: true,
    serverRestarts: 1,
    timeoutMs: 170_000,
    resentShareLimit: null,
    log: (m) => t.log(m),
  });
  t.log(JSON.stringify(r.summary));
  t.deepEqual(r.violations, [], `seed ${seed}`);
  t.is(r.summary.matchedFiles, 120);
  t.is(r.summary.serverRestarts, 1);
});
