// The only module that calls process.exit: everything else returns or throws.
import { runCommand } from './commands.js';
import { describeError, exitCodeFor } from './errors.js';

/** Runs the CLI with process.argv; only this module and main.ts call process.exit. */
export async function main(): Promise<number> {
  let stopRequested = 0;
  const stopHandlers: (() => void)[] = [];
  const reloadHandlers: (() => void)[] = [];
  const onStop = () => {
    stopRequested++;
    // A second signal means "now": skip the drain (rows are leased and come back on restart).
    if (stopRequested > 1) process.exit(1);
    for (const h of stopHandlers) h();
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  // Without a listener Node dies on SIGHUP (systemctl reload); install it before anything starts.
  process.on('SIGHUP', () => {
    for (const h of reloadHandlers) h();
  });
  try {
    return await runCommand(process.argv.slice(2), {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      onSignal: (sig, fn) => (sig === 'stop' ? stopHandlers : reloadHandlers).push(fn),
    });
  } catch (e) {
    process.stderr.write(describeError(e) + '\n');
    return exitCodeFor(e);
  }
}
