// Every request — token, metadata, multipart and resumable uploads — goes to the configured
// endpoint. Sockets are watched at the lowest level (net.Socket#connect) and at http/https.request.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import test from 'ava';
import { endpointRewriter } from '../../src/drive/index.js';
import { ROOT_ID, setup, writeRandomFile } from '../helpers/drive.js';

test.serial('no request leaves for *.googleapis.com when an endpoint is set', async (t) => {
  const hosts: string[] = [];
  const origConnect = net.Socket.prototype.connect;
  const origHttp = http.request;
  const origHttps = https.request;
  const origFetch = globalThis.fetch;
  const hostOf = (a: unknown): string => {
    if (typeof a === 'string') return new URL(a).hostname;
    if (a instanceof URL) return a.hostname;
    const o = a as { host?: string; hostname?: string } | null;
    return o?.hostname ?? o?.host ?? 'localhost';
  };
  const guard = (h: string) => {
    hosts.push(h);
    if (/googleapis\.com$|google\.com$/.test(h)) throw new Error(`request to ${h} escaped the endpoint`);
  };
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    // net.connect() hands connect() its normalised arguments as an array.
    const a = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    if (a && typeof a === 'object' && !Array.isArray(a) && !('path' in (a as object) && (a as { path?: string }).path)) guard(hostOf(a));
    else if (typeof a === 'number') guard(typeof args[1] === 'string' ? args[1] : 'localhost');
    return (origConnect as (...x: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;
  http.request = ((...args: unknown[]) => {
    guard(hostOf(args[0]));
    return (origHttp as (...x: unknown[]) => http.ClientRequest)(...args);
  }) as typeof http.request;
  https.request = ((...args: unknown[]) => {
    guard(hostOf(args[0]));
    return (origHttps as (...x: unknown[]) => http.ClientRequest)(...args);
  }) as typeof https.request;
  globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    guard(hostOf(typeof input === 'object' && 'url' in input ? input.url : input));
    return origFetch(input, init);
  }) as typeof fetch;
  t.teardown(() => {
    net.Socket.prototype.connect = origConnect;
    http.request = origHttp;
    https.request = origHttps;
    globalThis.fetch = origFetch;
  });

  // The watch is live at both levels (and nothing was sent: the guard throws first).
  t.throws(() => http.request('http://www.googleapis.com/drive/v3/files'), { message: /escaped the endpoint/ });
  t.throws(() => net.connect({ host: 'oauth2.googleapis.com', port: 443 }), { message: /escaped the endpoint/ });
  hosts.length = 0;

  for (const auth of ['sa-subject', 'oauth'] as const) {
    const s = await setup(t, { auth });
    t.deepEqual(await s.drive.checkAccess(), []);
    const folder = await s.drive.ensureFolderPath(ROOT_ID, ['a', 'b']);
    const [id1, id2] = await s.drive.reserveIds(2);
    const small = await writeRandomFile(s.dir, 'small.bin', 4096);
    const big = await writeRandomFile(s.dir, 'big.bin', 1024 * 1024 + 1);
    await s.drive.upload({ fileId: id1!, name: 'small', parentId: folder, file: await s.open(small), appProperties: {}, mode: 'create' });
    await s.drive.upload({ fileId: id2!, name: 'big', parentId: folder, file: await s.open(big), appProperties: {}, mode: 'create' });
    s.emu.expireTokens();
    await s.drive.getFile(id1!);
    const routes = Object.keys(s.emu.stats().requests);
    for (const r of [
      'POST /token',
      'GET /drive/v3/files',
      'POST /upload/drive/v3/files?uploadType=multipart',
      'POST /upload/drive/v3/files?uploadType=resumable',
      'PUT resumable',
    ]) {
      t.true(routes.includes(r), `${auth}: ${r} reached the emulator`);
    }
  }
  t.true(hosts.length > 0);
  t.deepEqual([...new Set(hosts)], ['127.0.0.1']);
});

test('endpointRewriter keeps Google paths and leaves Google itself alone', (t) => {
  const rw = endpointRewriter('http://127.0.0.1:9999');
  t.is(rw('https://oauth2.googleapis.com/token').href, 'http://127.0.0.1:9999/token');
  t.is(rw('https://www.googleapis.com/upload/drive/v3/files?uploadType=multipart').href, 'http://127.0.0.1:9999/upload/drive/v3/files?uploadType=multipart');
  t.is(rw('https://www.googleapis.com/drive/v3/files/abc?fields=id').href, 'http://127.0.0.1:9999/drive/v3/files/abc?fields=id');
  t.is(rw('http://127.0.0.1:9999/upload/drive/v3/files?upload_id=x').href, 'http://127.0.0.1:9999/upload/drive/v3/files?upload_id=x');
  t.is(endpointRewriter('http://emu.local:1/prefix/')('https://www.googleapis.com/drive/v3/files').href, 'http://emu.local:1/prefix/drive/v3/files');
  t.is(endpointRewriter('https://www.googleapis.com')('https://oauth2.googleapis.com/token').href, 'https://oauth2.googleapis.com/token');
});
