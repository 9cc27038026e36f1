import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { drive, type drive_v3 } from '@googleapis/drive';
import { JWT, OAuth2Client } from 'google-auth-library';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';

/** Starts an emulator on 127.0.0.1:0 and closes it when the test ends. */
export async function withEmulator(t: ExecutionContext, opts: EmulatorOptions = {}): Promise<Emulator> {
  const emu = await startEmulator(opts);
  t.teardown(() => emu.close());
  return emu;
}

/**
 * Starts an HTTPS emulator with a private CA made in a temp dir (removed when the test ends).
 * `emu.caFile` is the CA to trust: `ca` for https.request, NODE_EXTRA_CA_CERTS for a child process.
 */
export async function withTlsEmulator(t: ExecutionContext, opts: EmulatorOptions = {}): Promise<Emulator & { caFile: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-tls-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const emu = await withEmulator(t, { tls: { selfSignedDir: dir }, ...opts });
  if (emu.caFile === null) throw new Error('a self-signed TLS emulator reported no CA file');
  return emu as Emulator & { caFile: string };
}

type Interceptable = { transporter: { interceptors: { request: { add(i: { resolved: (o: { url?: string | URL }) => Promise<unknown> }): void } } } };

/** Sends every *.googleapis.com request (token endpoint included) of this auth client to the emulator. */
export function routeToEmulator<T extends OAuth2Client>(auth: T, baseUrl: string): T {
  (auth as unknown as Interceptable).transporter.interceptors.request.add({
    resolved: async (o) => {
      if (o.url !== undefined) {
        const u = new URL(String(o.url));
        if (u.hostname.endsWith('.googleapis.com')) o.url = new URL(`${baseUrl}${u.pathname}${u.search}`);
      }
      return o;
    },
  });
  return auth;
}

export function oauthClient(emu: Emulator, refreshToken = 'rt-test', forceRefreshOnFailure = false): OAuth2Client {
  const auth = new OAuth2Client({ clientId: 'client-id.apps.googleusercontent.com', clientSecret: 'secret', forceRefreshOnFailure });
  auth.setCredentials({ refresh_token: refreshToken });
  return routeToEmulator(auth, emu.url);
}

let cachedKey: string | null = null;
function privateKey(): string {
  cachedKey ??= crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  }).privateKey;
  return cachedKey;
}

export function serviceAccountClient(emu: Emulator, subject?: string): JWT {
  const auth = new JWT({
    email: 'sa@project.iam.gserviceaccount.com',
    key: privateKey(),
    scopes: ['https://www.googleapis.com/auth/drive'],
    ...(subject ? { subject } : {}),
  });
  return routeToEmulator(auth, emu.url);
}

export function driveClient(auth: OAuth2Client): drive_v3.Drive {
  // googleapis-common nests its own google-auth-library copy: same runtime shape, distinct TS class.
  return drive({ version: 'v3', auth: auth as unknown as drive_v3.Options['auth'] });
}

/** An access token for raw HTTP calls. */
export async function userToken(emu: Emulator, refreshToken = 'rt-raw'): Promise<string> {
  const res = await fetch(`${emu.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'c', client_secret: 's' }),
  });
  const body = (await res.json()) as { access_token: string };
  return body.access_token;
}

/** fetch against the emulator with a bearer token; returns status, headers and parsed JSON (if any). */
export async function api(
  emu: Emulator,
  token: string | null,
  method: string,
  pathAndQuery: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: any }> {
  const h: Record<string, string> = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload: Uint8Array | string | undefined;
  if (body instanceof Uint8Array || typeof body === 'string') payload = body;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['content-type'] ??= 'application/json';
  }
  const url = pathAndQuery.startsWith('http') ? pathAndQuery : `${emu.url}${pathAndQuery}`;
  const res = await fetch(url, { method, headers: h, body: payload, redirect: 'manual' });
  const text = await res.text();
  let json: any = null;
  if (text !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
  }
  return { status: res.status, headers: res.headers, json };
}

export function md5(b: Buffer | string): string {
  return crypto.createHash('md5').update(b).digest('hex');
}
