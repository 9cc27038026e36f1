// What the daemon tells about its queue outside its logs: the one-line sd_notify STATUS= that
// `systemctl status` shows, and the database-backed metrics gauges. Both read the database
// (a handful of indexed queries) rather than counters kept in memory, so they agree with
// `batch-drive-sync status` and with other daemons on the same database.
import type { ActivitySummary } from '../db/index.js';
import type { Logger } from '../log/index.js';
import { errorMessage } from '../log/index.js';
import type { QueueSnapshot } from '../metrics/index.js';
import type { SyncContext } from '../sync/index.js';
import type { Notifier } from './systemd-notify.js';

/** "3 jobs active, 1,204 pending, 4 uploading, 3.1 GB to go, 12.4 MB/s, 0 failed" (plus why uploads are paused, if they are). */
export function statusLine(a: ActivitySummary, paused: QueueSnapshot['paused']): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const parts = [
    `${n(a.activeJobs)} job${a.activeJobs === 1 ? '' : 's'} active`,
    `${n(a.rows.pending)} pending`,
    `${n(a.rows.uploading)} uploading`,
    `${bytes(a.pendingBytes)} to go`,
    `${bytes(a.rateBytesPerSec)}/s`,
    `${n(a.rows.failed)} failed`,
  ];
  if (paused.auth) parts.push('PAUSED: Drive refused the credentials');
  else if (paused.daily_cap) parts.push("paused: Drive's daily upload cap");
  return parts.join(', ');
}

function bytes(v: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let x = Math.max(0, v);
  let u = 0;
  while (x >= 1000 && u < units.length - 1) {
    x /= 1000;
    u++;
  }
  return u === 0 ? `${Math.round(x)} B` : `${x < 10 ? x.toFixed(1) : Math.round(x)} ${units[u]}`;
}

export function pausedNow(ctx: SyncContext): QueueSnapshot['paused'] {
  const t = ctx.now();
  const cap = ctx.drive.uploadsPausedUntil();
  return { auth: ctx.authPause.until(t) !== null, daily_cap: cap !== null && cap > t };
}

/** The metrics gauges' view of the queue, read now. */
export async function queueSnapshot(ctx: SyncContext): Promise<QueueSnapshot> {
  const a = await ctx.store.activity();
  const due = await ctx.store.countDue();
  return {
    rows: a.rows,
    pendingBytes: a.pendingBytes,
    oldestPendingAgeSeconds: a.oldestPendingAt === null ? null : Math.max(0, (ctx.now() - a.oldestPendingAt) / 1000),
    activeJobs: a.activeJobs,
    due,
    paused: pausedNow(ctx),
  };
}

/** Sends STATUS= now and every `intervalMs` while the notifier is enabled; returns a stop function. */
export function startStatusLine(o: { getCtx: () => SyncContext; notifier: Notifier; log: Logger; intervalMs: number }): () => void {
  if (!o.notifier.enabled) return () => undefined;
  let busy = false;
  let warned = false;
  const tick = () => {
    if (busy) return;
    busy = true;
    const ctx = o.getCtx();
    ctx.store
      .activity()
      .then((a) => o.notifier.status(statusLine(a, pausedNow(ctx))))
      .catch((e: unknown) => {
        // The status line is a courtesy: a failed read is logged once and tried again next tick.
        if (!warned) o.log.warning('cannot read the queue for the systemd status line', { error: errorMessage(e) });
        warned = true;
      })
      .finally(() => {
        busy = false;
      });
  };
  tick();
  const timer = setInterval(tick, o.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
