// The write pacer's learned rate, kept in the state directory (systemd's StateDirectory=) so a
// restart does not start again at 3 writes/s and crawl back up for a minute.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PacerSnapshot } from '../drive/index.js';
import type { Logger } from '../log/index.js';
import { errorMessage } from '../log/index.js';

/** Older than this, a saved rate is not trusted (the quota or the account may have changed). */
const MAX_AGE_MS = 24 * 3_600_000;
const FILE = 'pacer.json';

export interface PacerStateStore {
  /** The saved snapshot, or null (none, unreadable, or too old). */
  load(): PacerSnapshot | null;
  /** Saves when it differs from what was saved last. Never throws (a read-only disk is logged once). */
  save(s: PacerSnapshot): void;
}

/** `$STATE_DIRECTORY` (the first, when systemd lists several); null when unset: nothing is kept. */
export function stateDirectory(env: NodeJS.ProcessEnv): string | null {
  const d = env.STATE_DIRECTORY?.split(':')[0];
  return d ? d : null;
}

export function pacerStateStore(dir: string | null, log: Logger, now: () => number): PacerStateStore {
  let last = '';
  let warned = false;
  if (dir === null) return { load: () => null, save: () => undefined };
  const path = join(dir, FILE);
  return {
    load() {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(path, 'utf8'));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
          log.warning('saved write rate unreadable; starting from the default', { file: path, error: errorMessage(e) });
        return null;
      }
      const r = raw as Partial<PacerSnapshot & { savedAt: number }> | null;
      if (!r || typeof r !== 'object' || typeof r.savedAt !== 'number' || now() - r.savedAt > MAX_AGE_MS || now() < r.savedAt - 60_000) return null;
      if (typeof r.ratePerSec !== 'number' || typeof r.slowStart !== 'boolean' || typeof r.recoverToPerSec !== 'number') return null;
      log.info('write rate restored', { rate_per_sec: Number(r.ratePerSec.toFixed(2)), saved_ms_ago: now() - r.savedAt });
      last = JSON.stringify({ ratePerSec: r.ratePerSec, slowStart: r.slowStart, recoverToPerSec: r.recoverToPerSec });
      return { ratePerSec: r.ratePerSec, slowStart: r.slowStart, recoverToPerSec: r.recoverToPerSec };
    },
    save(s) {
      const body = JSON.stringify({ ratePerSec: s.ratePerSec, slowStart: s.slowStart, recoverToPerSec: s.recoverToPerSec });
      if (body === last) return;
      try {
        mkdirSync(dir, { recursive: true });
        const tmp = `${path}.${process.pid}.tmp`;
        writeFileSync(tmp, JSON.stringify({ ...s, savedAt: now() }) + '\n');
        renameSync(tmp, path);
        last = body;
      } catch (e) {
        if (!warned) log.warning('cannot save the learned write rate; a restart starts from the default', { file: path, error: errorMessage(e) });
        warned = true;
      }
    },
  };
}
