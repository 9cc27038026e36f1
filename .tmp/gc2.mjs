import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
setFlagsFromString('--max-semi-space-size=2');
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const mb = (n) => (n / 1e6).toFixed(1);
const show = (w) => { const m = process.memoryUsage(); console.log(w, 'rss', mb(m.rss), 'heapTotal', mb(m.heapTotal), 'heapUsed', mb(m.heapUsed), 'ext', mb(m.external)); };
const { startDaemon } = await import('../dist/src/daemon/index.js');
show('imported');
const d = await startDaemon({ configPath: process.argv[2], env: {}, logStream: new (await import('node:stream')).Writable({ write(c, e, cb) { cb(); } }) });
show('started');
await new Promise((r) => setTimeout(r, 3000)); show('t+3');
if (process.argv[3] === 'gc') { gc(); show('gc'); }
for (let i = 0; i < 4; i++) { await new Promise((r) => setTimeout(r, 3000)); show(`+${3 * i + 3}`); }
await d.stop(); process.exit(0);
