// One large file: the daemon's peak RSS while it uploads it, its throughput as a share of curl's
// to the same emulator in the same run, and bytes re-sent.
import { spawn } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goal, info, type Benchmark, type BenchContext, type Figure } from './lib/figures.js';
import { writeBigFile } from './lib/files.js';
import { CLI, GiB, MiB, makeWorkspace, procMem, spawnNode, startBenchEmulator, stopChild, ROOT_FOLDER, type BenchEmulator, type LoggedRequest } from '../test/helpers/processes.js';
import { GiveUp, waitUntil } from '../test/helpers/poll.js';

const B = 'large';

function which(cmd: string): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    p.on('exit', (c) => resolve(c === 0));
    p.on('error', () => resolve(false));
  });
}

async function token(emu: BenchEmulator): Promise<string> {
  const res = await fetch(`${emu.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'bench-curl', client_id: 'c', client_secret: 's' }),
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

/** Server-side window of one upload: first request arrival → last response done. */
function windowMs(reqs: LoggedRequest[]): number {
  const first = reqs[0];
  const lastDone = Math.max(...reqs.map((r) => r.doneAt ?? 0));
  if (!first || !lastDone) throw new Error('upload requests not seen by the emulator');
  return lastDone - first.at;
}

/**
 * curl (or, without curl, Node's http piping a read stream) sending the file as one media upload.
 * `--upload-file` with `-X POST`, not `--data-binary @file`: curl reads a --data-binary file into
 * memory first and fails on 2 GiB ("option --data-binary: out of memory").
 */
async function peerUpload(emu: BenchEmulator, path: string, size: number, useCurl: boolean): Promise<{ ms: number; serverMs: number }> {
  const tok = await token(emu);
  const from = emu.requests.length;
  const url = `${emu.url}/upload/drive/v3/files?uploadType=media`;
  const t0 = performance.now();
  if (useCurl) {
    const code = await new Promise<number | null>((resolve, reject) => {
      const p = spawn('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '--upload-file', path, '-H', `Authorization: Bearer ${tok}`, '-H', 'Content-Type: application/octet-stream', url], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (b: Buffer) => (out += b.toString()));
      p.on('error', reject);
      p.on('exit', (c) => (out.trim() === '200' ? resolve(c) : reject(new Error(`curl exit ${c}, HTTP ${out}`))));
    });
    void code;
  } else {
    const http = await import('node:http');
    const { createReadStream } = await import('node:fs');
    await new Promise<void>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/octet-stream', 'content-length': String(size) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      createReadStream(path, { highWaterMark: 1 << 20 }).pipe(req);
    });
  }
  const ms = performance.now() - t0;
  const reqs = emu.requests.slice(from).filter((r) => r.url.startsWith('/upload/'));
  return { ms, serverMs: windowMs(reqs) };
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const fs = statfsSync(tmpdir());
  const freeGiB = (fs.bavail * fs.bsize) / GiB;
  let size = 2 * GiB;
  const notes: string[] = [];
  if (ctx.quick) {
    size = 256 * MiB;
    notes.push('quick mode: 256 MiB file');
  } else if (freeGiB < 8) {
    size = 1 * GiB;
    notes.push(`only ${freeGiB.toFixed(1)} GiB free in ${tmpdir()}: scaled down to 1 GiB`);
  }
  const useCurl = await which('curl');
  if (!useCurl) notes.push('curl not installed: the peer is Node http.request piping fs.createReadStream');
  const peerName = useCurl ? 'curl' : 'node http';

  const emu = await startBenchEmulator({ rootFolderId: ROOT_FOLDER });
  // Default upload settings (resumable at ≥ 8 MiB, 8 MiB chunks): what production runs.
  const ws = await makeWorkspace({ prefix: 'bds-bench-large-', emulatorUrl: emu.url, jobIds: ['large-job'], config: { watch: { enabled: false } } });
  try {
    const file = join(ws.outputDir, 'large-job', 'big.bin');
    const tw = performance.now();
    writeBigFile(file, size);
    ctx.log(`${(size / GiB).toFixed(2)} GiB file written in ${((performance.now() - tw) / 1000).toFixed(1)} s (${freeGiB.toFixed(0)} GiB were free)`);

    const peer1 = await peerUpload(emu, file, size, useCurl);
    ctx.log(`${peerName} #1: ${(size / MiB / (peer1.serverMs / 1000)).toFixed(0)} MiB/s (server window ${peer1.serverMs.toFixed(0)} ms, client ${peer1.ms.toFixed(0)} ms)`);

    const before = emu.stats();
    const from = emu.requests.length;
    const d = spawnNode([CLI(), 'run', '--config', ws.configPath]);
    let peakRssKb = 0;
    await waitUntil(
      () => {
        const m = procMem(d.pid);
        if (m) peakRssKb = Math.max(peakRssKb, m.rssKb);
        if (d.proc.exitCode !== null) throw new GiveUp(`daemon exited (${d.proc.exitCode}):\n${d.output().slice(-2000)}`);
        return emu.stats().uploadsCompleted > before.uploadsCompleted;
      },
      30 * 60_000,
      'the daemon to upload the large file',
      100,
    );
    await d.waitForLine(/"message":"uploaded"/, 30_000);
    const mem = procMem(d.pid);
    await stopChild(d);
    const after = emu.stats();
    const reqs = emu.requests.slice(from).filter((r) => r.url.startsWith('/upload/'));
    const daemonMs = windowMs(reqs);
    const resent = after.bytesReceived - before.bytesReceived - size;
    ctx.log(`daemon: ${(size / MiB / (daemonMs / 1000)).toFixed(0)} MiB/s over ${reqs.length} upload requests (server window ${daemonMs.toFixed(0)} ms)`);

    const peer2 = await peerUpload(emu, file, size, useCurl);
    ctx.log(`${peerName} #2: ${(size / MiB / (peer2.serverMs / 1000)).toFixed(0)} MiB/s (server window ${peer2.serverMs.toFixed(0)} ms)`);
    const peerMs = (peer1.serverMs + peer2.serverMs) / 2;
    const hwmMb = (mem?.hwmKb ?? peakRssKb) / 1000;
    const note = notes.join('; ');
    return [
      goal(B, 'daemon peak RSS (VmHWM)', hwmMb, 'MB', '<=', 100, `${(size / GiB).toFixed(2)} GiB file; the goal is 100 MB${note ? '; ' + note : ''}`),
      goal(B, `throughput / ${peerName} throughput`, peerMs / daemonMs, 'ratio', '>=', 0.8,
        `daemon ${(size / MiB / (daemonMs / 1000)).toFixed(0)} MiB/s vs ${peerName} ${(size / MiB / (peerMs / 1000)).toFixed(0)} MiB/s (mean of a run before and after); server-side windows; daemon with 8 MiB chunks`),
      goal(B, 'bytes re-sent', resent, 'bytes', '==', 0, 'emulator bytesReceived − file size'),
      info(B, 'daemon upload requests', reqs.length, 'req', 'resumable start + chunk PUTs'),
    ];
  } finally {
    await emu.close();
    ws.remove();
  }
}

export const largeBench: Benchmark = {
  name: 'large',
  describe: '2 GiB file: daemon peak RSS, throughput vs curl, bytes re-sent',
  run,
};
