import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createAuthService } from './auth.js';
import { discoveryDocument } from './discovery.js';
import { createDriveModel } from './drive.js';
import { DriveApiError, authError, backendError, invalidParam, notFound, rateLimited } from './errors.js';
import { createFaultEngine } from './faults.js';
import { drain, flag, prettyOf, readFormBody, readJsonBody, send, sendError, type Reply } from './http-util.js';
import { zeroCounters, type Runtime } from './runtime.js';
import { createStore, type Identity } from './store.js';
import type { Emulator, EmulatorFaults, EmulatorOptions, EmulatorStats } from './types.js';
import { certificateNames, readTlsFiles, selfSignedCertificate } from './tls.js';
import { expireAllSessions, handleMedia, handleMultipart, handleResumableStart, handleSessionPut, type UploadTarget } from './upload.js';

interface Route {
  /** Stats key, see EmulatorStats. */
  key: string;
  kind: 'token' | 'admin' | 'drive' | 'none';
  write: boolean;
  /** Session PUTs are authorised by the upload id, not a bearer token. */
  needsAuth: boolean;
  handle: (identity: Identity | null) => Promise<Reply>;
}

const FILE_PATH = /^\/drive\/v3\/files\/([^/]+)$/;
const UPLOAD_FILE_PATH = /^\/upload\/drive\/v3\/files\/([^/]+)$/;
const DRIVE_PATH = /^\/drive\/v3\/drives\/([^/]+)$/;
const COPY_PATH = /^\/drive\/v3\/files\/([^/]+)\/copy$/;
const PERMISSIONS_PATH = /^\/drive\/v3\/files\/([^/]+)\/permissions$/;
const DISCOVERY_PATH = '/discovery/v1/apis/drive/v3/rest';

function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Builds the server without listening (fastify-style build/listen split). */
export function createEmulator(opts: EmulatorOptions = {}): { server: http.Server; listen(): Promise<Emulator> } {
  const clock = opts.clock ?? Date.now;
  const persistent = opts.dataDir !== undefined;
  const baseDir = persistent ? path.resolve(opts.dataDir as string) : fs.mkdtempSync(path.join(os.tmpdir(), 'drive-emulator-'));
  fs.mkdirSync(baseDir, { recursive: true });
  const store = createStore(baseDir, persistent);
  const counters = zeroCounters();
  const faults = createFaultEngine(opts.faults, clock);
  const auth = createAuthService(clock);
  const model = createDriveModel({
    store,
    clock,
    faults: faults.faults,
    rootFolderId: opts.rootFolderId,
    sharedDriveId: opts.sharedDriveId,
    onRateLimited: () => {
      counters.rejectedRateLimit++;
    },
    shortPage: (n) => {
      const cut = faults.shortPage(n);
      if (cut !== null) counters.shortPages++;
      return cut;
    },
  });
  model.ensureRoots();
  let listeningUrl = '';

  const rt: Runtime = {
    model,
    store,
    faults,
    auth,
    clock,
    counters,
    sessionLocks: new Map(),
    hashers: new Map(),
    baseUrl: (host) => (host ? `${opts.tls ? 'https' : 'http'}://${host}` : listeningUrl),
  };

  const stats = (): EmulatorStats => ({
    ...structuredClone(counters),
    uploadedBytesToday: model.uploadedToday(),
    storedBytes: store.storedBytes(),
  });

  const reset = (): void => {
    store.clear();
    rt.hashers.clear();
    model.ensureRoots();
    Object.assign(counters, zeroCounters());
    faults.resetCounters();
  };

  const record = (key: string, status: string): void => {
    const byStatus = (counters.requests[key] ??= {});
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  };

  const adminRoute = (req: IncomingMessage, url: URL): Route => {
    const action = url.pathname.slice('/__emulator/'.length);
    const key = `${req.method ?? 'GET'} /__emulator/${action}`;
    const r = (handle: () => Promise<Reply>): Route => ({ key, kind: 'admin', write: false, needsAuth: false, handle });
    const json = (v: unknown): Reply => ({ status: 200, json: v });
    if (req.method === 'GET') {
      if (action === 'state') return r(async () => json(model.dump(store.sessions.size)));
      if (action === 'stats') return r(async () => json(stats()));
      if (action === 'faults') return r(async () => json(faults.faults));
      if (action === 'files') return r(async () => json(model.files()));
    }
    if (req.method === 'POST') {
      if (action === 'reset') return r(async () => (await drain(req), reset(), json({ ok: true })));
      if (action === 'expire-tokens') return r(async () => (await drain(req), auth.expireAll(), json({ ok: true })));
      if (action === 'expire-sessions') return r(async () => (await drain(req), expireAllSessions(rt), json({ ok: true })));
      if (action === 'revoke-refresh-token') {
        return r(async () => {
          const body = await readJsonBody(req);
          if (typeof body.refresh_token !== 'string' || body.refresh_token === '') {
            return { status: 400, json: { error: 'refresh_token (string) is required' } };
          }
          auth.revoke(body.refresh_token);
          return json({ ok: true });
        });
      }
      if (action === 'faults') {
        return r(async () => {
          const body = await readJsonBody(req);
          try {
            faults.set(body as Partial<EmulatorFaults>);
          } catch (e) {
            return { status: 400, json: { error: e instanceof Error ? e.message : String(e) } };
          }
          return json(faults.faults);
        });
      }
    }
    return r(async () => ({ status: 404, json: { error: `unknown emulator route ${key}` } }));
  };

  const route = (req: IncomingMessage, url: URL): Route => {
    const method = req.method ?? 'GET';
    const p = url.pathname;
    const q = url.searchParams;
    const sad = flag(q.get('supportsAllDrives')) || flag(q.get('supportsTeamDrives'));
    const drive = (key: string, write: boolean, handle: (identity: Identity | null) => Promise<Reply>, needsAuth = true): Route => ({
      key,
      kind: 'drive',
      write,
      needsAuth,
      handle,
    });

    if (p === '/token' || p === '/oauth2/v4/token') {
      return {
        key: `${method} /token`,
        kind: 'token',
        write: false,
        needsAuth: false,
        handle: async () => {
          if (method !== 'POST') return { status: 405, json: { error: 'invalid_request', error_description: 'POST only' } };
          const answer = auth.token(await readFormBody(req));
          if (answer.status === 200) counters.tokensIssued++;
          return { status: answer.status, json: answer.body, headers: { 'cache-control': 'no-store' } };
        },
      };
    }
    if (p.startsWith('/__emulator/')) return adminRoute(req, url);

    // Drive's discovery document (and so @googleapis/drive) uses GET; POST is accepted too.
    if (p === '/drive/v3/files/generateIds' && (method === 'GET' || method === 'POST')) {
      return drive(`${method} /drive/v3/files/generateIds`, false, async () => {
        await drain(req);
        return { status: 200, json: model.generateIds(q.get('count'), q.get('space'), q.get('type')) };
      });
    }
    if (p === '/drive/v3/files') {
      if (method === 'GET') {
        return drive('GET /drive/v3/files', false, async () => ({
          status: 200,
          json: model.list({
            q: q.get('q'),
            pageSize: q.get('pageSize'),
            pageToken: q.get('pageToken'),
            corpora: q.get('corpora'),
            driveId: q.get('driveId') ?? q.get('teamDriveId'),
            includeItemsFromAllDrives: flag(q.get('includeItemsFromAllDrives')) || flag(q.get('includeTeamDriveItems')),
            supportsAllDrives: sad,
            fields: q.get('fields'),
            orderBy: q.get('orderBy'),
          }),
        }));
      }
      if (method === 'POST') {
        return drive('POST /drive/v3/files', true, async (identity) => {
          const meta = await readJsonBody(req);
          const draft = model.prepareCreate(meta, identity as Identity, sad, null, false);
          return { status: 200, json: model.resource(model.commitCreate(draft, null), q.get('fields')) };
        });
      }
    }
    if (p === '/drive/v3/files/trash' && method === 'DELETE') {
      return drive('DELETE /drive/v3/files/trash', true, async () => {
        await drain(req);
        model.emptyTrash(q.get('driveId'));
        return { status: 204 };
      });
    }
    if (p === '/drive/v3/about' && method === 'GET') {
      return drive('GET /drive/v3/about', false, async (identity) => ({ status: 200, json: model.about(identity as Identity, q.get('fields')) }));
    }
    if (p === '/drive/v3/drives' && method === 'GET') {
      return drive('GET /drive/v3/drives', false, async () => ({
        status: 200,
        json: model.listDrives(q.get('pageSize'), q.get('pageToken'), q.get('q'), q.get('fields')),
      }));
    }
    if (p === DISCOVERY_PATH && method === 'GET') {
      return {
        key: `GET ${DISCOVERY_PATH}`,
        kind: 'none',
        write: false,
        needsAuth: false,
        handle: async () => {
          await drain(req);
          return { status: 200, json: discoveryDocument(rt.baseUrl(req.headers.host)) };
        },
      };
    }
    let m = COPY_PATH.exec(p);
    if (m && method === 'POST') {
      const id = decodeId(m[1] as string);
      return drive('POST /drive/v3/files/{id}/copy', true, async (identity) => {
        const meta = await readJsonBody(req);
        return { status: 200, json: model.resource(model.copy(id, meta, identity as Identity, sad), q.get('fields')) };
      });
    }
    m = PERMISSIONS_PATH.exec(p);
    if (m && (method === 'POST' || method === 'GET')) {
      const id = decodeId(m[1] as string);
      if (method === 'GET') {
        return drive('GET /drive/v3/files/{id}/permissions', false, async () => ({ status: 200, json: model.listPermissions(id, sad, q.get('fields')) }));
      }
      return drive('POST /drive/v3/files/{id}/permissions', true, async () => {
        const body = await readJsonBody(req);
        return { status: 200, json: model.createPermission(id, body, sad, flag(q.get('transferOwnership')), q.get('fields')) };
      });
    }
    m = FILE_PATH.exec(p);
    if (m && p !== '/drive/v3/files/generateIds') {
      const id = decodeId(m[1] as string);
      if (method === 'GET' && q.get('alt') === 'media') {
        return drive('GET /drive/v3/files/{id}?alt=media', false, async () => download(req, id, sad));
      }
      if (method === 'GET') {
        return drive('GET /drive/v3/files/{id}', false, async () => ({ status: 200, json: model.resource(model.getVisible(id, sad), q.get('fields')) }));
      }
      if (method === 'PATCH') {
        return drive('PATCH /drive/v3/files/{id}', true, async () => {
          const meta = await readJsonBody(req);
          const it = model.getVisible(id, sad);
          model.checkPatch(it, meta, q.get('addParents'), q.get('removeParents'), sad);
          const next = model.commitUpdate(id, meta, q.get('addParents'), q.get('removeParents'), sad, null);
          return { status: 200, json: model.resource(next, q.get('fields')) };
        });
      }
      if (method === 'DELETE') {
        return drive('DELETE /drive/v3/files/{id}', true, async () => {
          await drain(req);
          model.remove(id, sad);
          return { status: 204 };
        });
      }
    }
    m = DRIVE_PATH.exec(p);
    if (m && method === 'GET') {
      const id = decodeId(m[1] as string);
      return drive('GET /drive/v3/drives/{id}', false, async () => ({ status: 200, json: model.getDrive(id) }));
    }
    const uploadId = q.get('upload_id');
    const um = UPLOAD_FILE_PATH.exec(p);
    if ((p === '/upload/drive/v3/files' || um) && uploadId !== null && (method === 'PUT' || method === 'POST')) {
      return drive('PUT resumable', false, async () => handleSessionPut(rt, req, url), false);
    }
    if ((p === '/upload/drive/v3/files' && method === 'POST') || (um && method === 'PATCH')) {
      const uploadType = q.get('uploadType') ?? 'media';
      const target: UploadTarget = um ? { kind: 'update', id: decodeId(um[1] as string) } : { kind: 'create' };
      const key = `${method} /upload/drive/v3/files${um ? '/{id}' : ''}?uploadType=${uploadType}`;
      const handler =
        uploadType === 'multipart' ? handleMultipart : uploadType === 'media' ? handleMedia : uploadType === 'resumable' ? handleResumableStart : null;
      if (!handler) {
        return drive(`${method} /upload/drive/v3/files${um ? '/{id}' : ''}?uploadType=other`, false, async () => {
          throw invalidParam('uploadType', `Invalid value for uploadType: ${uploadType}`);
        });
      }
      return drive(key, true, async (identity) => handler(rt, req, url, identity as Identity, target));
    }
    const isDrive = p.startsWith('/drive/') || p.startsWith('/upload/');
    return {
      key: isDrive ? `OTHER ${p.startsWith('/drive/') ? '/drive' : '/upload'}` : 'OTHER',
      kind: isDrive ? 'drive' : 'none',
      write: false,
      needsAuth: isDrive,
      handle: async () => {
        await drain(req);
        if (!isDrive) return { status: 404, json: { error: 'not found' } };
        throw new DriveApiError(404, { domain: 'global', reason: 'notFound', message: `Method not found: ${method} ${p}` });
      },
    };
  };

  const download = async (req: IncomingMessage, id: string, sad: boolean): Promise<Reply> => {
    const it = model.getVisible(id, sad);
    const file = model.blobPath(it);
    if (it.size === null) {
      throw new DriveApiError(403, {
        domain: 'global',
        reason: 'fileNotDownloadable',
        message: 'Only files with binary content can be downloaded. Use Export with Docs Editors files.',
        location: 'alt',
        locationType: 'parameter',
      });
    }
    const res = (req as IncomingMessage & { res?: ServerResponse }).res;
    if (!res) throw notFound(id);
    let start = 0;
    let end = it.size - 1;
    let status = 200;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    // An empty file has no byte a range could name: Google answers 416, like RFC 9110 says.
    if (range && it.size === 0) return { status: 416, headers: { 'content-range': 'bytes */0' } };
    if (range) {
      const a = range[1] === '' ? null : Number(range[1]);
      const b = range[2] === '' ? null : Number(range[2]);
      if (a === null && b !== null) start = Math.max(0, it.size - b);
      else if (a !== null) {
        start = a;
        if (b !== null) end = Math.min(b, it.size - 1);
      }
      if (start > end) {
        return { status: 416, headers: { 'content-range': `bytes */${it.size}` } };
      }
      status = 206;
    }
    const headers: Record<string, string> = {
      'content-type': it.mimeType,
      'content-length': String(it.size === 0 ? 0 : end - start + 1),
      'x-goog-hash': `md5=${Buffer.from(it.md5 ?? '', 'hex').toString('base64')}`,
    };
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${it.size}`;
    res.writeHead(status, headers);
    if (it.size === 0 || !file) {
      res.end();
      return 'handled';
    }
    const stream = fs.createReadStream(file, { start, end });
    await new Promise<void>((resolve) => {
      stream.on('error', () => {
        res.destroy();
        resolve();
      });
      res.on('close', () => {
        stream.destroy();
        resolve();
      });
      stream.pipe(res);
    });
    return 'handled';
  };

  const handleRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    (req as IncomingMessage & { res?: ServerResponse }).res = res;
    counters.totalRequests++;
    counters.concurrentRequests++;
    counters.peakConcurrentRequests = Math.max(counters.peakConcurrentRequests, counters.concurrentRequests);
    let key = 'OTHER';
    let recorded = false;
    const finish = (status: string): void => {
      if (recorded) return;
      recorded = true;
      record(key, status);
    };
    res.on('finish', () => finish(String(res.statusCode)));
    res.on('close', () => {
      counters.concurrentRequests--;
      finish(res.writableFinished ? String(res.statusCode) : 'reset');
    });
    const resetSocket = (): void => {
      counters.resets++;
      finish('reset');
      req.socket.destroy();
    };
    let url: URL | null = null;
    try {
      url = new URL(req.url ?? '/', 'http://emulator.invalid');
      const r = route(req, url);
      key = r.key;
      let afterWorkReset = false;
      if (r.kind === 'drive' || r.kind === 'token') {
        if (faults.faults.latencyMs > 0) await delay(faults.faults.latencyMs);
      }
      if (r.kind === 'drive') {
        counters.driveRequests++;
        const d = faults.decide();
        if (d.kind === 'reset') {
          if (!d.afterWork || !r.write) return resetSocket();
          afterWorkReset = true;
        } else if (d.kind === 'burst429') {
          counters.rejectedRateLimit++;
          return sendError(res, rateLimited(429), prettyOf(url));
        } else if (d.kind === '5xx') {
          counters.injected5xx++;
          return sendError(res, backendError(d.status), prettyOf(url));
        }
      }
      let identity: Identity | null = null;
      if (r.needsAuth) {
        identity = auth.verify(req.headers.authorization);
        if (!identity) return sendError(res, authError(), prettyOf(url));
      }
      if (r.write) {
        counters.writeRequests++;
        if (!faults.takeWrite()) {
          counters.rejectedRateLimit++;
          return sendError(res, rateLimited(faults.faults.rateLimitStatus), prettyOf(url));
        }
        counters.writesAccepted++;
      }
      const reply = await r.handle(identity);
      // "Response lost": the work is done (and persisted) but the client never hears of it.
      if (afterWorkReset) return resetSocket();
      if (reply !== 'handled') send(res, reply, prettyOf(url));
    } catch (e) {
      if (res.headersSent || !req.socket || req.socket.destroyed) {
        if (!res.writableEnded) res.destroy();
        return;
      }
      if (e instanceof DriveApiError) return sendError(res, e, prettyOf(url));
      // Client went away mid-body: nothing to answer.
      if (req.errored || (req.destroyed && !req.complete)) {
        res.destroy();
        return;
      }
      process.stderr.write(`drive emulator: internal error on ${req.method ?? ''} ${key}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      sendError(res, backendError(500), prettyOf(url));
    }
  };

  // TLS: given files are read now (a bad path fails at once); a self-signed certificate is made
  // (or reused) in listen(), which is async, and installed before the first connection.
  const tlsOpt = opts.tls;
  const given = tlsOpt && 'certFile' in tlsOpt ? readTlsFiles(tlsOpt.certFile, tlsOpt.keyFile) : null;
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    void handleRequest(req, res);
  };
  // noDelay: answers go out at once (Nagle's algorithm stalls small TLS records ~40 ms).
  const server: http.Server = tlsOpt
    ? https.createServer({ noDelay: true, ...(given ? { cert: given.cert, key: given.key } : {}) }, onRequest)
    : http.createServer({ noDelay: true }, onRequest);
  const scheme = tlsOpt ? 'https' : 'http';
  let caFile: string | null = null;
  // Multi-GiB uploads on slow links must not hit Node's 5-minute default request timeout.
  server.requestTimeout = 0;
  // Google's front ends keep an idle connection for minutes, not Node's default 5 s; clients
  // honour the Keep-Alive hint, but a client busy for longer than the hint's margin would reuse a
  // socket the server is closing (ECONNRESET on a loaded machine).
  server.keepAliveTimeout = 120_000;
  server.on('clientError', (_err, socket) => {
    socket.destroy();
  });
  // A client that does not trust the certificate hangs up mid-handshake: nothing to answer.
  server.on('tlsClientError', (_err, socket) => {
    socket.destroy();
  });

  const listen = async (): Promise<Emulator> => {
    try {
      if (tlsOpt && 'selfSignedDir' in tlsOpt) {
        const made = await selfSignedCertificate(path.resolve(tlsOpt.selfSignedDir), certificateNames(opts.host), clock());
        (server as https.Server).setSecureContext({ cert: made.cert, key: made.key });
        caFile = made.caFile;
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      if (!persistent) fs.rmSync(baseDir, { recursive: true, force: true });
      throw e;
    }
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    listeningUrl = `${scheme}://${host}:${addr.port}`;
    let closing: Promise<void> | null = null;
    return {
      url: listeningUrl,
      port: addr.port,
      caFile,
      close: () => {
        closing ??= (async () => {
          const done = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeAllConnections();
          await done;
          store.flush();
          if (!persistent) fs.rmSync(baseDir, { recursive: true, force: true });
        })();
        return closing;
      },
      setFaults: (f) => faults.set(f),
      stats,
      state: () => model.dump(store.sessions.size),
      reset,
      expireTokens: () => auth.expireAll(),
      revokeRefreshToken: (rt0) => auth.revoke(rt0),
      expireSessions: () => expireAllSessions(rt),
      listFiles: () => model.files(),
    };
  };

  return { server, listen };
}

/** Starts an emulator and resolves once it listens. */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  return createEmulator(opts).listen();
}
