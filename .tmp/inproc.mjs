import { setFlagsFromString } from 'node:v8';
setFlagsFromString('--max-semi-space-size=2');
import { readFileSync } from 'node:fs';
const { startDaemon } = await import('../dist/src/daemon/index.js');
const brk = () => { const s = readFileSync('/proc/self/smaps', 'utf8'); const m = /\[heap\]\n(?:.*\n)*?Rss:\s+(\d+)/.exec(s); return m ? Number(m[1]) / 1000 : 0; };
const mb = (n) => (n / 1e6).toFixed(1);
const show = (w) => { const m = process.memoryUsage(); const c = process.cpuUsage(); console.log(w, 'rss', mb(m.rss), 'heapTotal', mb(m.heapTotal), 'heapUsed', mb(m.heapUsed), 'ext', mb(m.external), 'ab', mb(m.arrayBuffers), 'brk', brk().toFixed(1), 'cpu', ((c.user + c.system) / 1000).toFixed(0)); };
show('before');
const d = await startDaemon({ configPath: process.argv[2], env: {}, logStream: new (await import('node:stream')).Writable({ write(c, e, cb) { cb(); } }) });
show('started');
const secs = Number(process.argv[3] ?? 20);
for (let i = 0; i < secs / 2; i++) { await new Promise((r) => setTimeout(r, 2000)); show(`t+${(i + 1) * 2}`); }
await d.stop();
show('stopped');
process.exit(0);
