/** Fault knobs of the emulator; every field can be changed at run time (`setFaults`, `POST /__emulator/faults`). */
export interface EmulatorFaults {
  /**
   * Token bucket over write requests (files.create / update / delete, including the POST that
   * starts a resumable upload; NOT generateIds, reads, resumable PUT chunks or /token).
   * Capacity = one second worth. `null` = unlimited.
   */
  writeQuotaPerSec: number | null;
  /** Status used when the write quota is exceeded: 403 userRateLimitExceeded or 429 rateLimitExceeded. */
  rateLimitStatus: 403 | 429;
  /** Bytes of file content accepted per UTC day (by the emulator clock); over it -> 403 userRateLimitExceeded. */
  dailyUploadCapBytes: number | null;
  /** Total bytes stored (trashed files included); over it -> 403 storageQuotaExceeded. */
  storageQuotaBytes: number | null;
  /** 0..1: share of /drive and /upload requests answered 500 or 503 backendError. */
  error5xxRate: number;
  /** 0..1: share of /drive and /upload requests whose socket is destroyed (half before, half after the work is done). */
  resetRate: number;
  /** After every `every` Drive requests, the next `length` get 429 rateLimitExceeded. */
  burst429?: { every: number; length: number } | null;
  /** Delay added before a /drive, /upload or /token request is handled, in milliseconds. */
  latencyMs: number;
  /**
   * 0..1: share of files.list pages cut short: fewer items than pageSize (possibly none) with a
   * nextPageToken, as Drive may answer. Following the token still yields every item once.
   */
  shortPageRate: number;
  /**
   * 0..1: share of resumable chunk PUTs of two or more 256 KiB blocks that are cut off after a
   * whole number of blocks (at least one, fewer than all). The blocks before the cut are kept,
   * so the session's Range ends inside the chunk the client sent.
   */
  partialChunkRate: number;
  /**
   * How a cut chunk is answered: `reset` drops the connection mid-body (the client's status
   * query then learns the mid-chunk offset), `308` reads the rest of the body, keeps only
   * the whole blocks before the cut, and answers 308 Resume Incomplete with that Range.
   */
  partialChunkAnswer: 'reset' | '308';
  /** PRNG seed for the random faults; setting it again restarts the sequence. */
  seed: number;
}

export interface EmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (default) = any free port. */
  port?: number;
  /** Where metadata (state.json + meta.log) and file contents live; without it a temp dir removed on close. */
  dataDir?: string;
  /** A folder with this id is created at start (in the shared drive when `sharedDriveId` is set, else in My Drive). */
  rootFolderId?: string;
  /** A shared drive with this id is created at start (its root folder id is the drive id, as in Drive). */
  sharedDriveId?: string;
  faults?: Partial<EmulatorFaults>;
  /** Milliseconds since the epoch; drives session expiry, the daily cap day, the write-quota bucket and timestamps. */
  clock?: () => number;
  /**
   * Serve HTTPS instead of HTTP: a PEM certificate and key, or `selfSignedDir` to make (with the
   * `openssl` command) or reuse a private CA (`ca.pem`, for clients to trust, e.g. through
   * NODE_EXTRA_CA_CERTS) and a certificate for 127.0.0.1, ::1, localhost and the listening host.
   */
  tls?: { certFile: string; keyFile: string } | { selfSignedDir: string };
}

/** One stored item as `listFiles()` returns it. `size`/`md5Checksum` are null for folders. */
export interface EmulatorFile {
  id: string;
  name: string;
  mimeType: string;
  parents: string[];
  size: number | null;
  md5Checksum: string | null;
  sha256Checksum: string | null;
  appProperties: Record<string, string>;
  trashed: boolean;
  driveId: string | null;
  version: number;
  createdTime: string;
  modifiedTime: string;
}

/**
 * Counters since start or the last reset.
 * Route keys of `requests` (stable; benchmarks count on them):
 *   "POST /token"
 *   "GET /drive/v3/files/generateIds"          (what @googleapis/drive sends; "POST ..." when POSTed)
 *   "POST /drive/v3/files"                      (metadata-only create)
 *   "GET /drive/v3/files"                       (files.list)
 *   "GET /drive/v3/files/{id}"                  (files.get metadata)
 *   "GET /drive/v3/files/{id}?alt=media"        (download)
 *   "PATCH /drive/v3/files/{id}"                (metadata update)
 *   "DELETE /drive/v3/files/{id}"
 *   "GET /drive/v3/drives/{id}", "GET /drive/v3/drives"       (drives.get, drives.list)
 *   "GET /drive/v3/about"
 *   "POST /drive/v3/files/{id}/copy"
 *   "DELETE /drive/v3/files/trash"              (files.emptyTrash)
 *   "POST /drive/v3/files/{id}/permissions" | "GET /drive/v3/files/{id}/permissions"
 *   "GET /discovery/v1/apis/drive/v3/rest"     (discovery document; not a Drive request)
 *   "POST /upload/drive/v3/files?uploadType=multipart" | "...=media" | "...=resumable"
 *   "PATCH /upload/drive/v3/files/{id}?uploadType=multipart" | "...=media" | "...=resumable"
 *   "PUT resumable"                             (chunk upload and status query on a session URI)
 *   "GET /__emulator/state", "GET /__emulator/stats", "POST /__emulator/<action>"
 *   "OTHER /drive" | "OTHER /upload" | "OTHER"  (unknown routes, answered 404)
 */
export interface EmulatorStats {
  /** route key -> HTTP status (as a string, "reset" for destroyed sockets) -> count */
  requests: Record<string, Record<string, number>>;
  totalRequests: number;
  /** Requests to /drive/ or /upload/ (not /token, not /__emulator). */
  driveRequests: number;
  /** Requests that counted against the write quota (whatever their answer). */
  writeRequests: number;
  /** Write requests let through by the write quota. */
  writesAccepted: number;
  /** 403/429 rate-limit answers (write quota, burst429, daily cap). */
  rejectedRateLimit: number;
  /** File content bytes received over all uploads, re-sent ones included. */
  bytesReceived: number;
  peakConcurrentRequests: number;
  concurrentRequests: number;
  resets: number;
  injected5xx: number;
  /** files.list pages cut short by the short-page fault. */
  shortPages: number;
  /** Resumable chunks cut after a whole number of blocks by the partial-chunk fault. */
  partialChunks: number;
  tokensIssued: number;
  uploadsCompleted: number;
  /** Bytes of content accepted today (UTC day of the clock), for the daily cap. */
  uploadedBytesToday: number;
  /** Bytes stored now (trashed included). */
  storedBytes: number;
}

export interface EmulatorStateNode {
  id: string;
  name: string;
  mimeType: string;
  trashed: boolean;
  appProperties: Record<string, string>;
  size?: number;
  md5Checksum?: string;
  children?: EmulatorStateNode[];
}

/** Tree dump: My Drive root and each shared drive root, with their descendants. */
export interface EmulatorStateDump {
  myDrive: EmulatorStateNode;
  sharedDrives: EmulatorStateNode[];
  fileCount: number;
  folderCount: number;
  uploadSessions: number;
}

export interface Emulator {
  /** Base URL without trailing slash, e.g. http://127.0.0.1:41234 (https:// in TLS mode) */
  readonly url: string;
  readonly port: number;
  /** In self-signed TLS mode, the CA certificate (PEM) clients must trust; null otherwise. */
  readonly caFile: string | null;
  /** Stops listening, destroys open sockets, flushes state when dataDir is set, removes the temp dir otherwise. */
  close(): Promise<void>;
  setFaults(f: Partial<EmulatorFaults>): void;
  stats(): EmulatorStats;
  state(): EmulatorStateDump;
  /** Removes every item, session and counter; keeps the root folder and shared drive given at start. */
  reset(): void;
  /** Every issued access token becomes invalid (401). */
  expireTokens(): void;
  /** Refresh tokens answered with invalid_grant from now on. */
  revokeRefreshToken(refreshToken: string): void;
  /** Every resumable upload session becomes unknown (404), as after Drive's one-week expiry. */
  expireSessions(): void;
  listFiles(): EmulatorFile[];
}
