// `check-config`: everything that can be checked before the service starts, one line per
// problem, each saying what is wrong and what to do. Exit 78 when anything is wrong.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { configSecrets, loadConfig, parseFolderPattern, patternColumns, type Config } from '../config/index.js';
import { openBackend } from '../db/index.js';
import { createDriveClient } from '../drive/index.js';
import { createSilentLogger, errorMessage, redactText } from '../log/index.js';
import { driveOptions } from '../daemon/index.js';
import type { Io } from './commands.js';
import { EXIT } from './errors.js';
import { escapeText } from './text.js';

export const SERVICE_USER = 'batch-drive-sync';
const UNIT = 'batch-drive-sync.service';
const UNIT_DIRS = ['/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];
// The shipped unit's TimeoutStopSec=; the drain must end before systemd's SIGKILL.
const DEFAULT_STOP_TIMEOUT_MS = 90_000;
const STOP_MARGIN_MS = 5_000;
const PLACEHOLDER = /REPLACE|<folder id>|^x{4,}$|example/i;

export interface CheckConfigOptions {
  configPath: string;
  user?: string | undefined;
  io: Io;
  /** Where unit files are looked for (tests point this at a temp dir). */
  unitDirs?: readonly string[];
}

export async function runCheckConfig(opts: CheckConfigOptions): Promise<number> {
  const { io } = opts;
  const cfg = loadConfig(opts.configPath, io.env);
  // A token endpoint may echo what it was sent: every line goes through the one redaction.
  const secrets = configSecrets(cfg);
  const ok = (s: string) => io.stdout.write(`${redactText(s, secrets)}\n`);
  ok(`config ${opts.configPath}: ok`);
  const problems: string[] = [];

  if (PLACEHOLDER.test(cfg.drive.root_folder_id)) {
    problems.push(`drive.root_folder_id is still the example placeholder "${cfg.drive.root_folder_id}": set the id of the Drive folder the job folders go in`);
  }
  const stop = unitStopTimeoutMs(opts.unitDirs ?? UNIT_DIRS);
  if (cfg.upload.drain_timeout_ms + STOP_MARGIN_MS > stop.ms) {
    problems.push(
      `upload.drain_timeout_ms ${cfg.upload.drain_timeout_ms} is not at least ${STOP_MARGIN_MS / 1000} s below the unit's stop timeout ` +
        `(TimeoutStopSec=${stop.ms / 1000}s, ${stop.from}): systemd would kill uploads mid-drain; lower it or raise TimeoutStopSec`,
    );
  } else ok(`upload.drain_timeout_ms ${cfg.upload.drain_timeout_ms}: below the unit's stop timeout (${stop.ms / 1000}s, ${stop.from})`);

  problems.push(...accessProblems(cfg, opts.user, ok, opts));

  try {
    const db = await openBackend(cfg.database, { env: io.env });
    try {
      // The raw checks read SQLite's catalogue; on PostgreSQL the store's own checks apply.
      const cols = db.sqlite ? (await db.sqlite.all<{ name: string }[]>("SELECT name FROM pragma_table_info('batch_jobs')")).map((c) => c.name) : null;
      if (cols !== null && cols.length === 0) {
        problems.push(`database ${db.label} has no table batch_jobs: database.path must point at the batch system's own database`);
      } else {
        const pending = (await db.migrationStatus()).filter((m) => m.state !== 'applied');
        if (pending.length)
          problems.push(`database ${db.label}: migrations not applied (${pending.map((p) => p.name).join(', ')}); run "batch-drive-sync migrate"`);
        else ok(`database ${db.label}: ok`);
        await db.assertWritable().catch((e: unknown) => problems.push(errorMessage(e)));
        if (db.sqlite) ok(walNote(db.label, (await db.sqlite.get<{ journal_mode: string }>('PRAGMA journal_mode'))?.journal_mode ?? 'unknown'));
        if (db.sqlite && cols !== null) {
          problems.push(...patternProblems(cfg.drive.folder_pattern, 'drive.folder_pattern', cols));
          if (cols.includes('drive_folder_pattern') && cols.includes('drive_integration_enabled')) {
            const own = await db.sqlite.all<{ p: string; n: number; job: string }[]>(
              `SELECT drive_folder_pattern AS p, count(*) AS n, min(job_id) AS job FROM batch_jobs
                WHERE drive_folder_pattern IS NOT NULL AND trim(drive_folder_pattern) <> '' GROUP BY drive_folder_pattern LIMIT 100`,
            );
            for (const r of own)
              problems.push(
                ...patternProblems(r.p, `batch_jobs.drive_folder_pattern of job "${escapeText(r.job)}"${r.n > 1 ? ` (and ${r.n - 1} more)` : ''}`, cols),
              );
          }
        }
      }
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
    else ok(`drive ${cfg.drive.api_endpoint}: token ok, root folder ${cfg.drive.root_folder_id} readable`);
  } catch (e) {
    problems.push(errorMessage(e));
  }
  for (const p of problems) io.stderr.write(`problem: ${redactText(p, secrets)}\n`);
  return problems.length ? EXIT.config : EXIT.ok;
}

// The journal mode is a property of the file, not of our connection: the operator must know we changed it.
function walNote(path: string, mode: string): string {
  return mode.toLowerCase() === 'wal'
    ? `database ${path}: journal_mode=wal (the daemon switches the batch database to WAL for good: the mode is stored in the file and applies to every program that opens it; -wal and -shm files live beside it)`
    : `database ${path}: journal_mode=${mode} (WAL could not be set on this file system; the daemon works with the rollback journal, and readers then block writers)`;
}

function patternProblems(pattern: string, where: string, cols: readonly string[]): string[] {
  let parsed;
  try {
    parsed = parseFolderPattern(pattern);
  } catch (e) {
    return [`${where}: ${errorMessage(e)}`];
  }
  return patternColumns(parsed)
    .filter((c) => !cols.includes(c))
    .map((c) => `${where}: {job.${c}} names no column of batch_jobs (it has ${cols.join(', ')})`);
}

/** TimeoutStopSec= of the installed unit (drop-ins win), or the shipped default. */
export function unitStopTimeoutMs(dirs: readonly string[]): { ms: number; from: string } {
  let found: { ms: number; from: string } | null = null;
  for (const d of dirs) {
    const unit = join(d, UNIT);
    if (!found && existsSync(unit)) {
      const v = lastTimeout(readFileSync(unit, 'utf8'));
      found = { ms: v ?? DEFAULT_STOP_TIMEOUT_MS, from: unit };
    }
  }
  for (const d of dirs) {
    const dropins = join(d, `${UNIT}.d`);
    if (!existsSync(dropins)) continue;
    for (const f of readdirSync(dropins)
      .filter((n) => n.endsWith('.conf'))
      .sort()) {
      const v = lastTimeout(readFileSync(join(dropins, f), 'utf8'));
      if (v !== null) found = { ms: v, from: join(dropins, f) };
    }
  }
  return found ?? { ms: DEFAULT_STOP_TIMEOUT_MS, from: 'the shipped unit; not installed here' };
}

function lastTimeout(text: string): number | null {
  let v: number | null = null;
  for (const m of text.matchAll(/^\s*TimeoutStopSec\s*=\s*(\S+)\s*$/gm)) v = parseSystemdSpan(m[1]!);
  return v;
}

/** "90s", "1min 30s", "90" (seconds), "500ms" → ms; null for what we do not read (infinity). */
export function parseSystemdSpan(s: string): number | null {
  const units: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, hr: 3_600_000 };
  let total = 0;
  const parts = s.trim().match(/(\d+(?:\.\d+)?)\s*([a-z]*)/g);
  if (!parts) return null;
  for (const p of parts) {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(p.trim());
    const mult = units[m?.[2] || 's'];
    if (!m || mult === undefined) return null;
    total += Number(m[1]) * mult;
  }
  return total;
}

interface Need {
  path: string;
  mode: 'r' | 'rw' | 'rx' | 'rwx';
  why: string;
}

function accessProblems(
  cfg: Readonly<Config>,
  userOpt: string | undefined,
  ok: (s: string) => void,
  opts: { unitDirs?: readonly string[] | undefined },
): string[] {
  const db = cfg.database.path;
  // A PostgreSQL database is reached over the network: only the output directory is local.
  const needs: Need[] =
    db === undefined
      ? [{ path: cfg.watch.output_dir, mode: 'rx', why: "the daemon reads the jobs' files there" }]
      : [
          { path: dirname(db), mode: 'rwx', why: 'SQLite creates -wal/-shm files beside the database' },
          { path: db, mode: 'rw', why: 'the daemon records every upload there' },
          ...['-wal', '-shm'].filter((s) => existsSync(db + s)).map((s): Need => ({ path: db + s, mode: 'rw', why: 'SQLite writes it' })),
          { path: cfg.watch.output_dir, mode: 'rx', why: "the daemon reads the jobs' files there" },
        ];
  const isRoot = process.getuid?.() === 0;
  const exists = (u: string) => spawnSync('getent', ['passwd', u], { stdio: 'ignore' }).status === 0;
  if (userOpt !== undefined && !exists(userOpt)) return [`--user ${userOpt}: no such user`];
  if (userOpt !== undefined && !isRoot && userOpt !== userInfo().username) return [`--user ${userOpt}: checking as another user needs root`];
  let user = userOpt ?? userInfo().username;
  if (userOpt === undefined && isRoot) {
    // As root on a machine with the service installed, what matters is what the service user
    // may do; elsewhere (a dry run, a development machine) the check is done as root and says so.
    const installed = (opts.unitDirs ?? UNIT_DIRS).some((d) => existsSync(join(d, UNIT)));
    if (installed && exists(SERVICE_USER)) user = SERVICE_USER;
    else ok(`(the service is not installed here: access checked as root; --user NAME checks another user)`);
  }
  const asOther = isRoot && user !== userInfo().username;
  const problems: string[] = [];
  for (const n of needs) {
    if (!existsSync(n.path)) {
      problems.push(`${n.path} does not exist (${n.why})`);
      continue;
    }
    const missing = [...n.mode].filter((m) => !canAccess(n.path, m as 'r' | 'w' | 'x', asOther ? user : null));
    if (missing.length) {
      problems.push(
        `user ${user} cannot ${missing.map((m) => ({ r: 'read', w: 'write', x: n.mode.includes('w') ? 'create files in' : 'enter' })[m]).join(' or ')} ${n.path} (${n.why}); ` +
          `grant it, e.g. setfacl -m u:${user}:${n.mode.replace('x', 'X')} ${n.path}`,
      );
    } else ok(`${n.path}: ${user} can ${n.mode.includes('w') ? 'read and write' : 'read'} it`);
  }
  return problems;
}

function canAccess(path: string, m: 'r' | 'w' | 'x', user: string | null): boolean {
  if (user === null) {
    try {
      accessSync(path, m === 'r' ? constants.R_OK : m === 'w' ? constants.W_OK : constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }
  // As the service user, with its groups: what the kernel (ACLs included) will let the daemon do.
  const r = spawnSync('setpriv', ['--reuid', user, '--regid', user, '--init-groups', '--', 'test', `-${m}`, path], { stdio: 'ignore' });
  return r.status === 0;
}
