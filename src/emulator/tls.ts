import { execFile } from 'node:child_process';
import crypto, { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM material for the HTTPS server, and the CA clients should trust (self-signed mode only). */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  caFile: string | null;
}

/** Reads a given certificate and key; throws an Error naming the file and what is wrong. */
export function readTlsFiles(certFile: string, keyFile: string): TlsMaterial {
  const read = (what: string, file: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      throw new Error(`${what} ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}); expected a PEM file`, { cause: e });
    }
  };
  const cert = read('TLS certificate', certFile);
  const key = read('TLS key', keyFile);
  try {
    tls.createSecureContext({ cert, key });
  } catch (e) {
    throw new Error(
      `TLS certificate ${certFile} and key ${keyFile} do not make a usable pair (${e instanceof Error ? e.message : String(e)}); expected a PEM certificate and its private key`,
      {
        cause: e,
      },
    );
  }
  return { cert, key, caFile: null };
}

const isIp = (h: string): boolean => /^[0-9.]+$/.test(h) || h.includes(':');

/** Names a client may use to reach an emulator listening on `host`. */
export function certificateNames(host: string | undefined): string[] {
  const names = ['127.0.0.1', '::1', 'localhost'];
  const h = (host ?? '127.0.0.1').replace(/^\[|\]$/g, '');
  if (h === '0.0.0.0' || h === '::') names.push(os.hostname());
  else names.push(h);
  return [...new Set(names)];
}

function usable(dir: string, names: string[], now: number): TlsMaterial | null {
  const caFile = path.join(dir, 'ca.pem');
  try {
    const ca = new X509Certificate(fs.readFileSync(caFile));
    const certPem = fs.readFileSync(path.join(dir, 'cert.pem'));
    const keyPem = fs.readFileSync(path.join(dir, 'key.pem'));
    const cert = new X509Certificate(certPem);
    const fresh = Date.parse(cert.validTo) > now + 86_400_000 && Date.parse(ca.validTo) > now + 86_400_000;
    const covers = names.every((n) => (isIp(n) ? cert.checkIP(n) !== undefined : cert.checkHost(n) !== undefined));
    if (fresh && covers && cert.verify(ca.publicKey) && cert.checkPrivateKey(crypto.createPrivateKey(keyPem))) {
      return { cert: certPem, key: keyPem, caFile };
    }
  } catch {
    // Missing or unreadable: make new ones.
  }
  return null;
}

/**
 * A private CA and a server certificate signed by it for `names` (EC P-256), made with the
 * `openssl` command, in `dir`: `ca.pem` (what clients trust, e.g. NODE_EXTRA_CA_CERTS), `cert.pem`,
 * `key.pem` (0600). The CA's own key is deleted once the certificate is signed, so trusting
 * `ca.pem` trusts this one certificate only. Files still valid for these names are reused, so a
 * restarted emulator keeps the CA its clients already trust.
 */
export async function selfSignedCertificate(dir: string, names: string[], now: number): Promise<TlsMaterial> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const existing = usable(dir, names, now);
  if (existing) return existing;
  const work = fs.mkdtempSync(path.join(dir, '.making-'));
  try {
    const alt = names.map((n, i) => (isIp(n) ? `IP.${i + 1} = ${n}` : `DNS.${i + 1} = ${n}`)).join('\n');
    const cnf = path.join(work, 'openssl.cnf');
    fs.writeFileSync(
      cnf,
      [
        '[req]',
        'distinguished_name = dn',
        'prompt = no',
        '[dn]',
        'CN = batch-drive-sync emulator',
        '[v3_ca]',
        'basicConstraints = critical,CA:TRUE',
        'keyUsage = critical,keyCertSign,cRLSign',
        'subjectKeyIdentifier = hash',
        '[v3_leaf]',
        'basicConstraints = critical,CA:FALSE',
        'keyUsage = critical,digitalSignature',
        'extendedKeyUsage = serverAuth',
        'subjectKeyIdentifier = hash',
        'authorityKeyIdentifier = keyid',
        'subjectAltName = @alt',
        '[alt]',
        alt,
        '',
      ].join('\n'),
    );
    const tag = crypto.randomBytes(4).toString('hex');
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    const f = (n: string) => path.join(work, n);
    const openssl = async (args: string[]): Promise<void> => {
      try {
        await run('openssl', args, { cwd: work });
      } catch (e) {
        const err = e as NodeJS.ErrnoException & { stderr?: string };
        if (err.code === 'ENOENT') {
          throw new Error(
            'making a self-signed TLS certificate needs the openssl command, which was not found; install openssl, or give a certificate and key (--tls-cert, --tls-key)',
            {
              cause: e,
            },
          );
        }
        throw new Error(`openssl ${args[0]} failed while making the emulator's TLS certificate: ${(err.stderr ?? err.message).trim()}`, { cause: e });
      }
    };
    await openssl([
      'req',
      '-x509',
      '-new',
      '-config',
      cnf,
      '-extensions',
      'v3_ca',
      ...ec,
      '-subj',
      `/CN=batch-drive-sync emulator CA ${tag}`,
      '-days',
      '3650',
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.pem'),
    ]);
    await openssl(['req', '-new', '-config', cnf, ...ec, '-subj', '/CN=batch-drive-sync emulator', '-keyout', f('key.pem'), '-out', f('leaf.csr')]);
    await openssl([
      'x509',
      '-req',
      '-in',
      f('leaf.csr'),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-set_serial',
      `0x${crypto.randomBytes(8).toString('hex')}`,
      '-days',
      '825',
      '-extfile',
      cnf,
      '-extensions',
      'v3_leaf',
      '-out',
      f('cert.pem'),
    ]);
    fs.chmodSync(f('key.pem'), 0o600);
    // The key first, then the certificate, then the CA: a reader never pairs a new CA with an old key.
    fs.renameSync(f('key.pem'), path.join(dir, 'key.pem'));
    fs.renameSync(f('cert.pem'), path.join(dir, 'cert.pem'));
    fs.renameSync(f('ca.pem'), path.join(dir, 'ca.pem'));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const made = usable(dir, names, now);
  if (!made) throw new Error(`the TLS certificate made in ${dir} does not check out (names ${names.join(', ')})`);
  return made;
}
