// `npm run bench [-- [--quick] [name ...]]`: runs the benchmarks against the emulator on loopback,
// prints every figure with its goal and pass/fail, and writes bench/results.json.
// Exit code: 0 when every goal was met, 1 when one was missed or a benchmark crashed.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import { fmt, type Benchmark, type Figure } from './lib/figures.js';
import { repoRoot } from '../test/helpers/processes.js';
import { quotaBench } from './quota.js';
import { callsBench } from './calls.js';
import { largeBench } from './large.js';
import { latencyBench } from './latency.js';
import { scanBench } from './scan.js';
import { idleBench } from './idle.js';
import { startupBench } from './startup.js';
import { filesBench } from './files.js';
import { restartBench } from './restart.js';
import { soakBench } from './soak.js';
import { postgresBench } from './postgres.js';

const ALL: Benchmark[] = [
  quotaBench,
  callsBench,
  filesBench,
  largeBench,
  latencyBench,
  restartBench,
  scanBench,
  idleBench,
  startupBench,
  postgresBench,
  soakBench,
];

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`Usage: npm run bench -- [--quick] [${ALL.map((b) => b.name).join('|')} ...]\n`);
    for (const b of ALL) process.stdout.write(`  ${b.name.padEnd(8)} ${b.describe}${b.optIn ? ' (only when named)' : ''}\n`);
    return 0;
  }
  const quick = args.includes('--quick');
  const names = args.filter((a) => !a.startsWith('-'));
  const unknown = names.filter((n) => !ALL.some((b) => b.name === n));
  if (unknown.length) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${ALL.map((b) => b.name).join(', ')}\n`);
    return 64;
  }
  const selected = names.length ? ALL.filter((b) => names.includes(b.name)) : ALL.filter((b) => !b.optIn);
  const figures: Figure[] = [];
  const errors: { bench: string; error: string }[] = [];
  const started = new Date();
  process.stdout.write(`batch-drive-sync benchmarks (${quick ? 'quick' : 'full'}): ${selected.map((b) => b.name).join(', ')}\n`);
  process.stdout.write(
    `machine: ${cpus().length} cpu (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} free), node ${process.version}\n\n`,
  );
  for (const b of selected) {
    const t0 = performance.now();
    process.stdout.write(`== ${b.name}: ${b.describe}\n`);
    try {
      const f = await b.run({ quick, log: (m) => process.stdout.write(`   ${m}\n`) });
      figures.push(...f);
      for (const x of f) process.stdout.write(`   ${line(x)}\n`);
    } catch (e) {
      const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
      errors.push({ bench: b.name, error: msg });
      process.stdout.write(`   ERROR: ${msg}\n`);
    }
    process.stdout.write(`   (${((performance.now() - t0) / 1000).toFixed(1)} s)\n\n`);
  }
  printTable(figures, errors);
  const path = join(repoRoot(), 'bench', 'results.json');
  // A partial run (`npm run bench -- latency`) replaces only its own benchmarks' figures.
  const kept: (Figure & { measuredAt?: string })[] = [];
  if (names.length && existsSync(path)) {
    try {
      const prev = JSON.parse(readFileSync(path, 'utf8')) as { started?: string; figures?: (Figure & { measuredAt?: string })[] };
      for (const f of prev.figures ?? []) if (!selected.some((b) => b.name === f.bench)) kept.push({ ...f, measuredAt: f.measuredAt ?? prev.started ?? '?' });
    } catch {
      // unreadable: start afresh
    }
  }
  const out = {
    started: started.toISOString(),
    mode: quick ? 'quick' : 'full',
    node: process.version,
    cpus: cpus().length,
    figures: [...kept, ...figures.map((f) => ({ ...f, measuredAt: started.toISOString() }))],
    errors,
    passed: errors.length === 0 && [...kept, ...figures].every((f) => f.pass !== false),
  };
  writeFileSync(path, JSON.stringify(out, null, 2) + '\n');
  process.stdout.write(`\nresults written to ${path}\n`);
  return out.passed ? 0 : 1;
}

function line(f: Figure): string {
  const verdict = f.pass === null ? '' : f.pass ? '  PASS' : '  FAIL';
  return `${f.name}: ${fmt(f.value)}${f.unit && f.unit !== 'ratio' ? ' ' + f.unit : ''}${f.goal ? ` (goal ${f.goal})` : ''}${verdict}${f.note ? `  — ${f.note}` : ''}`;
}

function printTable(figures: Figure[], errors: { bench: string; error: string }[]): void {
  const rows = figures.map((f) => [
    f.bench,
    f.name,
    fmt(f.value) + (f.unit && f.unit !== 'ratio' ? ' ' + f.unit : ''),
    f.goal ?? '-',
    f.pass === null ? '' : f.pass ? 'PASS' : 'FAIL',
  ]);
  const head = ['bench', 'figure', 'value', 'goal', ''];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmtRow = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(w[i] ?? 0))
      .join('  ')
      .trimEnd();
  process.stdout.write(fmtRow(head) + '\n' + w.map((n) => '-'.repeat(n)).join('  ') + '\n');
  for (const r of rows) process.stdout.write(fmtRow(r) + '\n');
  for (const e of errors) process.stdout.write(`${e.bench}: ERROR (no figures): ${e.error.split('\n')[0]}\n`);
  const missed = figures.filter((f) => f.pass === false);
  process.stdout.write(
    `\n${figures.filter((f) => f.pass === true).length} goals met, ${missed.length} missed${errors.length ? `, ${errors.length} benchmark(s) failed to run` : ''}\n`,
  );
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
