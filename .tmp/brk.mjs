import { readFileSync } from 'node:fs';
const heap = () => { const s = readFileSync('/proc/self/smaps', 'utf8'); const m = /\[heap\]\n(?:.*\n)*?Rss:\s+(\d+)/.exec(s); return m ? Number(m[1]) / 1000 : 0; };
const rss = () => process.memoryUsage().rss / 1e6;
console.log('start brk', heap().toFixed(1), 'rss', rss().toFixed(1));
for (const m of process.argv.slice(2)) { await import(m); global.gc?.(); console.log(m.padEnd(40), 'brk', heap().toFixed(1), 'rss', rss().toFixed(1)); }
