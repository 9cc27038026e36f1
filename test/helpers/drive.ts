// Shared setup for test/drive: an emulator on 127.0.0.1:0, credentials in a temp dir, a client
// whose folder registry is a migrated SQLite database (as the daemon's).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { AuthConfig } from '../../src/config/index.js';
import { createDriveClient, type DriveClient, type DriveClientOptions, type FolderRegistry } from '../../src/drive/index.js';
import { folderRegistry } from '../../src/sync/index.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import { openInside, type LocalFile } from '../../src/local/index.js';
import { createLogger, type Logger, type LogLevel } from '../../src/log/index.js';
import { Writable } from 'node:stream';
import { makeTestStore } from './db.js';

export const ROOT_ID = 'root-folder-0001';
export const SHARED_DRIVE_ID = 'shared-drive-0001';
export const SA_EMAIL = 'uploader@test-project.iam.gserviceaccount.com';

export async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bds-drive-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function startEmu(t: ExecutionContext, opts: EmulatorOptions = {}): Promise<Emulator> {
  const emu = await startEmulator({ rootFolderId: ROOT_ID, ...opts });
  t.teardown(() => emu.close());
  return emu;
}

/** Writes a service-account key made with a fresh RSA pair; returns its path and private key. */
export async function writeServiceAccountKey(dir: string, email = SA_EMAIL): Promise<{ path: string; privateKey: string }> {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const path = join(dir, 'sa.json');
  await writeFile(
    path,
    JSON.stringify({
      type: 'service_account',
      project_id: 'test-project',
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey,
      client_email: email,
      client_id: '1234567890',
      token_uri: 'https://oauth2.googleapis.com/token',
    }),
  );
  return { path, privateKey };
}

export interface CapturedLog {
  logger: Logger;
  lines: () => Array<{ level: string; message: string }>;
  text: () => string;
}

export function captureLogger(level: LogLevel = 'debug'): CapturedLog {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger({ level, format: 'json', stream });
  const lines = () =>
    raw
      .join('')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { level: string; message: string });
  return { logger, lines, text: () => raw.join('') };
}

export interface Setup {
  emu: Emulator;
  dir: string;
  drive: DriveClient;
  auth: AuthConfig;
  log: CapturedLog;
  make: (over?: Partial<DriveClientOptions>) => Promise<DriveClient>;
  /** Opens a local file the way the daemon does (checked, read through its descriptor); closed at teardown. */
  open: (path: string) => Promise<LocalFile>;
  /** The folder registry every client of this setup shares (a real store). */
  registry: FolderRegistry;
}

/** Emulator + service account with a subject (has storage quota) + client with fast test pacing. */
export async function setup(
  t: ExecutionContext,
  o: { emulator?: EmulatorOptions; client?: Partial<DriveClientOptions>; auth?: 'sa-subject' | 'sa' | 'oauth' } = {},
): Promise<Setup> {
  const emu = await startEmu(t, o.emulator);
  const dir = await tempDir(t);
  let auth: AuthConfig;
  const scopes = ['https://www.googleapis.com/auth/drive'];
  if (o.auth === 'oauth') {
    const file = join(dir, 'refresh-token');
    await writeFile(file, `1//refresh-${randomBytes(16).toString('hex')}\n`);
    auth = { type: 'oauth', client_id: 'client-id.apps.googleusercontent.com', client_secret: 'GOCSPX-secret-value', refresh_token_file: file, scopes };
  } else {
    const key = await writeServiceAccountKey(dir);
    auth = { type: 'service_account', key_file: key.path, subject: o.auth === 'sa' ? null : 'user@example.com', scopes };
  }
  const log = captureLogger();
  // One registry for every client of this setup: they stand for daemons sharing one database.
  const { store } = await makeTestStore(t, 'real');
  const registry = folderRegistry(store);
  const make = (over: Partial<DriveClientOptions> = {}) =>
    createDriveClient({
      endpoint: emu.url,
      auth,
      rootFolderId: ROOT_ID,
      sharedDriveId: null,
      resumableThresholdBytes: 1024 * 1024,
      chunkSizeBytes: 256 * 1024,
      log: log.logger,
      pacer: { initialRatePerSec: 200, maxRatePerSec: 1000 },
      folderRegistry: registry,
      ...o.client,
      ...over,
    });
  const drive = await make();
  const open = async (path: string) => {
    const f = await openInside(await realpath(dirname(path)), basename(path));
    t.teardown(() => f.close());
    return f;
  };
  return { emu, dir, drive, auth, log, make, open, registry };
}

export async function writeRandomFile(dir: string, name: string, size: number): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, randomBytes(size));
  return p;
}
