import type { Config } from '../config/index.js';
import type { DriveClient } from '../drive/index.js';
import type { UploadStore } from '../db/index.js';
import type { JobDirCache } from '../local/index.js';
import type { Logger } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import type { AccountPause } from './account-pause.js';

/** Everything a sync pass needs, passed explicitly (no singletons). */
export interface SyncContext {
  readonly config: Readonly<Config>;
  readonly log: Logger;
  /** Epoch ms; injected so tests control time. */
  readonly now: () => number;
  readonly random: () => number;
  readonly store: UploadStore;
  readonly drive: DriveClient;
  readonly metrics: Metrics;
  /** Lease owner id of this process (host:pid:random). */
  readonly owner: string;
  /** Job folder look-ups in flight, so concurrent rows of one job share one. */
  readonly jobFolders: Map<string, Promise<string>>;
  /** Real job directories resolved recently: the per-file open skips two realpath() (local/open.ts). */
  readonly jobDirs: JobDirCache;
  /** Uploads paused for the account after an auth failure. */
  readonly authPause: AccountPause;
  /** Notices already given (a skipped link is said once per process, not on every scan). */
  readonly noticed: Set<string>;
}

/** When uploads may resume: the later of Drive's daily-cap pause and our auth pause; null when not paused. */
export function uploadsPausedUntil(ctx: SyncContext): number | null {
  const t = ctx.now();
  const a = ctx.drive.uploadsPausedUntil();
  const b = ctx.authPause.until(t);
  const v = Math.max(a !== null && a > t ? a : 0, b ?? 0);
  return v > 0 ? v : null;
}

export const folderUrl = (id: string) => `https://drive.google.com/drive/folders/${id}`;
export const fileUrl = (id: string) => `https://drive.google.com/file/d/${id}/view`;
export const previewUrl = (id: string) => `https://drive.google.com/file/d/${id}/preview`;
