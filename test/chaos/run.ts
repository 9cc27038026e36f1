// `npm run chaos [-- --seed N] [--files N] [--kills N] [--only single|two|postgres]`: the full chaos run
// (1,000 files, 20 jobs, 5 SIGKILLs, one daemon), the same with two daemons on one database, and
// three daemons on one PostgreSQL database whose server is restarted once.
// Prints the seed and a summary; exits 1 on any violated invariant.
import { parseArgs } from 'node:util';
import { runChaos, type ChaosResult } from './chaos.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      files: { type: 'string', default: '1000' },
      jobs: { type: 'string', default: '20' },
      kills: { type: 'string', default: '5' },
      only: { type: 'string' },
    },
  });
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed)) throw new Error('--seed expects an integer');
  process.stdout.write(`chaos seed ${seed} (replay with: npm run chaos -- --seed ${seed})\n`);
  const base = {
    seed,
    files: Number(values.files),
    jobs: Number(values.jobs),
    kills: Number(values.kills),
    log: (m: string) => process.stdout.write(`  ${m}\n`),
  };
  const runs: { name: string; r: ChaosResult }[] = [];
  if (values.only === undefined || values.only === 'single') {
    process.stdout.write('\n== one daemon, SIGKILLed and restarted\n');
    runs.push({ name: 'one daemon', r: await runChaos({ ...base, daemons: 1 }) });
  }
  if (values.only !== 'single' && values.only !== 'postgres') {
    process.stdout.write('\n== two daemons on the same database, SIGKILLed and restarted\n');
    runs.push({ name: 'two daemons', r: await runChaos({ ...base, seed: seed + 1, daemons: 2 }) });
  }
  if (values.only === undefined || values.only === 'postgres') {
    process.stdout.write('\n== PostgreSQL: three daemons on one database, SIGKILLed and restarted, the server restarted once\n');
    runs.push({ name: 'three daemons on PostgreSQL', r: await runChaos({ ...base, seed: seed + 2, daemons: 3, postgres: true, serverRestarts: 1 }) });
  }
  let bad = 0;
  for (const { name, r } of runs) {
    process.stdout.write(`\n-- ${name} (seed ${r.seed}): ${r.violations.length === 0 ? 'OK' : `${r.violations.length} VIOLATION(S)`}\n`);
    for (const [k, v] of Object.entries(r.summary)) process.stdout.write(`   ${k.padEnd(36)} ${v}\n`);
    for (const v of r.violations.slice(0, 50)) process.stdout.write(`   VIOLATION: ${v}\n`);
    if (r.violations.length > 50) process.stdout.write(`   … and ${r.violations.length - 50} more\n`);
    bad += r.violations.length;
  }
  return bad === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`chaos: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
