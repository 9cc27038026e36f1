// TLS mode: the emulator over HTTPS with a certificate it is given or a private CA it makes.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { md5, withEmulator, withTlsEmulator } from '../helpers/emulator.js';
import { repoPath } from '../helpers/paths.js';
import { parseEmulatorArgs, runEmulatorCli, startEmulator } from '../../src/emulator/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** One HTTPS request; resolves with status, headers and body, rejects with the TLS error. */
function get(url: string, ca: Buffer | undefined, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers, ...(ca ? { ca } : {}) }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

function runChild(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('exit', (code) => resolve({ code, out, err }));
  });
}

const childEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  if (!('NODE_EXTRA_CA_CERTS' in extra)) delete env.NODE_EXTRA_CA_CERTS;
  return env;
};

test('self-signed mode: https URL, a private CA for 127.0.0.1/::1/localhost; trusted it works, untrusted it is refused', async (t) => {
  const emu = await withTlsEmulator(t);
  t.regex(emu.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ca = fs.readFileSync(emu.caFile);
  const dir = path.dirname(emu.caFile);
  t.deepEqual(fs.readdirSync(dir).sort(), ['ca.pem', 'cert.pem', 'key.pem'], 'the CA key is not kept');
  t.is(fs.statSync(path.join(dir, 'key.pem')).mode & 0o777, 0o600);
  const cert = new X509Certificate(fs.readFileSync(path.join(dir, 'cert.pem')));
  t.true(cert.verify(new X509Certificate(ca).publicKey));
  t.false(cert.ca, 'the server certificate is not a CA');
  t.regex(cert.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  t.regex(cert.subjectAltName ?? '', /DNS:localhost/);

  const ok = await get(`${emu.url}/__emulator/stats`, ca);
  t.is(ok.status, 200);
  t.is(JSON.parse(ok.body).totalRequests, 1);
  const byName = await get(`https://localhost:${emu.port}/__emulator/faults`, ca);
  t.is(byName.status, 200);
  const refused = await t.throwsAsync(get(`${emu.url}/__emulator/stats`, undefined));
  t.regex((refused as NodeJS.ErrnoException).code ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED/);

  // Drive calls and the resumable session URI are https too.
  const tok = await get(`${emu.url}/token`, ca, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=refresh_token&refresh_token=r&client_id=c',
  });
  const token = JSON.parse(tok.body).access_token as string;
  const start = await get(`${emu.url}/upload/drive/v3/files?uploadType=resumable`, ca, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{"name":"r"}',
  });
  t.regex(String(start.headers.location), new RegExp(`^https://127\\.0\\.0\\.1:${emu.port}/upload/drive/v3/files\\?uploadType=resumable&upload_id=`));
});

test("Google's Node client in a child process works over TLS when NODE_EXTRA_CA_CERTS names the CA, and fails without", async (t) => {
  const emu = await withTlsEmulator(t);
  const fixture = path.join(here, 'fixtures', 'tls-client.js');
  const trusted = await runChild([fixture, emu.url], childEnv({ NODE_EXTRA_CA_CERTS: emu.caFile }));
  t.is(trusted.code, 0, trusted.out + trusted.err);
  const made = JSON.parse(trusted.out.trim()) as { id: string; md5Checksum: string; size: string };
  t.deepEqual(made, { id: made.id, md5Checksum: md5('sent over TLS'), size: '13' });
  t.deepEqual(
    emu.listFiles().map((f) => [f.name, f.md5Checksum]),
    [['over-tls.txt', md5('sent over TLS')]],
  );

  const untrusted = await runChild([fixture, emu.url], childEnv({}));
  t.is(untrusted.code, 1);
  t.regex(untrusted.out, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|certificate/i);
  t.is(emu.listFiles().length, 1);
});

test('the same directory reuses the CA; given certificate files serve as they are; bad files are named', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-tls-reuse-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const first = await withEmulator(t, { tls: { selfSignedDir: dir } });
  const ca = fs.readFileSync(path.join(dir, 'ca.pem'));
  await first.close();
  const second = await withEmulator(t, { tls: { selfSignedDir: dir } });
  t.true(fs.readFileSync(path.join(dir, 'ca.pem')).equals(ca), 'clients keep trusting the same CA across restarts');
  t.is((await get(`${second.url}/__emulator/stats`, ca)).status, 200);

  const given = await withEmulator(t, { tls: { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') } });
  t.is(given.caFile, null);
  t.regex(given.url, /^https:/);
  t.is((await get(`${given.url}/__emulator/stats`, ca)).status, 200);

  await t.throwsAsync(startEmulator({ tls: { certFile: path.join(dir, 'nope.pem'), keyFile: path.join(dir, 'key.pem') } }), {
    message: new RegExp(
      `TLS certificate ${path.join(dir, 'nope.pem').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} cannot be read \\(ENOENT\\); expected a PEM file`,
    ),
  });
  const otherKey = path.join(dir, 'other-key.pem');
  fs.writeFileSync(
    otherKey,
    (await import('node:crypto')).generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  await t.throwsAsync(startEmulator({ tls: { certFile: path.join(dir, 'cert.pem'), keyFile: otherKey } }), { message: /do not make a usable pair/ });
});

test('CLI: --tls-self-signed DIR prints the https URL and names the CA on stderr; flag pairs are checked', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-tls-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = new PassThrough();
  const err = new PassThrough();
  let text = '';
  let note = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  err.on('data', (d: Buffer) => (note += d.toString()));
  const emu = await runEmulatorCli(['--tls-self-signed', dir], out, err);
  t.teardown(() => emu.close());
  t.is(text, `${emu.url}\n`);
  t.regex(emu.url, /^https:/);
  t.is(note, `emulator: TLS with a private CA; clients trust it with NODE_EXTRA_CA_CERTS=${path.join(dir, 'ca.pem')}\n`);

  t.deepEqual(parseEmulatorArgs(['--tls-cert', 'c.pem', '--tls-key', 'k.pem']), { tls: { certFile: 'c.pem', keyFile: 'k.pem' } });
  t.throws(() => parseEmulatorArgs(['--tls-cert', 'c.pem']), { message: /--tls-cert needs --tls-key/ });
  t.throws(() => parseEmulatorArgs(['--tls-key', 'k.pem']), { message: /--tls-key needs --tls-cert/ });
  t.throws(() => parseEmulatorArgs(['--tls-self-signed', 'd', '--tls-cert', 'c', '--tls-key', 'k']), { message: /alternatives/ });
});

test('the built CLI: `batch-drive-sync emulator --tls-self-signed DIR` serves HTTPS and stops on SIGTERM', async (t) => {
  const main = repoPath('dist', 'src', 'cli', 'main.js');
  t.true(fs.existsSync(main), 'run `npm run build` first');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-tls-bin-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const c = spawn(process.execPath, [main, 'emulator', '--port', '0', '--tls-self-signed', dir], { env: childEnv({}), stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void c.kill('SIGKILL'));
  let err = '';
  c.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0] as string);
    });
    c.on('exit', (code) => reject(new Error(`emulator exited ${code}: ${err}`)));
  });
  t.regex(url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ca = fs.readFileSync(path.join(dir, 'ca.pem'));
  t.is((await get(`${url}/__emulator/stats`, ca)).status, 200);
  t.regex(err, /NODE_EXTRA_CA_CERTS=.*ca\.pem/);
  const exit = new Promise<number | null>((resolve) => c.once('exit', resolve));
  c.kill('SIGTERM');
  t.is(await exit, 0);
});
