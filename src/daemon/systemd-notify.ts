import { execFile } from 'node:child_process';
import type { Logger } from '../log/index.js';
import { errorMessage } from '../log/index.js';

// How we talk to systemd (sd_notify protocol: KEY=VALUE lines in one AF_UNIX datagram to
// $NOTIFY_SOCKET). Node core cannot send unix datagrams (removed in v0.5; `dgram` has no
// 'unix_dgram' type), so the choices were a native addon (sd-notify / unix-dgram: needs a
// compiler and libsystemd-dev, a rebuild per Node ABI, and unix-dgram no longer builds on
// recent Node), a helper interpreter (python3/socat: not guaranteed on a production host), or
// the `systemd-notify` binary that ships in the `systemd` package on every systemd machine.
// We run the binary. Verified on Debian 12 / systemd 252 with PID 1 not being systemd: it sends
// to any $NOTIFY_SOCKET, and since v246 it waits for PID 1 to have read the message
// (BARRIER=1 with an fd PID 1 closes), which removes the old "sender exited before PID 1 could
// attribute it" race. Because the message comes from the helper's PID, not ours, the unit
// needs NotifyAccess=all (costs 0.2 in `systemd-analyze security`). The cost is a fork+exec per
// message — a handful per minute at most (watchdog every WatchdogSec/2).

/** Runs the helper; resolves when it exited 0, rejects otherwise. Injectable for tests. */
export type NotifyExec = (file: string, args: readonly string[], options: { env: Record<string, string> }) => Promise<void>;

export interface NotifierOptions {
  /** The process environment (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID, PATH); passed in, not read globally. */
  env: Readonly<Record<string, string | undefined>>;
  exec?: NotifyExec;
  log?: Logger;
  /** Our PID, compared with WATCHDOG_PID; default process.pid. */
  pid?: number;
  /** The helper binary; default `systemd-notify`, looked up on the env's PATH. */
  binary?: string;
}

/** sd_notify messages for the daemon's lifecycle. Every method resolves (never rejects) once the message was handed to systemd or the failure was logged. */
export interface Notifier {
  /** False when NOTIFY_SOCKET is unset (not under systemd Type=notify): every method is then a no-op. */
  readonly enabled: boolean;
  /** READY=1 (+ STATUS): after config, DB, watcher and the SIGHUP handler are up; again after a reload. */
  ready(status?: string): Promise<void>;
  /** STOPPING=1: the drain has started. */
  stopping(): Promise<void>;
  /** RELOADING=1 + MONOTONIC_USEC (what Type=notify-reload in systemd ≥ 253 requires); follow with ready(). */
  reloading(): Promise<void>;
  /** WATCHDOG=1: call from the sync loop's heartbeat, which proves progress. */
  watchdog(): Promise<void>;
  /** STATUS=text, shown by `systemctl status`. */
  status(text: string): Promise<void>;
  /** How often to ping: WATCHDOG_USEC / 2 in ms, or null when the watchdog is off or meant for another PID. */
  watchdogIntervalMs(): number | null;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const EXEC_TIMEOUT_MS = 10_000;
const MAX_STATUS_CHARS = 200;

/** Creates the notifier. With NOTIFY_SOCKET unset (dev, CI, tests) it never spawns anything. */
export function createNotifier(opts: NotifierOptions): Notifier {
  const socket = opts.env.NOTIFY_SOCKET ?? '';
  const enabled = socket !== '';
  const exec = opts.exec ?? defaultExec;
  const binary = opts.binary ?? 'systemd-notify';
  const pid = opts.pid ?? process.pid;
  // Only what the helper needs: it must not inherit credentials-bearing variables.
  const childEnv: Record<string, string> = { NOTIFY_SOCKET: socket, PATH: opts.env.PATH || DEFAULT_PATH };

  let tail: Promise<void> = Promise.resolve();
  let warned = false;
  let queuedWatchdog: Promise<void> | undefined;

  // Messages are sent strictly in call order: READY must never overtake STOPPING, etc.
  function send(fields: string[]): Promise<void> {
    if (!enabled) return Promise.resolve();
    const run = tail.then(() => deliver(fields));
    tail = run;
    return run;
  }

  async function deliver(fields: string[]): Promise<void> {
    try {
      await exec(binary, fields, { env: childEnv });
    } catch (e) {
      // Notification is best effort: a missing helper must not take the daemon down. systemd
      // itself reports the consequence (start timeout, watchdog kill), so one warning suffices.
      const message = errorMessage(e);
      if (!warned) {
        warned = true;
        opts.log?.warning(`systemd notification failed (further failures are logged at debug): ${message}`, {
          fields: fields.map((f) => f.split('=')[0]),
          hint: 'install the systemd package (systemd-notify) and set NotifyAccess=all in the unit',
        });
      } else {
        opts.log?.debug(`systemd notification failed: ${message}`);
      }
    }
  }

  return {
    enabled,
    ready: (status) => send(status === undefined ? ['READY=1'] : ['READY=1', statusField(status)]),
    stopping: () => send(['STOPPING=1']),
    reloading: () => send(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`]),
    status: (text) => send([statusField(text)]),
    watchdog() {
      // A ping still waiting in the queue already proves liveness: don't stack up more.
      if (queuedWatchdog) return queuedWatchdog;
      if (!enabled) return Promise.resolve();
      const run = tail.then(() => {
        queuedWatchdog = undefined;
        return deliver(['WATCHDOG=1']);
      });
      tail = run;
      queuedWatchdog = run;
      return run;
    },
    watchdogIntervalMs: () => (enabled ? watchdogInterval(opts.env, pid) : null),
  };
}

/** WATCHDOG_USEC / 2 in ms when the watchdog applies to `pid` (sd_watchdog_enabled(3) rules), else null. */
export function watchdogInterval(env: Readonly<Record<string, string | undefined>>, pid: number): number | null {
  const usecText = env.WATCHDOG_USEC ?? '';
  if (!/^\d+$/.test(usecText)) return null;
  const usec = Number(usecText);
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  const watchdogPid = env.WATCHDOG_PID ?? '';
  if (watchdogPid !== '' && watchdogPid !== String(pid)) return null;
  return Math.max(1, Math.floor(usec / 2 / 1000));
}

// A newline would start a new KEY=VALUE assignment in the datagram.
function statusField(text: string): string {
  const oneLine = text.replace(/[\r\n]+/g, ' ').trim();
  return `STATUS=${oneLine.length > MAX_STATUS_CHARS ? oneLine.slice(0, MAX_STATUS_CHARS) : oneLine}`;
}

// process.hrtime is CLOCK_MONOTONIC on Linux (libuv uv_hrtime), the clock systemd compares against.
function monotonicUsec(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}

const defaultExec: NotifyExec = (file, args, options) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { env: options.env, timeout: EXEC_TIMEOUT_MS, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (!err) {
        resolve();
        return;
      }
      const detail = stderr.trim();
      reject(new Error(`${file} ${args.join(' ')}: ${detail || err.message}`, { cause: err }));
    });
  });
