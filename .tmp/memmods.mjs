import { setFlagsFromString } from 'node:v8';
setFlagsFromString('--max-semi-space-size=2');
const mods = process.argv.slice(2);
const mb = (n) => (n / 1e6).toFixed(1);
const snap = () => { global.gc?.(); const m = process.memoryUsage(); return m; };
let prev = snap();
console.log('start', mb(prev.rss), 'heapUsed', mb(prev.heapUsed));
for (const m of mods) {
  await import(m);
  const now = snap();
  console.log(m.padEnd(50), 'rss +', mb(now.rss - prev.rss), 'heapUsed +', mb(now.heapUsed - prev.heapUsed), 'ext +', mb(now.external - prev.external), ' total rss', mb(now.rss));
  prev = now;
}
