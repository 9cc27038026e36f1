// Test-only: a real AF_UNIX SOCK_DGRAM listener standing in for PID 1's $NOTIFY_SOCKET.
// Node cannot open unix datagram sockets, so a python3 child binds it and prints each datagram
// as one JSON line. It closes any fd passed with a message, as PID 1 does: systemd-notify's
// BARRIER=1 waits for exactly that.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const LISTENER_PY = String.raw`
import array, json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    print(json.dumps({"message": data.decode("utf-8", "replace")}), flush=True)
`;

export interface NotifyListener {
  readonly socketPath: string;
  /** Waits until `n` datagrams (BARRIER=1 excluded) have arrived, or rejects at the deadline. */
  waitFor(n: number, deadlineMs?: number): Promise<string[]>;
  /** Everything received so far, BARRIER=1 excluded. */
  messages(): string[];
  close(): Promise<void>;
}

export async function startNotifyListener(): Promise<NotifyListener> {
  const dir = await mkdtemp(join(tmpdir(), 'bds-notify-'));
  const socketPath = join(dir, 'notify.sock');
  const child = spawn('python3', ['-c', LISTENER_PY, socketPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const received: string[] = [];
  const waiters = new Set<() => void>();
  let listening: () => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    listening = resolve;
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`notify listener exited ${code}: ${stderr}`)));
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const parsed = JSON.parse(line) as { listening?: boolean; message?: string };
    if (parsed.listening) listening();
    if (parsed.message !== undefined && parsed.message !== 'BARRIER=1') {
      received.push(parsed.message);
      for (const w of waiters) w();
    }
  });
  await ready;

  return {
    socketPath,
    messages: () => [...received],
    waitFor(n, deadlineMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (received.length < n) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve([...received]);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`got ${received.length} of ${n} notify messages: ${JSON.stringify(received)} ${stderr}`));
        }, deadlineMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Whether a command is on PATH (systemd-notify and systemd-analyze come from Debian's `systemd` package). */
export function hasBinary(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
