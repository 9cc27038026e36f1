import { spawn } from 'node:child_process'; import { readFileSync } from 'node:fs';
const [cfg, ...flags] = process.argv.slice(2);
const t0 = performance.now();
const c = spawn(process.execPath, [...flags, 'dist/src/cli/main.js', 'run', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
const onData = (b) => { out += b; if (out.includes('daemon started')) { const ms = performance.now() - t0; const st = readFileSync(`/proc/${c.pid}/stat`, 'utf8').slice(readFileSync(`/proc/${c.pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' '); const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${c.pid}/status`, 'utf8'))[1]; console.log(flags.join(' ') || '(default)', 'ready', ms.toFixed(0), 'ms cpu', (Number(st[11]) + Number(st[12])) * 10, 'ms hwm', hwm, 'scan', /"ms":(\d+)/.exec(out)?.[1]); c.kill(); } };
c.stdout.on('data', onData);
c.stderr.on('data', onData);
