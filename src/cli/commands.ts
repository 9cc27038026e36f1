import type { Writable } from 'node:stream';
import { configSecrets, DEFAULT_CONFIG_PATH, loadConfig, parseFolderPattern } from '../config/index.js';
import { openBackend, type JobReport, type UploadStore } from '../db/index.js';
import { createDriveClient } from '../drive/index.js';
import { createSilentLogger, errorMessage, redactText } from '../log/index.js';
import { driveOptions, startDaemon, syncOnce } from '../daemon/index.js';
import { parse } from './args.js';
import { EXIT, UsageError } from './errors.js';

export interface Io {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** Resolves on SIGTERM/SIGINT (first signal); main wires it to process signals. */
  onSignal: (sig: 'stop' | 'reload', fn: () => void) => void;
}

const configOpt = { config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_PATH } } as const;
const line = (w: Writable, s = '') => w.write(s + '\n');

async function withStore<T>(configPath: string, io: Io, fn: (s: UploadStore) => Promise<T>): Promise<T> {
  const cfg = loadConfig(configPath, io.env);
  const db = await openBackend(cfg.database, { env: io.env });
  try {
    await db.assertMigrated();
    const store = await db.createStore({ now: Date.now, finalJobStatuses: cfg.database.final_job_statuses });
    return await fn(store);
  } finally {
    await db.close();
  }
}

export const HELP = `batch-drive-sync — upload batch job outputs to Google Drive, exactly once

Usage: batch-drive-sync <command> [--config PATH] [options]

Commands:
  run                              the daemon: watch, scheduled scans, uploads (SIGTERM drains, SIGHUP reloads)
  sync --once [--job ID]           one full pass (discover, upload, reconcile), then exit (1 if rows failed)
  migrate [--status]               apply pending database migrations, or list them
  status [--job ID] [--json]       per job: Drive status, counts by upload status, folder URL, last errors
  retry --job ID | --all           failed rows back to pending
  enable ID [--pattern P]          turn Drive upload on for a job (optionally with its own folder pattern)
  disable ID                       turn Drive upload off for a job
  check-config                     validate the config, open the database, get a token, read the root folder
  emulator [--port N] [--data DIR] [--root-folder ID] [--shared-drive ID] [fault flags]
                                   run the local Google Drive emulator
  demo                             emulator + temp database + sample jobs + daemon, end to end

Options:
  -c, --config PATH   config file (default ${DEFAULT_CONFIG_PATH})
  -h, --help          this help

Exit codes: 0 ok, 1 runtime failure, 64 usage, 78 bad config or credentials.
`;

export async function runCommand(argv: string[], io: Io): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      io.stdout.write(HELP);
      return cmd === undefined ? EXIT.usage : EXIT.ok;
    case 'run': {
      const a = parse(rest, configOpt);
      if (a.values.help) return help(io, 'run [--config PATH]');
      const d = await startDaemon({ configPath: a.values.config, env: io.env });
      io.onSignal('stop', () => void d.stop());
      io.onSignal('reload', () => void d.reload());
      await d.stopped;
      return EXIT.ok;
    }
    case 'sync': {
      const a = parse(rest, { ...configOpt, once: { type: 'boolean' }, job: { type: 'string' }, 'max-wait-ms': { type: 'string' } });
      if (a.values.help) return help(io, 'sync --once [--job ID] [--max-wait-ms N] [--config PATH]');
      if (!a.values.once) throw new UsageError('sync needs --once (the continuous mode is "run")');
      const maxWait = a.values['max-wait-ms'] === undefined ? undefined : Number(a.values['max-wait-ms']);
      if (maxWait !== undefined && !(Number.isInteger(maxWait) && maxWait >= 0)) throw new UsageError('--max-wait-ms expects a whole number of milliseconds');
      const r = await syncOnce({ configPath: a.values.config, env: io.env, jobId: a.values.job, ...(maxWait === undefined ? {} : { maxWaitMs: maxWait }) });
      line(io.stdout, `uploaded ${r.uploaded}, failed rows ${r.failedRows}, pending rows ${r.pendingRows}${r.failedJobs ? `, failed jobs ${r.failedJobs}` : ''}`);
      if (r.authPaused !== null) line(io.stderr, redactText(`uploads paused: Drive refused our credentials (${r.authPaused}); fix auth.* and run again`));
      return r.failedRows > 0 || r.failedJobs > 0 || r.authPaused !== null ? EXIT.failure : EXIT.ok;
    }
    case 'migrate': {
      const a = parse(rest, { ...configOpt, status: { type: 'boolean' } });
      if (a.values.help) return help(io, 'migrate [--status] [--config PATH]');
      const cfg = loadConfig(a.values.config, io.env);
      const db = await openBackend(cfg.database, { env: io.env });
      try {
        if (a.values.status) {
          for (const m of await db.migrationStatus()) line(io.stdout, `${m.state.padEnd(8)} ${m.name}${m.appliedAt ? `  (${m.appliedAt})` : ''}`);
          return EXIT.ok;
        }
        const applied = await db.migrate();
        line(io.stdout, applied.length ? applied.map((n) => `applied ${n}`).join('\n') : 'database is up to date');
        return EXIT.ok;
      } finally {
        await db.close();
      }
    }
    case 'status': {
      const a = parse(rest, { ...configOpt, job: { type: 'string' }, json: { type: 'boolean' } });
      if (a.values.help) return help(io, 'status [--job ID] [--json] [--config PATH]');
      const rep = await withStore(a.values.config, io, (s) => s.report(a.values.job));
      if (a.values.job !== undefined && rep.length === 0) {
        io.stderr.write(`no Drive-enabled job or file rows for job ${JSON.stringify(a.values.job)}\n`);
        return EXIT.failure;
      }
      if (a.values.json) line(io.stdout, JSON.stringify(rep, null, 2));
      else io.stdout.write(formatReport(rep));
      return EXIT.ok;
    }
    case 'retry': {
      const a = parse(rest, { ...configOpt, job: { type: 'string' }, all: { type: 'boolean' } });
      if (a.values.help) return help(io, 'retry --job ID | --all [--config PATH]');
      if ((a.values.job === undefined) === !a.values.all) throw new UsageError('retry needs exactly one of --job ID or --all');
      const n = await withStore(a.values.config, io, async (s) => {
        const count = await s.retryFailed(a.values.job ?? null);
        const jobs = a.values.job !== undefined ? [a.values.job] : (await s.report()).map((j) => j.jobId);
        for (const j of jobs) await s.recomputeJobStatus(j);
        return count;
      });
      line(io.stdout, `${n} failed row(s) back to pending`);
      return EXIT.ok;
    }
    case 'enable':
    case 'disable': {
      const a = parse(rest, cmd === 'enable' ? { ...configOpt, pattern: { type: 'string' } } : configOpt, 1);
      if (a.values.help) return help(io, cmd === 'enable' ? 'enable ID [--pattern P] [--config PATH]' : 'disable ID [--config PATH]');
      const id = a.positionals[0];
      if (!id) throw new UsageError(`${cmd} needs a job id`);
      const pattern = 'pattern' in a.values ? (a.values.pattern as string | undefined) : undefined;
      if (pattern !== undefined) {
        try {
          parseFolderPattern(pattern);
        } catch (e) {
          throw new UsageError(`--pattern: ${errorMessage(e)}`);
        }
      }
      const ok = await withStore(a.values.config, io, (s) => s.setJobEnabled(id, cmd === 'enable', pattern));
      if (!ok) {
        io.stderr.write(`no job ${JSON.stringify(id)} in batch_jobs\n`);
        return EXIT.failure;
      }
      line(io.stdout, `job ${id}: Drive upload ${cmd}d${pattern ? ` with folder pattern ${pattern}` : ''}`);
      return EXIT.ok;
    }
    case 'check-config': {
      const a = parse(rest, configOpt);
      if (a.values.help) return help(io, 'check-config [--config PATH]');
      const cfg = loadConfig(a.values.config, io.env);
      // A token endpoint may echo what it was sent: every line goes through the one redaction.
      const secrets = configSecrets(cfg);
      const say = (w: Writable, s: string) => line(w, redactText(s, secrets));
      say(io.stdout, `config ${a.values.config}: ok`);
      const problems: string[] = [];
      try {
        const db = await openBackend(cfg.database, { env: io.env });
        try {
          const pending = (await db.migrationStatus()).filter((m) => m.state !== 'applied');
          if (pending.length) problems.push(`database ${db.label}: migrations not applied (${pending.map((p) => p.name).join(', ')}); run "batch-drive-sync migrate"`);
          else say(io.stdout, `database ${db.label}: ok`);
          await db.assertWritable().catch((e: unknown) => problems.push(errorMessage(e)));
          if (db.sqlite) say(io.stdout, walNote(db.label, (await db.sqlite.get<{ journal_mode: string }>('PRAGMA journal_mode'))?.journal_mode ?? 'unknown'));
        } finally {
          await db.close();
        }
      } catch (e) {
        problems.push(errorMessage(e));
      }
      try {
        const drive = await createDriveClient(driveOptions(cfg, createSilentLogger()));
        const p = await drive.checkAccess();
        if (p.length) problems.push(...p);
        else say(io.stdout, `drive ${cfg.drive.api_endpoint}: token ok, root folder ${cfg.drive.root_folder_id} readable`);
      } catch (e) {
        problems.push(errorMessage(e));
      }
      for (const p of problems) say(io.stderr, `problem: ${p}`);
      return problems.length ? EXIT.config : EXIT.ok;
    }
    case 'emulator': {
      if (rest.includes('--help') || rest.includes('-h')) {
        return help(io, 'emulator [--port N] [--data DIR] [--root-folder ID] [--shared-drive ID] [--write-quota N] [--error-rate X] [--reset-rate X] [--latency-ms N] [--seed N] [--tls-cert FILE --tls-key FILE | --tls-self-signed DIR] (all flags: README)');
      }
      let emu;
      try {
        // Loaded on demand: the daemon never carries the emulator's code.
        const { runEmulatorCli } = await import('../emulator/index.js');
        emu = await runEmulatorCli(rest, io.stdout, io.stderr);
      } catch (e) {
        if (e instanceof Error && /flag|option|argument|expected/i.test(e.message)) throw new UsageError(e.message);
        throw e;
      }
      await new Promise<void>((resolve) => io.onSignal('stop', resolve));
      await emu.close();
      return EXIT.ok;
    }
    case 'demo': {
      const a = parse(rest, { keep: { type: 'boolean' } });
      if (a.values.help) return help(io, 'demo [--keep]');
      const { runDemo } = await import('./demo.js');
      return runDemo({ stdout: io.stdout, env: io.env, keep: Boolean(a.values.keep) });
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(cmd)}; see "batch-drive-sync --help"`);
  }
}

// The journal mode is a property of the file, not of our connection: the operator must know we changed it.
function walNote(path: string, mode: string): string {
  return mode.toLowerCase() === 'wal'
    ? `database ${path}: journal_mode=wal (the daemon switches the batch database to WAL for good: the mode is stored in the file and applies to every program that opens it; -wal and -shm files live beside it)`
    : `database ${path}: journal_mode=${mode} (WAL could not be set on this file system; the daemon works with the rollback journal, and readers then block writers)`;
}

function help(io: Io, usage: string): number {
  line(io.stdout, `Usage: batch-drive-sync ${usage}`);
  return EXIT.ok;
}

export function formatReport(rep: JobReport[]): string {
  if (rep.length === 0) return 'no Drive-enabled jobs\n';
  const out: string[] = [];
  for (const j of rep) {
    const c = j.counts;
    out.push(
      `${j.jobId}  drive=${j.driveUploadStatus ?? '-'}  job=${j.jobStatus ?? '-'}${j.enabled ? '' : '  (disabled)'}  ` +
        `pending=${c.pending} uploading=${c.uploading} uploaded=${c.uploaded} failed=${c.failed}`,
    );
    if (j.folderUrl) out.push(`  folder: ${j.folderUrl}`);
    if (j.jobError) out.push(`  job error: ${j.jobError}`);
    for (const e of j.lastErrors) out.push(`  ${e.status}: ${e.file}: ${e.error}`);
  }
  return out.join('\n') + '\n';
}
