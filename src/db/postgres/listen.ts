import type pg from 'pg';
import { errorMessage, type Logger } from '../../log/index.js';
import type { PgConn } from './connect.js';

/** The channel migration 004's triggers notify. */
export const WAKE_CHANNEL = 'batch_drive_sync';

/** job: a job was enabled (walk its directory); file: a row became due; resync: notifications may have been missed. */
export type WakeEvent = { kind: 'job' | 'file'; jobId: string } | { kind: 'resync' };

export interface WakeListener {
  close(): Promise<void>;
}

/**
 * LISTENs on one connection of its own. When that connection drops it reconnects with backoff
 * and then reports `resync`: whatever was notified meanwhile is lost, so the caller rescans.
 */
export async function listenForWakeups(
  conn: PgConn,
  onWake: (e: WakeEvent) => void,
  opts: { log?: Logger | undefined; random?: () => number } = {},
): Promise<WakeListener> {
  const random = opts.random ?? Math.random;
  let closed = false;
  let client: pg.Client | null = null;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;

  const onNotification = (m: pg.Notification) => {
    if (m.channel !== WAKE_CHANNEL || !m.payload) return;
    try {
      const p = JSON.parse(m.payload) as { kind?: unknown; job?: unknown };
      if ((p.kind === 'job' || p.kind === 'file') && typeof p.job === 'string') onWake({ kind: p.kind, jobId: p.job });
    } catch {
      // Someone else's NOTIFY on our channel: not ours to act on.
    }
  };

  const connect = async (): Promise<void> => {
    const c = conn.newClient();
    c.on('notification', onNotification);
    c.on('error', () => undefined);
    await c.connect();
    await c.query(`LISTEN ${WAKE_CHANNEL}`);
    c.on('end', () => {
      if (closed || client !== c) return;
      client = null;
      schedule();
    });
    client = c;
  };

  const schedule = () => {
    const delay = Math.min(10_000, 200 * 2 ** Math.min(failures, 6)) * (0.5 + random());
    timer = setTimeout(() => {
      if (closed) return;
      connect()
        .then(() => {
          failures = 0;
          opts.log?.info('listening for database notifications again', { database: conn.target });
          onWake({ kind: 'resync' });
        })
        .catch((e: unknown) => {
          failures++;
          opts.log?.debug('LISTEN connection not back yet', { error: errorMessage(e) });
          schedule();
        });
    }, delay);
  };

  try {
    await connect();
  } catch (e) {
    throw conn.wrap(e, 'cannot LISTEN for wake-ups');
  }
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
  };
}
