// A daemon killed mid-upload (SIGKILL, OOM, power) leaves its rows leased for upload.lease_ms.
// When it restarts on the same host it can tell that the owner was a process of this host that no
// longer exists, and take those rows back at once instead of waiting the lease out. Owners on
// other hosts, and local processes still alive, keep their leases: expiry stays their only end.
import { randomBytes } from 'node:crypto';
import type { UploadStore } from '../db/index.js';
import type { Logger } from '../log/index.js';

/** Lease owner id: `host:pid:random` (the random part tells two lives of one pid apart). */
export function leaseOwnerId(host: string, pid: number, random: () => Buffer = () => randomBytes(4)): string {
  return `${host}:${pid}:${random().toString('hex')}`;
}

/** Host and pid of an owner id; null when it is not one of ours (written by hand, older format). */
export function parseLeaseOwner(owner: string): { host: string; pid: number } | null {
  const m = /^(.+):(\d{1,10}):[0-9a-f]+$/.exec(owner);
  if (!m) return null;
  const pid = Number(m[2]);
  return Number.isSafeInteger(pid) && pid > 0 ? { host: m[1] as string, pid } : null;
}

/** kill(pid, 0): ESRCH means no such process; EPERM means it exists under another user. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface Self {
  host: string;
  pid: number;
  /** Our own owner id (never taken back). */
  owner: string;
}

/** Whether `owner` was a process of this host that is gone. Our own pid under another id is a past life of this pid. */
export function isDeadLocalOwner(owner: string, self: Self, alive: (pid: number) => boolean): boolean {
  if (owner === self.owner) return false;
  const o = parseLeaseOwner(owner);
  if (!o || o.host !== self.host) return false;
  return o.pid === self.pid || !alive(o.pid);
}

/** Takes back (pending now, attempt refunded) the rows leased by dead processes of this host; returns how many. */
export async function takeBackDeadLeases(store: UploadStore, self: Self, log: Logger, alive: (pid: number) => boolean = processAlive): Promise<number> {
  let rows = 0;
  for (const owner of await store.leaseOwners()) {
    if (!isDeadLocalOwner(owner, self, alive)) continue;
    const n = await store.releaseLeases(owner);
    rows += n;
    if (n > 0) log.notice('took back the leases of a daemon of this host that is gone; its uploads resume now', { owner, rows: n });
  }
  return rows;
}
