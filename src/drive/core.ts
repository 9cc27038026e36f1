// The request plumbing shared by folders, uploads and ids: auth retry, classification, pacing.
import type { drive_v3 } from '@googleapis/drive';
import type { Logger } from '../log/index.js';
import type { DriveAuth } from './auth.js';
import type { DailyCapGuard } from './daily-cap.js';
import { classifyDriveError, DriveAuthError, DriveError, RateLimitError, RetryableDriveError } from './errors.js';
import type { Pacer } from './pacer.js';
import type { MediaSender } from './media.js';
import type { DriveFileInfo } from './types.js';

export const FILE_FIELDS = 'id,name,mimeType,parents,trashed,size,md5Checksum,appProperties';

export interface DriveCore {
  readonly endpoint: string;
  readonly api: drive_v3.Drive;
  readonly auth: DriveAuth;
  readonly pacer: Pacer;
  readonly cap: DailyCapGuard;
  readonly log: Logger;
  /** Sends upload bodies (multipart, resumable chunks) around gaxios: see media.ts. */
  readonly media: MediaSender;
  readonly sharedDriveId: string | null;
  readonly rootFolderId: string;
  readonly resumableThresholdBytes: number;
  readonly chunkSizeBytes: number;
  readonly maxRateLimitRetries: number;
  now(): number;
  /** One request: on 401 refresh the token once and repeat once; anything thrown becomes a DriveError. */
  call<T>(fn: () => Promise<T>): Promise<T>;
  /** A mutating request: waits for the pacer, reports the outcome, repeats (bounded) after rate limits. */
  write<T>(fn: () => Promise<T>, o: { contentUpload: boolean; signal?: AbortSignal | undefined }): Promise<T>;
  getFile(id: string, signal?: AbortSignal): Promise<DriveFileInfo | null>;
}

function statusOf(e: unknown): number | undefined {
  if (e instanceof DriveError) return e.status;
  const r = e as { response?: { status?: unknown }; status?: unknown } | null;
  const s = r?.response?.status ?? r?.status;
  return typeof s === 'number' ? s : undefined;
}

export function makeCall(auth: DriveAuth) {
  return async function call<T>(fn: () => Promise<T>): Promise<T> {
    const gen = auth.generation();
    try {
      return await fn();
    } catch (e) {
      if (statusOf(e) !== 401 || e instanceof DriveError) throw classifyDriveError(e);
    }
    // The token was refused (revoked, expired early, emulator reset): one forced refresh, one repeat.
    if (auth.generation() === gen) await auth.forceRefresh();
    try {
      return await fn();
    } catch (e) {
      const c = classifyDriveError(e);
      if (c.status === 401) {
        throw new DriveAuthError(`${c.message} (after a token refresh)`, {
          status: 401,
          ...(c.reason !== undefined ? { reason: c.reason } : {}),
        });
      }
      throw c;
    }
  };
}

export function makeWrite(deps: {
  call: DriveCore['call'];
  pacer: Pacer;
  cap: DailyCapGuard;
  maxRateLimitRetries: number;
  now: () => number;
  /** Told how long each write waited for the pacer (metrics). */
  onWait?: (ms: number) => void;
}) {
  const { call, pacer, cap } = deps;
  return async function write<T>(fn: () => Promise<T>, o: { contentUpload: boolean; signal?: AbortSignal | undefined }): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const ticket = o.contentUpload ? cap.enter() : null;
      let permit;
      const waitFrom = deps.now();
      try {
        permit = await pacer.acquire(o.signal);
        deps.onWait?.(deps.now() - waitFrom);
      } catch (e) {
        ticket?.other();
        // A custom abort reason is still an abort: report it as one.
        if (o.signal?.aborted) throw new RetryableDriveError('Drive request aborted', { reason: 'aborted' });
        throw classifyDriveError(e);
      }
      try {
        const r = await call(fn);
        permit.success();
        ticket?.success();
        return r;
      } catch (e) {
        if (e instanceof RateLimitError) {
          permit.rateLimited(e.retryAfterMs);
          const capped = ticket?.rateLimited();
          if (capped) throw capped;
          if (attempt > deps.maxRateLimitRetries) throw e;
          continue; // the pacer's next slot is the wait
        }
        permit.done();
        ticket?.other();
        throw e;
      }
    }
  };
}

/** Drive's file resource -> DriveFileInfo. */
export function toInfo(f: drive_v3.Schema$File): DriveFileInfo {
  return {
    id: f.id ?? '',
    name: f.name ?? '',
    mimeType: f.mimeType ?? '',
    parents: f.parents ?? [],
    trashed: f.trashed ?? false,
    size: f.size === undefined || f.size === null ? null : Number(f.size),
    md5Checksum: f.md5Checksum ?? null,
    appProperties: (f.appProperties as Record<string, string> | null | undefined) ?? {},
  };
}
