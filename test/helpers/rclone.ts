// rclone against the emulator (the rclone conformance test, and the bar for large files over TLS
// in the benchmark). rclone's Drive backend has settings for its auth and token URLs but none for
// the API endpoint: it always dials www.googleapis.com:443. It honours HTTPS_PROXY and --ca-cert,
// so it reaches the emulator through a CONNECT tunnel that ends in the emulator's TLS server, which
// serves a certificate for Google's names signed by a CA made for the run.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface GoogleCertificate {
  certFile: string;
  keyFile: string;
  /** What clients trust: curl --cacert, the daemon's drive.ca_file, rclone --ca-cert. */
  caFile: string;
}

/** A private CA and an EC P-256 certificate for Google's API names and 127.0.0.1, made with openssl in `dir`. */
export async function googleCertificate(dir: string): Promise<GoogleCertificate> {
  const ssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=batch-drive-sync bench CA');
  await ssl('req', ...ec, '-keyout', 'key.pem', '-out', 'cert.csr', '-subj', '/CN=www.googleapis.com');
  writeFileSync(
    join(dir, 'san.ext'),
    'subjectAltName=DNS:www.googleapis.com,DNS:oauth2.googleapis.com,DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n',
  );
  await ssl('x509', '-req', '-in', 'cert.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'cert.pem', '-days', '2', '-extfile', 'san.ext');
  return { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), caFile: join(dir, 'ca.pem') };
}

export interface Tunnel {
  /** For HTTPS_PROXY. */
  url: string;
  /** CONNECT lines seen, e.g. "CONNECT www.googleapis.com:443 HTTP/1.1". */
  connects: string[];
  close(): Promise<void>;
}

/**
 * An HTTP CONNECT endpoint whose every tunnel ends at the emulator, whatever host was asked for:
 * handed to its TLS `Server` in this process (no copy: what the benchmark uses), or piped to its
 * port on 127.0.0.1.
 */
export async function startTunnel(target: Server | number): Promise<Tunnel> {
  const connects: string[] = [];
  const sockets = new Set<net.Socket>();
  const tunnel = net.createServer((c) => {
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
    c.on('error', () => c.destroy());
    let head = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      head = Buffer.concat([head, b]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16_384) c.destroy();
        return;
      }
      c.off('data', onData);
      c.pause();
      const line = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      connects.push(line);
      if (!line.startsWith('CONNECT ')) {
        c.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
        return;
      }
      const rest = head.subarray(end + 4);
      if (typeof target !== 'number') {
        c.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (rest.length) c.unshift(rest);
        target.emit('connection', c);
        c.resume();
        return;
      }
      const up = net.connect(target, '127.0.0.1', () => {
        c.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (rest.length) up.write(rest);
        c.pipe(up).pipe(c);
        c.resume();
      });
      sockets.add(up);
      up.on('close', () => sockets.delete(up));
      up.on('error', () => c.destroy());
      c.on('close', () => up.destroy());
    };
    c.on('data', onData);
  });
  await new Promise<void>((resolve) => tunnel.listen(0, '127.0.0.1', resolve));
  const addr = tunnel.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    connects,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        tunnel.close(() => resolve());
      }),
  };
}

/** Whether rclone is on PATH, and its version line. */
export async function rcloneVersion(): Promise<string | null> {
  try {
    const { stdout } = await run('rclone', ['version']);
    return stdout.split('\n')[0]?.trim() ?? null;
  } catch {
    return null;
  }
}

export interface RcloneRemote {
  /** rclone arguments that select the config, the CA and the tunnel (env). */
  args: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * A config for a Drive remote `emu:`. With `accessToken`, a token the emulator issued, valid for
 * the run (rclone never refreshes it); with `refreshToken`, an expired access token, so rclone's
 * first call refreshes it at the emulator's token endpoint (`tokenUrl`, reached directly: Go
 * never proxies 127.0.0.1). Without `rootFolderId` the remote is My Drive's root.
 */
export function rcloneRemote(
  dir: string,
  o: { caFile: string; tunnelUrl: string; rootFolderId?: string } & ({ accessToken: string } | { refreshToken: string; tokenUrl: string }),
): RcloneRemote {
  const conf = join(dir, 'rclone.conf');
  const lines = ['[emu]', 'type = drive', 'scope = drive', 'client_id = rclone-client', 'client_secret = rclone-secret'];
  if (o.rootFolderId) lines.push(`root_folder_id = ${o.rootFolderId}`);
  if ('accessToken' in o) {
    lines.push(`token = ${JSON.stringify({ access_token: o.accessToken, token_type: 'Bearer', expiry: new Date(Date.now() + 3_600_000).toISOString() })}`);
  } else {
    lines.push(`token_url = ${o.tokenUrl}`);
    lines.push(`token = ${JSON.stringify({ access_token: 'expired', token_type: 'Bearer', refresh_token: o.refreshToken, expiry: '2000-01-01T00:00:00Z' })}`);
  }
  writeFileSync(conf, lines.join('\n') + '\n', { mode: 0o600 });
  return {
    args: ['--config', conf, '--ca-cert', o.caFile],
    env: { ...process.env, HTTPS_PROXY: o.tunnelUrl, https_proxy: o.tunnelUrl, NO_PROXY: '', no_proxy: '' },
  };
}

/** Runs rclone with the remote's settings; its stdout, or a rejection with its stderr on a non-zero exit. */
export function rclone(remote: RcloneRemote, args: string[]): Promise<string>;
export function rclone(remote: RcloneRemote, args: string[], as: 'buffer'): Promise<Buffer>;
export function rclone(remote: RcloneRemote, args: string[], as?: 'buffer'): Promise<string | Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn('rclone', [...remote.args, ...args], { env: remote.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`rclone ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
      const all = Buffer.concat(out);
      resolve(as === 'buffer' ? all : all.toString('utf8'));
    });
  });
}

/** What rclone lists for one remote file: size and md5, as Drive (here the emulator) reports them. */
export async function rcloneStat(remote: RcloneRemote, name: string): Promise<{ size: number; md5: string | null } | null> {
  const list = JSON.parse(await rclone(remote, ['lsjson', '--hash', '--files-only', 'emu:'])) as { Name: string; Size: number; Hashes?: { md5?: string } }[];
  const hit = list.find((f) => f.Name === name);
  return hit ? { size: hit.Size, md5: hit.Hashes?.md5 ?? null } : null;
}

export function md5File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('md5');
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (b) => h.update(b))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
