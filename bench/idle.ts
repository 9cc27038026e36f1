import type { Benchmark } from './lib/figures.js';
export const idleBench: Benchmark = { name: 'idle', describe: 'todo', async run() { return []; } };
