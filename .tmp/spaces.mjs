import v8 from 'node:v8';
v8.setFlagsFromString(process.env.FLAGX ?? '--max-semi-space-size=2');
const { startDaemon } = await import('../dist/src/daemon/index.js');
const sp = (w) => { console.log('==', w, 'rss', (process.memoryUsage().rss/1e6).toFixed(1)); for (const s of v8.getHeapSpaceStatistics()) console.log(s.space_name.padEnd(28), 'size', (s.space_size/1e6).toFixed(1), 'used', (s.space_used_size/1e6).toFixed(1), 'phys', (s.physical_space_size/1e6).toFixed(1)); };
sp('imported');
const d = await startDaemon({ configPath: process.argv[2], env: {}, logStream: new (await import('node:stream')).Writable({ write(c, e, cb) { cb(); } }) });
await new Promise((r) => setTimeout(r, 3000)); sp('started');
await d.stop(); process.exit(0);
