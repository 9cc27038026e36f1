// One large file: the daemon's peak RSS while it uploads it, its throughput as a share of curl's
// to the same emulator in the same run, and bytes re-sent.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { goal, info, type Benchmark, type BenchContext, type Figure } from './lib/figures.js';
import { writeBigFile } from './lib/files.js';
import { googleCertificate, md5File, rclone, rcloneVersion, rcloneRemote, rcloneStat, startTunnel, type RcloneRemote } from '../test/helpers/rclone.js';
import {
  CLI,
  GiB,
  MiB,
  makeWorkspace,
  procMem,
  spawnNode,
  startBenchEmulator,
  stopChild,
  ROOT_FOLDER,
  type BenchEmulator,
  type LoggedRequest,
} from '../test/helpers/processes.js';
import { GiveUp, waitUntil } from '../test/helpers/poll.js';

const B = 'large';

function which(cmd: string): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    p.on('exit', (c) => resolve(c === 0));
    p.on('error', () => resolve(false));
  });
}

async function token(emu: BenchEmulator, caFile: string | null): Promise<string> {
  const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'bench-curl', client_id: 'c', client_secret: 's' }).toString();
  const https = await import('node:https');
  const http = await import('node:http');
  const ca = caFile ? readFileSync(caFile) : undefined;
  return new Promise((resolve, reject) => {
    const req = (emu.url.startsWith('https:') ? https : http).request(
      `${emu.url}/token`,
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, ...(ca ? { ca } : {}) },
      (res) => {
        let text = '';
        res.on('data', (b: Buffer) => (text += b.toString()));
        res.on('end', () => resolve((JSON.parse(text) as { access_token: string }).access_token));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Time the emulator's thread (this process's main thread) has spent waiting for a CPU, in ms
 * (/proc schedstat; null where there is none). The emulator, the peers and the daemon share the
 * machine's cores: a large figure here means a ratio measured under contention.
 */
function emulatorCpuWaitMs(): number | null {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return null;
  }
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
async function peerUpload(
  emu: BenchEmulator,
  path: string,
  size: number,
  useCurl: boolean,
  caFile: string | null,
): Promise<{ ms: number; serverMs: number; waitMs: number | null }> {
  const tok = await token(emu, caFile);
  const from = emu.requests.length;
  const wait0 = emulatorCpuWaitMs();
  const url = `${emu.url}/upload/drive/v3/files?uploadType=media`;
  const t0 = performance.now();
  if (useCurl) {
    const code = await new Promise<number | null>((resolve, reject) => {
      const p = spawn(
        'curl',
        [
          '-s',
          ...(caFile ? ['--cacert', caFile] : []),
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '-X',
          'POST',
          '--upload-file',
          path,
          '-H',
          `Authorization: Bearer ${tok}`,
          '-H',
          'Content-Type: application/octet-stream',
          url,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
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
      const req = http.request(
        url,
        { method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/octet-stream', 'content-length': String(size) } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      createReadStream(path, { highWaterMark: 1 << 20 }).pipe(req);
    });
  }
  const ms = performance.now() - t0;
  const wait1 = emulatorCpuWaitMs();
  const reqs = emu.requests.slice(from).filter((r) => r.url.startsWith('/upload/'));
  return { ms, serverMs: windowMs(reqs), waitMs: wait0 === null || wait1 === null ? null : wait1 - wait0 };
}

/** rclone copying the file to the emulator's root folder as `name`: server window, and whether rclone lists Drive's md5 and size equal to the local file's. */
async function rcloneUpload(emu: BenchEmulator, remote: RcloneRemote, path: string, name: string, localMd5: string, size: number) {
  const from = emu.requests.length;
  const wait0 = emulatorCpuWaitMs();
  await rclone(remote, ['copyto', '--retries', '1', '--low-level-retries', '1', path, `emu:${name}`]);
  const wait1 = emulatorCpuWaitMs();
  const reqs = emu.requests.slice(from).filter((r) => r.url.startsWith('/upload/'));
  const listed = await rcloneStat(remote, name);
  return {
    serverMs: windowMs(reqs),
    requests: reqs.length,
    agrees: listed?.md5 === localMd5 && listed.size === size,
    waitMs: wait0 === null || wait1 === null ? null : wait1 - wait0,
  };
}

interface Measured {
  daemonMs: number;
  peerMs: number;
  /** Load average (1 min) at the start and the end, and the emulator's wait for a CPU in each upload. */
  contention: string;
  /** rclone's server window (mean of a run before and after the daemon), when it ran. */
  rcloneMs: number | null;
  /** rclone's listing of its uploads showed the local md5 and size, both times. */
  rcloneAgrees: boolean | null;
  hwmMb: number;
  resent: number;
  requests: number;
}

/**
 * curl (and rclone, when asked) before and after the daemon (their means are the bars), the daemon
 * with production settings in between. Over TLS the emulator serves a certificate for Google's
 * names (rclone dials www.googleapis.com), trusted by all three through the run's CA file.
 */
async function measure(ctx: BenchContext, o: { size: number; tls: boolean; useCurl: boolean; useRclone: boolean; label: string }): Promise<Measured> {
  const tlsDir = o.tls ? mkdtempSync(join(tmpdir(), 'bds-bench-tls-')) : null;
  const cert = tlsDir ? await googleCertificate(tlsDir) : null;
  const caFile = cert?.caFile ?? null;
  const emu = await startBenchEmulator({ rootFolderId: ROOT_FOLDER, ...(cert ? { tls: { certFile: cert.certFile, keyFile: cert.keyFile } } : {}) });
  const tunnel = o.useRclone && tlsDir ? await startTunnel(emu.server) : null;
  // Default upload settings (resumable at ≥ 8 MiB, 8 MiB chunks): what production runs.
  const ws = await makeWorkspace({
    prefix: 'bds-bench-large-',
    emulatorUrl: emu.url,
    jobIds: ['large-job'],
    config: { watch: { enabled: false }, ...(caFile ? { drive: { ca_file: caFile } } : {}) },
  });
  try {
    const file = join(ws.outputDir, 'large-job', 'big.bin');
    const tw = performance.now();
    writeBigFile(file, o.size);
    ctx.log(`${o.label}: ${(o.size / GiB).toFixed(2)} GiB file written in ${((performance.now() - tw) / 1000).toFixed(1)} s`);
    const peer1 = await peerUpload(emu, file, o.size, o.useCurl, caFile);
    ctx.log(
      `${o.label}: peer #1 ${(o.size / MiB / (peer1.serverMs / 1000)).toFixed(0)} MiB/s (server window ${peer1.serverMs.toFixed(0)} ms, client ${peer1.ms.toFixed(0)} ms)`,
    );
    const remote =
      tunnel && tlsDir && caFile
        ? rcloneRemote(tlsDir, { accessToken: await token(emu, caFile), rootFolderId: ROOT_FOLDER, caFile, tunnelUrl: tunnel.url })
        : null;
    const localMd5 = remote ? await md5File(file) : '';
    const rc1 = remote ? await rcloneUpload(emu, remote, file, 'rclone-1.bin', localMd5, o.size) : null;
    if (rc1)
      ctx.log(
        `${o.label}: rclone #1 ${(o.size / MiB / (rc1.serverMs / 1000)).toFixed(0)} MiB/s over ${rc1.requests} upload requests (server window ${rc1.serverMs.toFixed(0)} ms)`,
      );

    const load0 = loadavg()[0] ?? 0;
    const before = emu.stats();
    const from = emu.requests.length;
    const wait0 = emulatorCpuWaitMs();
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
    const wait1 = emulatorCpuWaitMs();
    await d.waitForLine(/"message":"uploaded"/, 30_000);
    const mem = procMem(d.pid);
    await stopChild(d);
    const after = emu.stats();
    const reqs = emu.requests.slice(from).filter((r) => r.url.startsWith('/upload/'));
    const daemonMs = windowMs(reqs);
    ctx.log(
      `${o.label}: daemon ${(o.size / MiB / (daemonMs / 1000)).toFixed(0)} MiB/s over ${reqs.length} upload requests (server window ${daemonMs.toFixed(0)} ms)`,
    );
    const peer2 = await peerUpload(emu, file, o.size, o.useCurl, caFile);
    ctx.log(`${o.label}: peer #2 ${(o.size / MiB / (peer2.serverMs / 1000)).toFixed(0)} MiB/s (server window ${peer2.serverMs.toFixed(0)} ms)`);
    const rc2 = remote ? await rcloneUpload(emu, remote, file, 'rclone-2.bin', localMd5, o.size) : null;
    if (rc2) ctx.log(`${o.label}: rclone #2 ${(o.size / MiB / (rc2.serverMs / 1000)).toFixed(0)} MiB/s (server window ${rc2.serverMs.toFixed(0)} ms)`);
    const s = (ms: number | null | undefined) => (ms === null || ms === undefined ? '?' : (ms / 1000).toFixed(1));
    const waits = [
      `${o.useCurl ? 'curl' : 'node http'} ${s(peer1.waitMs)} + ${s(peer2.waitMs)}`,
      `daemon ${s(wait0 === null || wait1 === null ? null : wait1 - wait0)}`,
    ];
    if (rc1 && rc2) waits.push(`rclone ${s(rc1.waitMs)} + ${s(rc2.waitMs)}`);
    const contention = `load ${load0.toFixed(1)}→${(loadavg()[0] ?? 0).toFixed(1)}; the emulator waited for a CPU (s): ${waits.join(', ')}`;
    ctx.log(`${o.label}: ${contention}`);
    return {
      daemonMs,
      peerMs: (peer1.serverMs + peer2.serverMs) / 2,
      contention,
      rcloneMs: rc1 && rc2 ? (rc1.serverMs + rc2.serverMs) / 2 : null,
      rcloneAgrees: rc1 && rc2 ? rc1.agrees && rc2.agrees : null,
      hwmMb: (mem?.hwmKb ?? peakRssKb) / 1000,
      resent: after.bytesReceived - before.bytesReceived - o.size,
      requests: reqs.length,
    };
  } finally {
    await tunnel?.close();
    await emu.close();
    ws.remove();
    if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
  }
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const fs = statfsSync(tmpdir());
  const freeGiB = (fs.bavail * fs.bsize) / GiB;
  let size = 2 * GiB;
  let tlsSize = 1 * GiB;
  const notes: string[] = [];
  if (ctx.quick) {
    size = tlsSize = 256 * MiB;
    notes.push('quick mode: 256 MiB files');
  } else if (freeGiB < 8) {
    size = 1 * GiB;
    notes.push(`only ${freeGiB.toFixed(1)} GiB free in ${tmpdir()}: scaled down to 1 GiB`);
  }
  const useCurl = await which('curl');
  if (!useCurl) notes.push('curl not installed: the peer is Node http.request piping fs.createReadStream');
  const peerName = useCurl ? 'curl' : 'node http';
  const rcloneV = await rcloneVersion();
  const note = notes.length ? `; ${notes.join('; ')}` : '';
  const sz = (n: number) => (n >= GiB ? `${(n / GiB).toFixed(0)} GiB` : `${(n / MiB).toFixed(0)} MiB`);
  const mib = (ms: number, n: number) => (n / MiB / (ms / 1000)).toFixed(0);

  // BENCH_LARGE=http or =tls runs one part only (minutes less when working on one of them).
  const only = process.env.BENCH_LARGE;
  if (only !== undefined && only !== 'http' && only !== 'tls') throw new Error(`BENCH_LARGE=${only}: expected http or tls (or unset for both)`);
  const figures: Figure[] = [];
  if (only !== 'tls') {
    const plain = await measure(ctx, { size, tls: false, useCurl, useRclone: false, label: 'http' });
    figures.push(
      goal(B, `${sz(size)} file: daemon peak RSS (VmHWM)`, plain.hwmMb, 'MB', '<=', 100, `plain HTTP${note}`),
      goal(
        B,
        `${sz(size)} file: throughput / ${peerName} throughput`,
        plain.peerMs / plain.daemonMs,
        'ratio',
        '>=',
        0.9,
        `daemon ${mib(plain.daemonMs, size)} MiB/s vs ${peerName} ${mib(plain.peerMs, size)} MiB/s (mean of a run before and after); server-side windows; daemon with 8 MiB chunks, ${peerName} one media request; ${plain.contention}`,
      ),
      goal(B, `${sz(size)} file: bytes re-sent`, plain.resent, 'bytes', '==', 0, 'emulator bytesReceived − file size'),
      info(B, `${sz(size)} file: daemon upload requests`, plain.requests, 'req', 'resumable start + chunk PUTs'),
    );
  }
  if (only === 'http') return figures;
  const tls = await measure(ctx, { size: tlsSize, tls: true, useCurl, useRclone: rcloneV !== null, label: 'tls' });
  const tlsTimes = `daemon ${(tls.daemonMs / 1000).toFixed(1)} s, ${peerName} ${(tls.peerMs / 1000).toFixed(1)} s${tls.rcloneMs !== null ? `, rclone ${(tls.rcloneMs / 1000).toFixed(1)} s` : ''}`;
  const tlsHow = `server windows, means of a run before and after the daemon; all trust the run's CA (the daemon drive.ca_file, ${peerName} --cacert, rclone --ca-cert)`;
  const rcloneHow = `${rcloneV ?? 'rclone'} with its default 8 MiB chunks; its Drive backend always dials www.googleapis.com, so it reaches the emulator through a CONNECT tunnel that hands each socket to the emulator's TLS server (no copy), which serves a certificate for Google's names`;
  const tlsFigures: Figure[] =
    tls.rcloneMs !== null
      ? [
          goal(
            B,
            `${sz(tlsSize)} over TLS: daemon time / rclone time`,
            tls.daemonMs / tls.rcloneMs,
            'ratio',
            '<=',
            1,
            `${tlsTimes} (${tlsHow}); ${rcloneHow}; ${tls.contention}${note}`,
          ),
          info(
            B,
            `${sz(tlsSize)} over TLS: daemon time / ${peerName} time`,
            tls.daemonMs / tls.peerMs,
            'ratio',
            `${tlsTimes}; ${peerName} sends one media request`,
          ),
          goal(
            B,
            'rclone against the emulator over TLS: its two uploads listed with the local md5 and size',
            tls.rcloneAgrees ? 1 : 0,
            'bool',
            '==',
            1,
            `rclone copyto, then rclone lsjson --hash; ${rcloneV ?? ''}`,
          ),
        ]
      : [
          goal(
            B,
            `${sz(tlsSize)} over TLS: daemon time / ${peerName} time`,
            tls.daemonMs / tls.peerMs,
            'ratio',
            '<=',
            1,
            `${tlsTimes} (${tlsHow}); rclone is not installed, so ${peerName} is the bar; ${tls.contention}${note}`,
          ),
        ];
  figures.push(
    ...tlsFigures,
    goal(B, `${sz(tlsSize)} over TLS: bytes re-sent`, tls.resent, 'bytes', '==', 0),
    info(B, `${sz(tlsSize)} over TLS: daemon peak RSS`, tls.hwmMb, 'MB'),
  );
  return figures;
}

export const largeBench: Benchmark = {
  name: 'large',
  describe:
    '2 GiB file over HTTP (peak RSS, throughput vs curl, bytes re-sent) and 1 GiB over TLS (time vs rclone and curl); BENCH_LARGE=http or =tls for one part',
  run,
};
