import type { Benchmark } from './lib/figures.js';
export const latencyBench: Benchmark = { name: 'latency', describe: 'todo', async run() { return []; } };
