// Drive answers its 750 GB/day upload cap with 403 userRateLimitExceeded, exactly like a rate
// limit, for hours. Retrying it like a rate limit burns attempts and looks like a hang, so a
// streak of content-upload rejections that pacing cannot fix pauses all uploads of the account.
import type { Logger } from '../log/index.js';
import { DailyCapError } from './errors.js';
import type { Pacer } from './pacer.js';

export interface DailyCapOptions {
  /** Consecutive content-upload rate-limit rejections (no upload success between) before the cap is suspected. */
  consecutive: number;
  /** ...and either the pacer is at its floor or the streak has lasted this long (ms). */
  streakMs: number;
  /** How long uploads pause once the cap is detected (ms); then one upload probes. */
  pauseMs: number;
  /** While the probe upload runs, other uploads are told to come back after this long (ms). */
  probeWaitMs: number;
}

export const DEFAULT_DAILY_CAP_OPTIONS: DailyCapOptions = {
  consecutive: 5,
  streakMs: 60_000,
  pauseMs: 3_600_000,
  probeWaitMs: 60_000,
};

/** A ticket for one content-upload attempt; report its outcome exactly once. */
export interface CapTicket {
  readonly probe: boolean;
  success(): void;
  /** Returns the DailyCapError to throw when this rejection starts (or continues) a pause. */
  rateLimited(): DailyCapError | null;
  other(): void;
}

export interface DailyCapGuard {
  /** Throws DailyCapError while uploads are paused; otherwise lets the attempt go (maybe as the probe). */
  enter(): CapTicket;
  pausedUntil(): number | null;
}

export function createDailyCapGuard(deps: { options?: Partial<DailyCapOptions>; pacer: Pacer; now: () => number; log: Logger }): DailyCapGuard {
  const o = { ...DEFAULT_DAILY_CAP_OPTIONS, ...deps.options };
  const { now, log, pacer } = deps;
  let streak = 0;
  let streakStart = 0;
  let pausedUntil: number | null = null;
  let probing = false;

  function pause(at: number, first: boolean): DailyCapError {
    pausedUntil = at + o.pauseMs;
    streak = 0;
    const until = new Date(pausedUntil).toISOString();
    if (first) {
      log.warning(`Drive daily upload cap reached (403 userRateLimitExceeded that pacing does not clear): pausing all uploads until ${until}`, {
        pausedUntil: until,
      });
    } else {
      log.info(`Drive daily upload cap still in force: uploads stay paused until ${until}`, { pausedUntil: until });
    }
    return new DailyCapError(`Drive daily upload cap: uploads paused until ${until}`, {
      status: 403,
      reason: 'userRateLimitExceeded',
    });
  }

  return {
    pausedUntil(): number | null {
      if (pausedUntil === null) return null;
      return probing ? Math.max(pausedUntil, now() + o.probeWaitMs) : pausedUntil;
    },
    enter(): CapTicket {
      const t = now();
      let probe = false;
      if (pausedUntil !== null) {
        if (t < pausedUntil || probing) {
          const resumeAt = probing ? Math.max(pausedUntil, t + o.probeWaitMs) : pausedUntil;
          throw new DailyCapError(`Drive daily upload cap: uploads paused until ${new Date(resumeAt).toISOString()}`, {
            reason: 'userRateLimitExceeded',
          });
        }
        probing = true;
        probe = true;
      }
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        if (probe) probing = false;
        return true;
      };
      return {
        probe,
        success() {
          if (!settle()) return;
          streak = 0;
          if (probe && pausedUntil !== null) {
            pausedUntil = null;
            log.notice('Drive uploads resumed: the daily upload cap has lifted');
          }
        },
        rateLimited(): DailyCapError | null {
          if (!settle()) return null;
          const at = now();
          if (probe) return pause(at, false);
          if (pausedUntil !== null) return null; // someone else already paused; caller sees it on its next enter()
          if (streak === 0) streakStart = at;
          streak++;
          if (streak >= o.consecutive && (pacer.atFloor() || at - streakStart >= o.streakMs)) return pause(at, true);
          return null;
        },
        other() {
          settle();
        },
      };
    },
  };
}
