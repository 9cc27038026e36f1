import test from 'ava';
import { createNotifier, watchdogInterval, type NotifyExec } from '../../src/daemon/systemd-notify.js';
import type { Logger, LogMeta } from '../../src/log/index.js';
import { hasBinary, startNotifyListener } from './notify-listener.js';

function recordingLogger() {
  const lines: { level: string; message: string; meta?: LogMeta }[] = [];
  const at = (level: string) => (message: string, meta?: LogMeta) => {
    lines.push(meta === undefined ? { level, message } : { level, message, meta });
  };
  const log: Logger = {
    error: at('error'),
    warning: at('warning'),
    notice: at('notice'),
    info: at('info'),
    debug: at('debug'),
    child: () => log,
    setLevel: () => undefined,
  };
  return { log, lines };
}

function recordingExec(fail?: (args: readonly string[]) => Error | undefined) {
  const calls: { file: string; args: string[]; env: Record<string, string> }[] = [];
  const exec: NotifyExec = async (file, args, options) => {
    calls.push({ file, args: [...args], env: options.env });
    const e = fail?.(args);
    if (e) throw e;
  };
  return { exec, calls };
}

test('real systemd-notify delivers READY, STATUS, STOPPING, WATCHDOG in call order', async (t) => {
  t.true(hasBinary('systemd-notify'), 'systemd-notify is missing: install the `systemd` Debian package (apt-get install -y systemd)');
  t.true(hasBinary('python3'), 'python3 is needed for the test listener');
  const listener = await startNotifyListener();
  t.teardown(() => listener.close());
  const { log, lines } = recordingLogger();
  const n = createNotifier({ env: { NOTIFY_SOCKET: listener.socketPath, PATH: process.env.PATH }, log });
  t.true(n.enabled);

  // Fired without awaiting in between: ordering is the notifier's job.
  const sent = [n.ready('watching 3 jobs'), n.status('uploading 2 files'), n.reloading(), n.ready(), n.watchdog(), n.stopping()];
  await Promise.all(sent);

  const got = await listener.waitFor(6);
  t.deepEqual(got.slice(0, 2), ['READY=1\nSTATUS=watching 3 jobs', 'STATUS=uploading 2 files']);
  t.regex(got[2] ?? '', /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
  const usec = BigInt(/MONOTONIC_USEC=(\d+)/.exec(got[2] ?? '')?.[1] ?? '0');
  t.true(usec > 0n && usec <= process.hrtime.bigint() / 1000n, 'MONOTONIC_USEC is CLOCK_MONOTONIC in µs');
  t.deepEqual(got.slice(3), ['READY=1', 'WATCHDOG=1', 'STOPPING=1']);
  t.deepEqual(lines, [], 'nothing failed, nothing logged');
});

test('without NOTIFY_SOCKET the notifier is disabled and runs nothing', async (t) => {
  const { exec, calls } = recordingExec();
  const n = createNotifier({ env: { WATCHDOG_USEC: '60000000' }, exec });
  t.false(n.enabled);
  await n.ready('x');
  await n.watchdog();
  await n.stopping();
  await n.reloading();
  await n.status('y');
  t.is(calls.length, 0);
  t.is(n.watchdogIntervalMs(), null);
  t.false(createNotifier({ env: { NOTIFY_SOCKET: '' }, exec }).enabled);
});

test('each message is one systemd-notify run with KEY=VALUE args and a minimal env', async (t) => {
  const { exec, calls } = recordingExec();
  const n = createNotifier({
    env: { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/usr/bin:/bin', GOOGLE_APPLICATION_CREDENTIALS: '/secret' },
    exec,
  });
  await n.ready('line one\nSTOPPING=1');
  await n.stopping();
  t.deepEqual(calls[0], {
    file: 'systemd-notify',
    args: ['READY=1', 'STATUS=line one STOPPING=1'],
    env: { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/usr/bin:/bin' },
  });
  t.deepEqual(calls[1]?.args, ['STOPPING=1']);
  const noPath = recordingExec();
  await createNotifier({ env: { NOTIFY_SOCKET: '@abstract' }, exec: noPath.exec }).watchdog();
  t.regex(noPath.calls[0]?.env.PATH ?? '', /\/usr\/bin/, 'a default PATH when the env has none');
});

test('messages are serialized: the next exec starts only after the previous one finished', async (t) => {
  const started: string[] = [];
  const finishers: (() => void)[] = [];
  const exec: NotifyExec = (_file, args) =>
    new Promise<void>((resolve) => {
      started.push(args[0] ?? '');
      finishers.push(resolve);
    });
  const n = createNotifier({ env: { NOTIFY_SOCKET: '/s' }, exec });
  const all = Promise.all([n.ready(), n.watchdog(), n.stopping()]);
  // Let the microtask queue drain: only the first exec may have started.
  await new Promise((r) => setImmediate(r));
  t.deepEqual(started, ['READY=1']);
  finishers.shift()?.();
  await new Promise((r) => setImmediate(r));
  t.deepEqual(started, ['READY=1', 'WATCHDOG=1']);
  finishers.shift()?.();
  await new Promise((r) => setImmediate(r));
  t.deepEqual(started, ['READY=1', 'WATCHDOG=1', 'STOPPING=1']);
  finishers.shift()?.();
  await all;
});

test('watchdog pings waiting in the queue are coalesced', async (t) => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const { exec, calls } = recordingExec();
  const gated: NotifyExec = async (file, args, options) => {
    if (args[0] === 'READY=1') await gate;
    await exec(file, args, options);
  };
  const n = createNotifier({ env: { NOTIFY_SOCKET: '/s' }, exec: gated });
  const p = [n.ready(), n.watchdog(), n.watchdog(), n.watchdog()];
  release();
  await Promise.all(p);
  t.deepEqual(
    calls.map((c) => c.args[0]),
    ['READY=1', 'WATCHDOG=1'],
  );
  await n.watchdog();
  t.is(calls.length, 3, 'a later ping is sent again');
});

test('failures never throw and are logged once as a warning', async (t) => {
  const { log, lines } = recordingLogger();
  const { exec, calls } = recordingExec(() => new Error('spawn systemd-notify ENOENT'));
  const n = createNotifier({ env: { NOTIFY_SOCKET: '/s' }, exec, log });
  await t.notThrowsAsync(n.ready());
  await t.notThrowsAsync(n.watchdog());
  await t.notThrowsAsync(n.stopping());
  t.is(calls.length, 3, 'later messages are still attempted');
  const warnings = lines.filter((l) => l.level === 'warning');
  t.is(warnings.length, 1);
  t.regex(warnings[0]?.message ?? '', /systemd notification failed.*ENOENT/);
  t.is(lines.filter((l) => l.level === 'debug').length, 2);
});

test('the real binary failing (nobody listening) is a logged warning, not a throw', async (t) => {
  t.true(hasBinary('systemd-notify'), 'systemd-notify is missing: install the `systemd` Debian package (apt-get install -y systemd)');
  const { log, lines } = recordingLogger();
  const n = createNotifier({ env: { NOTIFY_SOCKET: '/nonexistent/bds-notify.sock', PATH: process.env.PATH }, log });
  await t.notThrowsAsync(n.ready());
  t.is(lines.length, 1);
  t.is(lines[0]?.level, 'warning');
  t.regex(lines[0]?.message ?? '', /systemd-notify READY=1: .+/);
});

test('a missing helper binary is a logged warning, not a throw', async (t) => {
  const { log, lines } = recordingLogger();
  const n = createNotifier({ env: { NOTIFY_SOCKET: '/s', PATH: '/nonexistent' }, log, binary: 'bds-no-such-notify' });
  await t.notThrowsAsync(n.ready());
  t.is(lines.length, 1);
  t.regex(lines[0]?.message ?? '', /ENOENT/);
});

test('watchdog interval is WATCHDOG_USEC/2, only for our PID', (t) => {
  const base = { NOTIFY_SOCKET: '/s', WATCHDOG_USEC: '60000000' };
  t.is(createNotifier({ env: base, pid: 4242 }).watchdogIntervalMs(), 30_000);
  t.is(createNotifier({ env: { ...base, WATCHDOG_PID: '4242' }, pid: 4242 }).watchdogIntervalMs(), 30_000);
  t.is(createNotifier({ env: { ...base, WATCHDOG_PID: '4243' }, pid: 4242 }).watchdogIntervalMs(), null);
  t.is(createNotifier({ env: { ...base, WATCHDOG_PID: String(process.pid) } }).watchdogIntervalMs(), 30_000);
  t.is(createNotifier({ env: { NOTIFY_SOCKET: '/s' } }).watchdogIntervalMs(), null);
  t.is(watchdogInterval({ WATCHDOG_USEC: '0' }, 1), null);
  t.is(watchdogInterval({ WATCHDOG_USEC: 'abc' }, 1), null);
  t.is(watchdogInterval({ WATCHDOG_USEC: '-5' }, 1), null);
  t.is(watchdogInterval({ WATCHDOG_USEC: '1000' }, 1), 1, 'never 0 ms');
});
