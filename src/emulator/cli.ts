import { startEmulator } from './server.js';
import type { Emulator, EmulatorFaults, EmulatorOptions } from './types.js';

const USAGE =
  'usage: emulator [--host H] [--port N] [--data DIR] [--root-folder ID] [--shared-drive ID] [--write-quota N] ' +
  '[--rate-limit-status 403|429] [--daily-cap-bytes N] [--storage-quota-bytes N] [--error-rate 0..1] ' +
  '[--reset-rate 0..1] [--latency-ms N] [--short-page-rate 0..1] [--partial-chunk-rate 0..1] [--partial-chunk-answer reset|308] [--seed N] ' +
  '[--tls-cert FILE --tls-key FILE | --tls-self-signed DIR]';

/**
 * Parses the `emulator` command's flags (`--flag value` or `--flag=value`).
 * Throws an Error naming the flag and what was expected.
 */
export function parseEmulatorArgs(argv: string[]): EmulatorOptions {
  const opts: EmulatorOptions = {};
  const faults: Partial<EmulatorFaults> = {};
  const num = (flag: string, v: string, check: (n: number) => boolean, what: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || !check(n)) throw new Error(`${flag} expects ${what}, got "${v}". ${USAGE}`);
    return n;
  };
  const nonNegInt = (n: number) => Number.isInteger(n) && n >= 0;
  // A rate or share of requests.
  const share = (flag: string, v: string) => num(flag, v, (n) => n >= 0 && n <= 1, 'a number between 0 and 1');
  let tlsCert: string | undefined;
  let tlsKey: string | undefined;
  let tlsSelfSigned: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}". ${USAGE}`);
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    let value: string;
    if (eq > 0) {
      value = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new Error(`${flag} needs a value. ${USAGE}`);
      value = next;
      i++;
    }
    const nonEmpty = (): string => {
      if (value.trim() === '') throw new Error(`${flag} needs a non-empty value. ${USAGE}`);
      return value;
    };
    switch (flag) {
      case '--host':
        opts.host = nonEmpty();
        break;
      case '--port':
        opts.port = num(flag, value, (n) => nonNegInt(n) && n <= 65535, 'a port number 0..65535');
        break;
      case '--data':
        opts.dataDir = nonEmpty();
        break;
      case '--root-folder':
        opts.rootFolderId = nonEmpty();
        break;
      case '--shared-drive':
        opts.sharedDriveId = nonEmpty();
        break;
      case '--write-quota':
        faults.writeQuotaPerSec = num(flag, value, (n) => n > 0, 'a positive number of writes per second');
        break;
      case '--rate-limit-status': {
        const n = num(flag, value, (x) => x === 403 || x === 429, '403 or 429');
        faults.rateLimitStatus = n === 429 ? 429 : 403;
        break;
      }
      case '--daily-cap-bytes':
        faults.dailyUploadCapBytes = num(flag, value, nonNegInt, 'a non-negative integer');
        break;
      case '--storage-quota-bytes':
        faults.storageQuotaBytes = num(flag, value, nonNegInt, 'a non-negative integer');
        break;
      case '--error-rate':
        faults.error5xxRate = share(flag, value);
        break;
      case '--reset-rate':
        faults.resetRate = share(flag, value);
        break;
      case '--latency-ms':
        faults.latencyMs = num(flag, value, nonNegInt, 'a non-negative integer');
        break;
      case '--short-page-rate':
        faults.shortPageRate = share(flag, value);
        break;
      case '--partial-chunk-rate':
        faults.partialChunkRate = share(flag, value);
        break;
      case '--partial-chunk-answer':
        if (value !== 'reset' && value !== '308') throw new Error(`--partial-chunk-answer expects reset or 308, got "${value}". ${USAGE}`);
        faults.partialChunkAnswer = value;
        break;
      case '--seed':
        faults.seed = num(flag, value, Number.isInteger, 'an integer');
        break;
      case '--tls-cert':
        tlsCert = nonEmpty();
        break;
      case '--tls-key':
        tlsKey = nonEmpty();
        break;
      case '--tls-self-signed':
        tlsSelfSigned = nonEmpty();
        break;
      default:
        throw new Error(`unknown flag ${flag}. ${USAGE}`);
    }
  }
  if (tlsSelfSigned !== undefined && (tlsCert !== undefined || tlsKey !== undefined)) {
    throw new Error(`--tls-self-signed and --tls-cert/--tls-key are alternatives: give one. ${USAGE}`);
  }
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new Error(`${tlsCert === undefined ? '--tls-key needs --tls-cert' : '--tls-cert needs --tls-key'} (a PEM certificate and its key). ${USAGE}`);
  }
  if (tlsCert !== undefined && tlsKey !== undefined) opts.tls = { certFile: tlsCert, keyFile: tlsKey };
  if (tlsSelfSigned !== undefined) opts.tls = { selfSignedDir: tlsSelfSigned };
  if (Object.keys(faults).length > 0) opts.faults = faults;
  return opts;
}

/**
 * Parses argv, starts the emulator and prints its base URL on its own line once it listens.
 * In self-signed TLS mode a note on stderr names the CA file clients must trust.
 */
export async function runEmulatorCli(argv: string[], stdout: NodeJS.WritableStream, stderr?: NodeJS.WritableStream): Promise<Emulator> {
  const emu = await startEmulator(parseEmulatorArgs(argv));
  stdout.write(`${emu.url}\n`);
  if (emu.caFile) stderr?.write(`emulator: TLS with a private CA; clients trust it with NODE_EXTRA_CA_CERTS=${emu.caFile}\n`);
  return emu;
}
