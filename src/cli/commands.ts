// The command table: each command's usage, options (one help line each) and handler. `--help`
// for the program and for every command is rendered from it, so usage text exists once.
// Handlers load the database, Drive and daemon code on demand: `--help` and `--version` load
// none of it, and `status` or `files` skip googleapis and chokidar.
import type { Writable } from 'node:stream';
import type { Config } from '../config/index.js';
import { parseFolderPattern } from '../config/folder-pattern.js';
import { closest } from '../config/suggest.js';
import { DEFAULT_CONFIG_PATH, packageVersion } from '../config/version.js';
import type { UploadStatus, UploadStore } from '../db/index.js';
import { errorMessage, redactText } from '../log/redact.js';
import type { Daemon } from '../daemon/index.js';
import { parse } from './args.js';
import { EXIT, UsageError } from './errors.js';
import { formatFiles, formatProgress } from './report.js';
import { escapeText, formatTime } from './text.js';

export interface Io {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** Registers a handler for SIGTERM/SIGINT ('stop', first signal) or SIGHUP ('reload'); main wires it to process signals. */
  onSignal: (sig: 'stop' | 'reload', fn: () => void) => void;
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  default?: string;
  /** Placeholder shown in usage, e.g. ID, PATH, N. */
  value?: string;
  help: string;
}

export type Parsed = { values: Record<string, string | boolean | undefined>; positionals: string[] };

export interface CommandSpec {
  name: string;
  /** Positional arguments in usage, e.g. "ID". */
  args?: string;
  positionals?: number;
  summary: string;
  /** Usage line after the name when the options alone do not tell it (e.g. "--job ID | --all"). */
  synopsis?: string;
  options: Record<string, OptionSpec>;
  /** Extra lines after the options in `--help`. */
  notes?: string[];
  /** Takes argv as given (the emulator parses its own flags). */
  raw?: (argv: string[], io: Io) => Promise<number>;
  run?: (a: Parsed, io: Io) => Promise<number>;
}

const line = (w: Writable, s = '') => w.write(s + '\n');
const CONFIG: Record<string, OptionSpec> = {
  config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_PATH, value: 'PATH', help: `config file (default ${DEFAULT_CONFIG_PATH})` },
};
const STATUSES: readonly UploadStatus[] = ['pending', 'uploading', 'uploaded', 'failed'];

async function withStore<T>(configPath: string, io: Io, fn: (s: UploadStore) => Promise<T>): Promise<T> {
  const cfg = await loadConfig(configPath, io.env);
  const { openBackend } = await import('../db/index.js');
  const db = await openBackend(cfg.database, { env: io.env });
  try {
    await db.assertMigrated();
    const store = await db.createStore({ now: Date.now, finalJobStatuses: cfg.database.final_job_statuses });
    return await fn(store);
  } finally {
    await db.close();
  }
}

/** The config file, read and checked; the loader (YAML, schema, cron) is loaded on demand. */
async function loadConfig(path: string, env: NodeJS.ProcessEnv): Promise<Config> {
  const { loadConfig: load } = await import('../config/load.js');
  return load(path, env);
}

const str = (a: Parsed, k: string) => a.values[k] as string | undefined;
const flag = (a: Parsed, k: string) => a.values[k] === true;

function wholeNumber(name: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(v.trim() !== '' && Number.isInteger(n) && n >= min))
    throw new UsageError(`${name} expects a whole number${min > 0 ? ` of at least ${min}` : ''}, got ${JSON.stringify(v)}`);
  return n;
}

/** Runs `render` once, or with --watch every interval until SIGINT/SIGTERM: in place on a terminal, as plain blocks when piped. */
async function maybeWatch(io: Io, watch: boolean, intervalMs: number, render: () => Promise<string>): Promise<number> {
  if (!watch) {
    io.stdout.write(await render());
    return EXIT.ok;
  }
  const tty = (io.stdout as { isTTY?: boolean }).isTTY === true;
  let stopped = false;
  let wake = () => undefined as void;
  io.onSignal('stop', () => {
    stopped = true;
    wake();
  });
  while (!stopped) {
    const text = await render();
    const head = `batch-drive-sync status, every ${intervalMs / 1000}s — ${formatTime(Date.now())}\n\n`;
    // Home + clear below: the screen is redrawn in place, as watch(1) does.
    if (tty) io.stdout.write(`\x1b[H\x1b[2J${head}${text}`);
    else io.stdout.write(`${head}${text}\n`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, intervalMs);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
  return EXIT.ok;
}

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'run',
    summary: 'the daemon: watch, scheduled scans, uploads (SIGTERM drains, SIGHUP reloads the config)',
    options: { ...CONFIG },
    async run(a, io) {
      // Signals that arrive while the daemon starts (its first scan runs after "daemon started"
      // is logged) are kept and acted on once it is up, not dropped.
      let d: Daemon | null = null;
      let early: 'stop' | 'reload' | null = null;
      io.onSignal('stop', () => (d ? void d.stop() : (early = 'stop')));
      io.onSignal('reload', () => (d ? void d.reload() : (early ??= 'reload')));
      const { startDaemon } = await import('../daemon/index.js');
      d = await startDaemon({ configPath: str(a, 'config')!, env: io.env });
      if (early === 'stop') void d.stop();
      else if (early === 'reload') void d.reload();
      await d.stopped;
      return EXIT.ok;
    },
  },
  {
    name: 'sync',
    summary: 'one full pass (discover, upload, reconcile), then exit: 0 when no row failed, 1 when some did',
    synopsis: '--once',
    options: {
      once: { type: 'boolean', help: 'required: one pass, then exit (the continuous mode is "run")' },
      job: { type: 'string', value: 'ID', help: 'only this job' },
      'max-wait-ms': { type: 'string', value: 'N', help: 'wait up to N ms for retries that fall due (default 120000)' },
      ...CONFIG,
    },
    async run(a, io) {
      if (!flag(a, 'once')) throw new UsageError('sync needs --once (the continuous mode is "run")');
      const maxWait = wholeNumber('--max-wait-ms', str(a, 'max-wait-ms'));
      const { syncOnce } = await import('../daemon/index.js');
      const r = await syncOnce({ configPath: str(a, 'config')!, env: io.env, jobId: str(a, 'job'), ...(maxWait === undefined ? {} : { maxWaitMs: maxWait }) });
      line(
        io.stdout,
        `uploaded ${r.uploaded}, failed rows ${r.failedRows}, pending rows ${r.pendingRows}${r.failedJobs ? `, failed jobs ${r.failedJobs}` : ''}`,
      );
      if (r.authPaused !== null) line(io.stderr, redactText(`uploads paused: Drive refused our credentials (${r.authPaused}); fix auth.* and run again`));
      return r.failedRows > 0 || r.failedJobs > 0 || r.authPaused !== null ? EXIT.failure : EXIT.ok;
    },
  },
  {
    name: 'migrate',
    summary: 'apply pending database migrations (idempotent), or list them',
    options: { status: { type: 'boolean', help: 'list every migration as applied, pending or changed; change nothing' }, ...CONFIG },
    async run(a, io) {
      const cfg = await loadConfig(str(a, 'config')!, io.env);
      const { openBackend } = await import('../db/index.js');
      const db = await openBackend(cfg.database, { env: io.env });
      try {
        if (flag(a, 'status')) {
          for (const m of await db.migrationStatus()) line(io.stdout, `${m.state.padEnd(8)} ${m.name}${m.appliedAt ? `  (${m.appliedAt})` : ''}`);
          return EXIT.ok;
        }
        const applied = await db.migrate();
        line(io.stdout, applied.length ? applied.map((n) => `applied ${n}`).join('\n') : 'database is up to date');
        return EXIT.ok;
      } finally {
        await db.close();
      }
    },
  },
  {
    name: 'status',
    summary: 'progress per job: files and bytes done/total, rate, ETA, uploads in flight, last errors',
    options: {
      job: { type: 'string', value: 'ID', help: 'only this job' },
      all: { type: 'boolean', help: 'every job (default: active and failed jobs in full, finished ones as one total line)' },
      json: { type: 'boolean', help: 'machine-readable: an array of every job (as --all) with every field' },
      watch: { type: 'boolean', help: 'refresh until interrupted: in place on a terminal, plain blocks when piped' },
      interval: { type: 'string', value: 'S', help: 'seconds between --watch refreshes (default 2)' },
      ...CONFIG,
    },
    notes: ['Text from the database (job ids, file names, errors) is printed with control characters escaped.'],
    async run(a, io) {
      const job = str(a, 'job');
      // Scripts get every job: the one-line total of finished jobs is for people.
      const all = flag(a, 'all') || flag(a, 'json');
      const intervalS = wholeNumber('--interval', str(a, 'interval'), 1) ?? 2;
      return withStore(str(a, 'config')!, io, async (s) => {
        if (job !== undefined && (await s.progress({ jobId: job })).jobs.length === 0) {
          line(io.stderr, `no Drive-enabled job or file rows for job "${escapeText(job)}"`);
          return EXIT.failure;
        }
        return maybeWatch(io, flag(a, 'watch'), intervalS * 1000, async () => {
          const rep = await s.progress({ jobId: job, all });
          return flag(a, 'json') ? JSON.stringify(rep.jobs, null, 2) + '\n' : formatProgress(rep, { all });
        });
      });
    },
  },
  {
    name: 'files',
    summary: "one job's files: path, size, status, attempts, next attempt, last error, Drive file and preview URLs",
    synopsis: '--job ID',
    options: {
      job: { type: 'string', value: 'ID', help: 'the job (required)' },
      status: { type: 'string', value: 'S', help: `only files in this status (${STATUSES.join(', ')})` },
      json: { type: 'boolean', help: 'machine-readable: an array with every field' },
      ...CONFIG,
    },
    async run(a, io) {
      const job = str(a, 'job');
      if (job === undefined) throw new UsageError('files needs --job ID');
      const st = str(a, 'status');
      if (st !== undefined && !STATUSES.includes(st as UploadStatus)) {
        const near = closest(st, STATUSES);
        throw new UsageError(`--status expects one of ${STATUSES.join(', ')}, got ${JSON.stringify(st)}${near ? ` (did you mean ${near}?)` : ''}`);
      }
      return withStore(str(a, 'config')!, io, async (s) => {
        const files = await s.listFiles(job, st as UploadStatus | undefined);
        if (files.length === 0 && (await s.progress({ jobId: job })).jobs.length === 0) {
          line(io.stderr, `no Drive-enabled job or file rows for job "${escapeText(job)}"`);
          return EXIT.failure;
        }
        io.stdout.write(flag(a, 'json') ? JSON.stringify(files, null, 2) + '\n' : formatFiles(files, Date.now()));
        return EXIT.ok;
      });
    },
  },
  {
    name: 'retry',
    summary: 'failed rows back to pending (attempts reset)',
    synopsis: '--job ID | --all',
    options: { job: { type: 'string', value: 'ID', help: "this job's failed rows" }, all: { type: 'boolean', help: 'every failed row' }, ...CONFIG },
    async run(a, io) {
      const job = str(a, 'job');
      if ((job === undefined) === !flag(a, 'all')) throw new UsageError('retry needs exactly one of --job ID or --all');
      const n = await withStore(str(a, 'config')!, io, async (s) => {
        // The jobs to recompute are the ones with failed rows, found before they change.
        const jobs = job !== undefined ? [job] : (await s.progress({})).jobs.filter((j) => j.counts.failed > 0).map((j) => j.jobId);
        const count = await s.retryFailed(job ?? null);
        for (const j of jobs) await s.recomputeJobStatus(j);
        return count;
      });
      line(io.stdout, `${n} failed row(s) back to pending`);
      return EXIT.ok;
    },
  },
  {
    name: 'enable',
    args: 'ID',
    positionals: 1,
    summary: 'turn Drive upload on for a job, optionally with its own folder pattern',
    options: { pattern: { type: 'string', value: 'P', help: 'folder pattern for this job (tokens as in drive.folder_pattern)' }, ...CONFIG },
    run: (a, io) => setEnabled(a, io, true),
  },
  {
    name: 'disable',
    args: 'ID',
    positionals: 1,
    summary: 'turn Drive upload off for a job',
    options: { ...CONFIG },
    run: (a, io) => setEnabled(a, io, false),
  },
  {
    name: 'check-config',
    summary: 'check config, database, token, root folder, cron, permissions: one line per problem (exit 78 if any)',
    options: {
      user: { type: 'string', value: 'NAME', help: 'check database and output access as this user (default: the service user when run as root)' },
      ...CONFIG,
    },
    async run(a, io) {
      const { runCheckConfig } = await import('./check-config.js');
      return runCheckConfig({ configPath: str(a, 'config')!, user: str(a, 'user'), io });
    },
  },
  {
    name: 'install-service',
    summary: 'install this copy as a systemd service (user, unit, tmpfiles grants), check what it needs; when ready, migrate and start',
    options: {
      root: { type: 'string', value: 'DIR', help: 'install into this root instead of / (packaging, tests): no systemctl, no migrate' },
      'dry-run': { type: 'boolean', help: 'print what would be done, change nothing' },
      check: { type: 'boolean', help: 'only check what the service needs; change nothing' },
      'no-start': { type: 'boolean', help: 'do not migrate or start the service even when everything is in place' },
      ...CONFIG,
    },
    notes: ['Idempotent: run it again after editing the config, after an upgrade, or when the check lists something missing.'],
    async run(a, io) {
      const { installService } = await import('./install-service.js');
      return installService({
        root: str(a, 'root') ?? '/',
        configPath: str(a, 'config')!,
        dryRun: flag(a, 'dry-run'),
        checkOnly: flag(a, 'check'),
        noStart: flag(a, 'no-start'),
        io,
      });
    },
  },
  {
    name: 'emulator',
    summary: 'run the local Google Drive emulator (prints its URL; Ctrl-C stops it)',
    options: {
      host: { type: 'string', value: 'H', help: 'address to listen on (default 127.0.0.1)' },
      port: { type: 'string', value: 'N', help: 'port (default 0: a free one)' },
      data: { type: 'string', value: 'DIR', help: 'keep files and state here across restarts' },
      'root-folder': { type: 'string', value: 'ID', help: 'create a root folder with this id' },
      'shared-drive': { type: 'string', value: 'ID', help: 'create a shared drive with this id' },
      'write-quota': { type: 'string', value: 'N', help: 'writes per second before 403 rateLimitExceeded' },
      'rate-limit-status': { type: 'string', value: '403|429', help: 'status of a rate-limit answer' },
      'daily-cap-bytes': { type: 'string', value: 'N', help: 'daily upload cap in bytes' },
      'storage-quota-bytes': { type: 'string', value: 'N', help: 'storage quota in bytes' },
      'error-rate': { type: 'string', value: 'X', help: 'share (0..1) of requests answered with a 5xx' },
      'reset-rate': { type: 'string', value: 'X', help: 'share (0..1) of requests whose connection is reset' },
      'latency-ms': { type: 'string', value: 'N', help: 'delay added to every answer' },
      'short-page-rate': { type: 'string', value: 'X', help: 'share (0..1) of files.list pages cut short (as Drive may)' },
      'partial-chunk-rate': { type: 'string', value: 'X', help: 'share (0..1) of resumable chunks of which only whole 256 KiB blocks are kept' },
      'partial-chunk-answer': { type: 'string', value: 'reset|308', help: 'how a cut chunk is answered: a connection reset or a 308 with the kept Range' },
      seed: { type: 'string', value: 'N', help: 'seed of the fault generator (replayable runs)' },
      'tls-cert': { type: 'string', value: 'FILE', help: 'serve HTTPS with this certificate (PEM; with --tls-key)' },
      'tls-key': { type: 'string', value: 'FILE', help: 'the private key of --tls-cert (PEM)' },
      'tls-self-signed': {
        type: 'string',
        value: 'DIR',
        help: 'serve HTTPS with a private CA and certificate made in DIR (openssl); stderr names the CA file to trust',
      },
    },
    async raw(argv, io) {
      let emu;
      try {
        // Loaded on demand: the daemon never carries the emulator's code.
        const { runEmulatorCli } = await import('../emulator/index.js');
        emu = await runEmulatorCli(argv, io.stdout, io.stderr);
      } catch (e) {
        if (e instanceof Error && /flag|option|argument|expected/i.test(e.message)) throw new UsageError(e.message);
        throw e;
      }
      await new Promise<void>((resolve) => io.onSignal('stop', resolve));
      await emu.close();
      return EXIT.ok;
    },
  },
  {
    name: 'demo',
    summary: 'emulator + temp database + sample jobs + daemon: the whole flow on this machine',
    options: { keep: { type: 'boolean', help: 'keep the work dir (database, files, emulator data) and print how to look at it again' } },
    async run(a, io) {
      const { runDemo } = await import('./demo.js');
      return runDemo({ stdout: io.stdout, env: io.env, keep: flag(a, 'keep') });
    },
  },
];

async function setEnabled(a: Parsed, io: Io, enabled: boolean): Promise<number> {
  const id = a.positionals[0];
  if (!id) throw new UsageError(`${enabled ? 'enable' : 'disable'} needs a job id`);
  const pattern = str(a, 'pattern');
  if (pattern !== undefined) {
    try {
      parseFolderPattern(pattern);
    } catch (e) {
      throw new UsageError(`--pattern: ${errorMessage(e)}`);
    }
  }
  const ok = await withStore(str(a, 'config')!, io, (s) => s.setJobEnabled(id, enabled, pattern));
  if (!ok) {
    line(io.stderr, `no job "${escapeText(id)}" in batch_jobs`);
    return EXIT.failure;
  }
  line(io.stdout, `job ${escapeText(id)}: Drive upload ${enabled ? 'enabled' : 'disabled'}${pattern ? ` with folder pattern ${escapeText(pattern)}` : ''}`);
  return EXIT.ok;
}

function optionUsage(name: string, o: OptionSpec): string {
  return `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
}

/** "status [--job ID] [--all] …": the usage line of one command. */
export function usageOf(c: CommandSpec): string {
  const parts = [c.name];
  if (c.args) parts.push(c.args);
  if (c.synopsis) parts.push(c.synopsis);
  const inSynopsis = (n: string) => c.synopsis?.includes(`--${n}`) ?? false;
  for (const [n, o] of Object.entries(c.options)) if (!inSynopsis(n)) parts.push(`[${optionUsage(n, o)}]`);
  return parts.join(' ');
}

/** A command's `--help`: usage, what it does, one line per option. */
export function commandHelp(c: CommandSpec): string {
  const opts = Object.entries(c.options).map(([n, o]) => [`${o.short ? `-${o.short}, ` : '    '}${optionUsage(n, o)}`, o.help] as const);
  opts.push(['-h, --help', 'this help']);
  const w = Math.max(...opts.map(([u]) => u.length));
  return [
    `Usage: batch-drive-sync ${usageOf(c)}`,
    '',
    c.summary.charAt(0).toUpperCase() + c.summary.slice(1) + '.',
    '',
    'Options:',
    ...opts.map(([u, h]) => `  ${u.padEnd(w)}  ${h}`),
    ...(c.notes?.length ? ['', ...c.notes] : []),
    '',
  ].join('\n');
}

/** The program's `--help`: every command with its summary. */
export function programHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'batch-drive-sync — upload batch job outputs to Google Drive, exactly once',
    '',
    'Usage: batch-drive-sync <command> [options]     (every command takes --config PATH and --help)',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Options:',
    '  -h, --help      this help ("batch-drive-sync <command> --help" for a command\'s options)',
    '  -V, --version   the version',
    '',
    'Exit codes: 0 ok, 1 runtime failure, 64 usage, 78 bad config, credentials or database.',
    '',
  ].join('\n');
}

export async function runCommand(argv: string[], io: Io): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    const topic = cmd === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.stdout.write(topic ? commandHelp(topic) : programHelp());
    return cmd === undefined ? EXIT.usage : EXIT.ok;
  }
  if (cmd === '-V' || cmd === '--version' || cmd === 'version') {
    line(io.stdout, `batch-drive-sync ${packageVersion()}`);
    return EXIT.ok;
  }
  const spec = COMMANDS.find((c) => c.name === cmd);
  if (!spec) {
    const near = closest(
      cmd,
      COMMANDS.map((c) => c.name),
    );
    throw new UsageError(`unknown command "${escapeText(cmd)}"${near ? ` (did you mean ${near}?)` : ''}; see "batch-drive-sync --help"`);
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(commandHelp(spec));
    return EXIT.ok;
  }
  if (spec.raw) return spec.raw(rest, io);
  const options = Object.fromEntries(
    Object.entries(spec.options).map(([n, o]) => [
      n,
      { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.default !== undefined ? { default: o.default } : {}) },
    ]),
  );
  const a = parse(rest, options, spec.positionals ?? 0, spec) as Parsed;
  return spec.run!(a, io);
}
