import { watch } from 'chokidar'; import { mkdirSync, mkdtempSync } from 'node:fs'; import { join } from 'node:path';
import { inotifyWatches } from '../dist/bench/lib/proc.js';
const out = mkdtempSync('/tmp/chk-'); for (let i = 0; i < 20; i++) mkdirSync(join(out, 'w' + i));
const w = watch(out, { ignoreInitial: true, depth: 0, ignored: (p, st) => Boolean(st?.isFile()) });
await new Promise((r) => w.on('ready', r));
console.log('watches', inotifyWatches(process.pid));
process.exit(0);
