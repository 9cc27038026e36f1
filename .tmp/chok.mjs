import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
setFlagsFromString('--max-semi-space-size=2'); setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
import { watch as fsWatch, readdirSync } from 'node:fs';
import { join } from 'node:path';
const { watch } = await import('chokidar');
const out = process.argv[3];
const dirs = readdirSync(out).map((d) => join(out, d));
const mb = (n) => (n / 1e6).toFixed(1);
const show = (w) => { const m = process.memoryUsage(); const c = process.cpuUsage(); console.log(w, 'rss', mb(m.rss), 'heapTotal', mb(m.heapTotal), 'heapUsed', mb(m.heapUsed), 'cpu ms', ((c.user + c.system) / 1000).toFixed(0)); };
gc(); show('before');
if (process.argv[2] === 'chokidar') {
  const w = watch(dirs, { ignoreInitial: true, followSymlinks: false, ignored: (p, st) => Boolean(st?.isFile()) });
  await new Promise((r) => w.on('ready', r));
} else {
  const ws = [];
  for (const d of dirs) { readdirSync(d, { withFileTypes: true }); ws.push(fsWatch(d, () => {})); }
}
show('ready'); gc(); show('ready+gc');
process.exit(0);
