import type { Benchmark } from './lib/figures.js';
export const scanBench: Benchmark = { name: 'scan', describe: 'todo', async run() { return []; } };
