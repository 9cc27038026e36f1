import type { Config } from '../config/index.js';

/**
 * Keys a SIGHUP applies at once: everything the daemon reads from its config on each use.
 * Every other key (database, watch, auth, endpoint, root folder, metrics, chunk sizes, log
 * format, and any key added later) is read once at start, so a change needs a restart; an
 * allowlist makes a new key restart-only until someone makes it live on purpose.
 */
export const LIVE_KEYS: readonly string[] = [
  'schedule.scan_cron',
  'schedule.full_scan_cron',
  'drive.folder_pattern',
  'upload.concurrency',
  'upload.max_attempts',
  'upload.backoff_base_ms',
  'upload.backoff_max_ms',
  'upload.lease_ms',
  'upload.drain_timeout_ms',
  'log.level',
];

/** Compared as one value: a change of `auth.type` changes which other keys exist. */
const ATOMIC = new Set(['auth']);

export interface ReloadMerge {
  /** The config to run with: `next`, except restart-only keys keep their running value. */
  config: Config;
  /** Changed keys that took effect (dotted paths, sorted). */
  applied: string[];
  /** Changed keys that kept their running value until a restart (dotted paths, sorted). */
  needsRestart: string[];
}

/** What a reload from `current` to `next` (both validated) does. Pure: the inputs are not changed. */
export function mergeReload(current: Readonly<Config>, next: Readonly<Config>): ReloadMerge {
  const merged = structuredClone(next) as Config;
  const applied: string[] = [];
  const needsRestart: string[] = [];
  for (const path of changedPaths(current, next)) {
    if (LIVE_KEYS.includes(path)) {
      applied.push(path);
      continue;
    }
    needsRestart.push(path);
    setPath(merged as unknown as Record<string, unknown>, path, structuredClone(getPath(current, path)));
  }
  return { config: merged, applied: applied.sort(), needsRestart: needsRestart.sort() };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Dotted paths of the leaves (arrays and ATOMIC objects count as leaves) that differ. */
function changedPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (isPlainObject(a) && isPlainObject(b) && !ATOMIC.has(prefix)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => changedPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

function getPath(o: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (isPlainObject(v) ? v[k] : undefined), o);
}

function setPath(o: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop() as string;
  let at = o;
  for (const k of keys) {
    if (!isPlainObject(at[k])) at[k] = {};
    at = at[k] as Record<string, unknown>;
  }
  if (value === undefined) delete at[last];
  else at[last] = value;
}
