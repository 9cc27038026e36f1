// The contract between src/sync and src/drive. src/drive implements it; src/sync only uses it.
import type { AuthConfig } from '../config/index.js';
import type { LocalFile } from '../local/index.js';
import type { Logger } from '../log/index.js';
import type { DailyCapOptions } from './daily-cap.js';
import type { PacerOptions, PacerSnapshot } from './pacer.js';

export const FOLDER_MIME = 'application/vnd.google-apps.folder';

/** What we read back about a Drive item. */
export interface DriveFileInfo {
  id: string;
  name: string;
  mimeType: string;
  parents: string[];
  trashed: boolean;
  /** Bytes; null for folders and Google docs. */
  size: number | null;
  md5Checksum: string | null;
  appProperties: Record<string, string>;
}

/** Where a resumable upload stands: persisted by the caller so a restart continues. */
export interface UploadCheckpoint {
  sessionUri: string;
  /** Bytes Drive has confirmed. */
  offset: number;
}

export interface UploadRequest {
  /** Reserved with reserveIds() and stored by the caller BEFORE this call. */
  fileId: string;
  name: string;
  parentId: string;
  /**
   * The opened, checked local file: every byte sent and hashed is read through it, never by
   * path. Its mtime is sent as the Drive file's modifiedTime. The caller opens and closes it.
   */
  file: LocalFile;
  mimeType?: string;
  appProperties: Record<string, string>;
  /** 'create' for a new Drive file; 'update' for a new revision of an existing one (same id). */
  mode: 'create' | 'update';
  /** Session stored by an earlier attempt (resumable uploads only). */
  resume?: UploadCheckpoint | null;
  /** Called after the session starts and after every confirmed chunk (null: forget the session). Awaited. */
  onCheckpoint?: (cp: UploadCheckpoint | null) => Promise<void>;
  signal?: AbortSignal;
  /**
   * Set when an earlier attempt may already have reached Drive (a retry or a restart). The client
   * then asks Drive first (one files.get) instead of re-sending the bytes to learn it from a 409.
   * Without it the 409 path still guarantees one file per id.
   */
  maybeExists?: boolean;
  /**
   * Called with the Drive file already under `fileId` (an earlier attempt's, or a 409) before it
   * is recorded as ours or updated; throws to refuse it, and then nothing on Drive is touched.
   */
  verifyExisting?: (f: DriveFileInfo) => void;
}

export interface UploadResult {
  file: DriveFileInfo;
  /** Local file facts the upload was verified against. */
  size: number;
  md5: string;
  /** Content bytes put on the wire by this call. */
  bytesSent: number;
  /** True when Drive already had this id with the same content (409 or finished session): nothing was re-sent. */
  alreadyPresent: boolean;
  /** True when an earlier resumable session was continued. */
  resumed: boolean;
}

export interface DriveClient {
  /** The endpoint every request goes to (token requests included). */
  readonly endpoint: string;
  /** files.generateIds, batched (≤ 1000 a call) and pooled: n ids cost about n/1000 requests. */
  reserveIds(count: number): Promise<string[]>;
  /** Up to `count` ids of the pool already fetched, without a request ([] when none are left). */
  takeFetchedIds(count: number): string[];
  /** Ids from takeFetchedIds or reserveIds that were stored nowhere: back to the pool. */
  returnIds(ids: readonly string[]): void;
  /** Find-then-create each level under parentId (name + parent + folder mime + not trashed). Cached; concurrent calls share one request. Returns the last level's id. */
  ensureFolderPath(parentId: string, names: readonly string[]): Promise<string>;
  /** Throws PermanentDriveError (folderOutsideRoot) unless the folder's parents reach drive.root_folder_id; each folder is read once per process. */
  assertInsideRoot(folderId: string): Promise<void>;
  /** files.get; null when Drive answers 404. */
  getFile(id: string): Promise<DriveFileInfo | null>;
  /** Uploads (multipart below the threshold, resumable at or above), verifies md5, handles 409 by comparing. Throws DriveError. */
  upload(req: UploadRequest): Promise<UploadResult>;
  /** When uploads are paused for the account (daily cap), the epoch ms they resume; else null. */
  uploadsPausedUntil(): number | null;
  /** check-config: fetch a token, read the root folder (and shared drive). One line per problem; [] when all is well. */
  checkAccess(): Promise<string[]>;
  /** The write pacer's learned rate, to be kept across restarts (pass it back as `pacer.resume`). */
  pacerSnapshot(): PacerSnapshot;
  /** Closes idle kept-alive connections. */
  close(): void;
}

/**
 * Shared record of the folders made, so that processes sharing it (two daemons on one
 * database, a restart after a crash) create each folder exactly once: the Drive id is reserved
 * and recorded before the folder is created, and a second creator gets 409 for the same id.
 */
export interface FolderRegistry {
  /** The record with its creator's lease (epoch ms; null once the folder is made), or null. */
  entry(parentId: string, name: string): Promise<{ id: string; creatingUntil: number | null } | null>;
  /** Records `id` for (parent, name) unless one is recorded already; returns the recorded id. With `creatingUntil`, the recorder holds the creation until then. */
  claim(parentId: string, name: string, id: string, creatingUntil?: number): Promise<string>;
  /** Takes over the creation of `id` whose lease `expired` ran out; true when this caller got it. */
  takeOver(parentId: string, name: string, id: string, expired: number, until: number): Promise<boolean>;
  /** The folder `id` exists: its creator's lease ends. */
  made(parentId: string, name: string, id: string): Promise<void>;
  /** Records `foundId` (made elsewhere) in place of `reservedId`, if the lease `until` is still the recorder's; true when done. */
  adopt(parentId: string, name: string, reservedId: string, until: number, foundId: string): Promise<boolean>;
}

export interface DriveClientOptions {
  endpoint: string;
  auth: AuthConfig;
  rootFolderId: string;
  sharedDriveId: string | null;
  resumableThresholdBytes: number;
  chunkSizeBytes: number;
  log: Logger;
  /** Injected for tests. */
  now?: () => number;
  /** Injected for tests (waits of the pacer); default a real timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Tuning of the adaptive write pacer (see pacer.ts). */
  pacer?: Partial<PacerOptions>;
  /** Tuning of the daily-upload-cap detector (see daily-cap.ts). */
  dailyCap?: Partial<DailyCapOptions>;
  /**
   * Where folder ids are recorded (the daemon's database), so each folder is created exactly once
   * across restarts and daemons. null: this client makes no folders (`check-config`).
   */
  folderRegistry: FolderRegistry | null;
  /** How long a daemon holds a folder's creation before others take it over (ms); default 30 s. */
  folderCreatorLeaseMs?: number;
  /** Told how long each write waited for the pacer, in ms (metrics). */
  onPacerWait?: (ms: number) => void;
  /** Local retries of a write Drive answered with a rate limit (after the pacer's wait); default 5. */
  maxRateLimitRetries?: number;
  /** PEM file of extra CA certificates to trust besides Node's bundled ones (drive.ca_file). */
  caFile?: string | null;
  /** Kept-alive sockets per host (default 32). */
  maxSockets?: number;
  /** Ids fetched per files.generateIds call (≤ 1000); default 1000. */
  idBatchSize?: number;
  /** Where upload requests read HTTPS_PROXY / NO_PROXY (as gaxios does for the others); default process.env. */
  env?: NodeJS.ProcessEnv;
}
