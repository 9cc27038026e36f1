// Chaos run: the real daemon (`run`, child processes) against the emulator (in this process)
// injecting 5xx, connection resets and 429 bursts, SIGKILLed at random moments and restarted,
// optionally two daemons on one database at once. Seeded: the same seed gives the same files,
// fault dice and kill schedule (timing still varies, so the interleaving does too).
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  CLI,
  MiB,
  makeWorkspace,
  rng,
  spawnNode,
  startBenchEmulator,
  stopChild,
  withDb,
  ROOT_FOLDER,
  type Child,
  type LoggedRequest,
} from '../helpers/processes.js';
import { waitUntil } from '../helpers/poll.js';
import { startPgServer, type PgServer } from '../helpers/postgres.js';
import { PG_BATCH_JOBS_DDL, pgSeedJobs, pgTestSql } from '../helpers/store-backends.js';
import { connectPostgres, PG_TYPES, pgMigrate } from '../../src/db/postgres/index.js';
import pg from 'pg';
import { FOLDER_MIME } from '../../src/drive/index.js';

export interface ChaosOptions {
  seed: number;
  files: number;
  jobs: number;
  kills: number;
  /** Daemons running at once on the same database. */
  daemons: 1 | 2 | 3;
  /** PostgreSQL (a throwaway server of the run's own) instead of SQLite; the server is restarted `serverRestarts` times mid-run. */
  postgres?: boolean;
  serverRestarts?: number;
  /** Share of files above the resumable threshold. */
  largeShare?: number;
  timeoutMs?: number;
  /**
   * Limit on large-file bytes re-sent because of kills, as a share of all large-file bytes
   * (issue: 1 %). Meaningful only when the large bytes far exceed a chunk per kill; null skips
   * it (the short run, ~17 MiB of large files, where one 256 KiB chunk is already 1.5 %).
   */
  resentShareLimit?: number | null;
  log?: (msg: string) => void;
}

export interface ChaosResult {
  seed: number;
  violations: string[];
  summary: Record<string, number | string>;
}

interface LocalFile {
  job: string;
  rel: string;
  size: number;
  md5: string;
  large: boolean;
}

const THRESHOLD = 1 * MiB;
const CHUNK = 256 * 1024;
/** upload.concurrency of each chaos daemon. */
const CONCURRENCY = 4;

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const log = o.log ?? (() => undefined);
  const rand = rng(o.seed);
  const violations: string[] = [];
  const started = Date.now();
  const deadline = started + (o.timeoutMs ?? 15 * 60_000);
  const jobs = Array.from({ length: o.jobs }, (_, i) => `chaos-${String(i).padStart(2, '0')}`);
  const emu = await startBenchEmulator({
    rootFolderId: ROOT_FOLDER,
    faults: { error5xxRate: 0.1, resetRate: 0.05, burst429: { every: 150, length: 4 }, seed: o.seed },
  });
  // PostgreSQL mode: a server of the run's own (it is restarted mid-run), batch_jobs, migrations, the jobs.
  let server: PgServer | null = null;
  let pool: pg.Pool | null = null;
  let databaseUrl: string | undefined;
  if (o.postgres) {
    server = await startPgServer();
    await server.admin('CREATE DATABASE chaos');
    databaseUrl = server.url('chaos');
    pool = new pg.Pool({ connectionString: databaseUrl, max: 2, types: PG_TYPES });
    pool.on('error', () => undefined);
    await pool.query(PG_BATCH_JOBS_DDL.real);
    const conn = await connectPostgres({ url: databaseUrl, env: {}, poolSize: 1, connectTimeoutMs: 10_000 });
    try {
      await pgMigrate(conn);
    } finally {
      await conn.close();
    }
    await pgSeedJobs(
      pgTestSql(pool),
      jobs.map((job_id) => ({ job_id, status: 'processing', enabled: true })),
    );
    await pool.query("UPDATE batch_jobs SET drive_upload_status = 'pending'");
  }
  /** Rows of the run's database, whichever backend. */
  const query = async <T>(sql: string): Promise<T[]> => {
    if (pool) return (await pool.query(sql)).rows as T[];
    return withDb(ws.dbPath, (db) => db.all<T[]>(sql));
  };
  const ws = await makeWorkspace({
    prefix: 'bds-chaos-',
    emulatorUrl: emu.url,
    jobIds: jobs,
    ...(databaseUrl ? { databaseUrl } : {}),
    config: {
      watch: { stability_ms: 200 },
      // Every 5 s: the safety net for files the watcher of a killed daemon never reported.
      schedule: { scan_cron: '*/5 * * * * *' },
      drive: { folder_pattern: 'chaos/{job_id}' },
      upload: {
        concurrency: CONCURRENCY,
        resumable_threshold_bytes: THRESHOLD,
        chunk_size_bytes: CHUNK,
        // Exactly-once is the point here, not giving up: faults must never exhaust attempts.
        max_attempts: 1000,
        backoff_base_ms: 100,
        backoff_max_ms: 2000,
        // A killed daemon's rows come back after this.
        lease_ms: 4000,
        drain_timeout_ms: 5000,
      },
    },
  });
  const daemons: (Child | null)[] = [];
  const killTimes: number[] = [];
  let restarts = 0;
  let serverRestarts = 0;
  try {
    // --- files: most small, a few large (a few MiB: several 256 KiB chunks); some in sub-folders.
    const largeShare = o.largeShare ?? 0.04;
    const plan: LocalFile[] = [];
    for (let i = 0; i < o.files; i++) {
      const job = jobs[i % jobs.length] as string;
      const large = rand() < largeShare;
      const size = large ? THRESHOLD + Math.floor(rand() * 3 * MiB) : rand() < 0.02 ? 0 : Math.floor(rand() * 64 * 1024);
      const rel = rand() < 0.3 ? `pages/p-${i}.bin` : `f-${i}.bin`;
      plan.push({ job, rel, size, md5: '', large });
    }
    const writeOne = (f: LocalFile) => {
      const p = join(ws.outputDir, f.job, f.rel);
      mkdirSync(dirname(p), { recursive: true });
      const data = randomBytes(f.size);
      f.md5 = createHash('md5').update(data).digest('hex');
      writeFileSync(p, data);
    };
    const upFront = Math.floor(plan.length * 0.6);
    for (const f of plan.slice(0, upFront)) writeOne(f);
    let written = upFront;
    const largeBytes = plan.filter((f) => f.large).reduce((n, f) => n + f.size, 0);
    log(
      `seed ${o.seed}: ${plan.length} files (${plan.filter((f) => f.large).length} large, ${(largeBytes / MiB).toFixed(1)} MiB) in ${jobs.length} jobs; ${o.daemons} daemon(s), ${o.kills} SIGKILLs; faults 10 % 5xx, 5 % resets, 4×429 every 150 requests`,
    );

    const start = (i: number) => {
      daemons[i] = spawnNode([CLI(), 'run', '--config', ws.configPath]);
    };
    for (let i = 0; i < o.daemons; i++) start(i);

    // --- kills at random moments; the rest of the files arrive meanwhile (watcher path).
    for (let k = 0; k < o.kills; k++) {
      const waitMs = 1000 + Math.floor(rand() * 3000);
      const batch = Math.ceil((plan.length - upFront) / Math.max(1, o.kills));
      const t0 = Date.now();
      for (const f of plan.slice(written, written + batch)) writeOne(f);
      written = Math.min(plan.length, written + batch);
      await new Promise((r) => setTimeout(r, Math.max(0, waitMs - (Date.now() - t0))));
      const victim = Math.floor(rand() * o.daemons);
      const d = daemons[victim];
      if (d) {
        d.kill('SIGKILL');
        await d.exited;
        killTimes.push(Date.now());
      }
      start(victim);
      restarts++;
      log(`kill ${k + 1}/${o.kills}: daemon ${victim} SIGKILLed after ${waitMs} ms and restarted`);
      // The database server restarted between kills, while uploads are in flight.
      if (server && serverRestarts < (o.serverRestarts ?? 0) && k === Math.floor(o.kills / 2)) {
        await server.stop();
        await new Promise((r) => setTimeout(r, 1000 + Math.floor(rand() * 2000)));
        await server.start();
        serverRestarts++;
        log('database server stopped and started again');
      }
    }
    for (const f of plan.slice(written)) writeOne(f);
    written = plan.length;

    // --- wait for the end state: every local file has an uploaded row.
    const counts = async () =>
      (await query<{ s: string; n: number | string }>('SELECT upload_status AS s, count(*) AS n FROM batch_file_drive_metadata GROUP BY upload_status')).map(
        (r) => ({
          s: r.s,
          n: Number(r.n),
        }),
      );
    let last = '';
    try {
      await waitUntil(
        async () => {
          for (let i = 0; i < daemons.length; i++) {
            const d = daemons[i];
            if (d && d.proc.exitCode !== null) {
              violations.push(`daemon ${i} exited on its own (${d.proc.exitCode}): ${d.output().slice(-500)}`);
              start(i);
            }
          }
          const c = await counts();
          last = JSON.stringify(c);
          const up = c.find((r) => r.s === 'uploaded')?.n ?? 0;
          const total = c.reduce((n, r) => n + r.n, 0);
          return up === plan.length && total === plan.length;
        },
        Math.max(10_000, deadline - Date.now()),
        'every file uploaded',
        500,
      );
    } catch (e) {
      violations.push(`not finished in time: rows ${last} for ${plan.length} files`);
    }
    for (const d of daemons) if (d) await stopChild(d, 15_000);

    // --- invariants
    const rows = await query<{
      id: number;
      batch_job_id: string;
      original_filename: string;
      upload_status: string;
      drive_file_id: string | null;
      local_md5: string | null;
      attempts: number;
    }>('SELECT id, batch_job_id, original_filename, upload_status, drive_file_id, local_md5, attempts FROM batch_file_drive_metadata');
    const byKey = new Map(rows.map((r) => [`${r.batch_job_id}/${r.original_filename}`, r]));
    const notUploaded = rows.filter((r) => r.upload_status !== 'uploaded');
    if (notUploaded.length)
      violations.push(
        `${notUploaded.length} rows not uploaded: ${notUploaded
          .slice(0, 5)
          .map((r) => `${r.batch_job_id}/${r.original_filename}=${r.upload_status}`)
          .join(', ')}`,
      );
    if (rows.length !== plan.length) violations.push(`${rows.length} rows for ${plan.length} local files`);
    if (serverRestarts < (o.serverRestarts ?? 0)) violations.push(`the database server was restarted ${serverRestarts} times, ${o.serverRestarts} asked`);

    const items = emu.listFiles().filter((f) => !f.trashed);
    const folders = items.filter((f) => f.mimeType === FOLDER_MIME);
    const files = items.filter((f) => f.mimeType !== FOLDER_MIME);
    const childFolders = new Map<string, typeof folders>();
    for (const f of folders) {
      const key = `${f.parents[0] ?? ''}\u0000${f.name}`;
      childFolders.set(key, [...(childFolders.get(key) ?? []), f]);
    }
    for (const [key, list] of childFolders) if (list.length > 1) violations.push(`duplicate folder ${key.replace('\u0000', '/')}: ${list.length} copies`);
    const folderId = (parent: string, name: string) => childFolders.get(`${parent}\u0000${name}`)?.[0]?.id;
    const filesByParentName = new Map<string, typeof files>();
    for (const f of files) {
      const key = `${f.parents[0] ?? ''}\u0000${f.name}`;
      filesByParentName.set(key, [...(filesByParentName.get(key) ?? []), f]);
    }
    let matched = 0;
    for (const f of plan) {
      const segs = ['chaos', f.job, ...f.rel.split('/').slice(0, -1)];
      let parent: string | undefined = ROOT_FOLDER;
      for (const s of segs) parent = parent === undefined ? undefined : folderId(parent, s);
      const name = f.rel.split('/').pop() as string;
      const found = parent === undefined ? [] : (filesByParentName.get(`${parent}\u0000${name}`) ?? []);
      const where = `${f.job}/${f.rel}`;
      if (found.length !== 1) {
        violations.push(`${where}: ${found.length} Drive files in its folder (expected exactly 1)`);
        continue;
      }
      const d = found[0]!;
      if (d.md5Checksum !== f.md5 || d.size !== f.size) violations.push(`${where}: Drive md5/size ${d.md5Checksum}/${d.size} ≠ local ${f.md5}/${f.size}`);
      const row = byKey.get(where);
      if (row && row.drive_file_id !== d.id) violations.push(`${where}: row says Drive id ${row.drive_file_id}, Drive has ${d.id}`);
      if (row && row.local_md5 !== null && row.local_md5 !== f.md5) violations.push(`${where}: row md5 ${row.local_md5} ≠ local ${f.md5}`);
      matched++;
    }
    if (files.length !== plan.length) violations.push(`Drive holds ${files.length} files (not trashed) for ${plan.length} local files`);

    // --- bytes re-sent
    const s = emu.stats();
    const allBytes = plan.reduce((n, f) => n + f.size, 0);
    const resentAll = s.bytesReceived - allBytes;
    const resumable = resentLarge(emu.requests, killTimes);
    const summary: Record<string, number | string> = {
      seed: o.seed,
      files: plan.length,
      largeFiles: plan.filter((f) => f.large).length,
      largeBytes,
      daemons: o.daemons,
      backend: o.postgres ? 'postgres' : 'sqlite',
      serverRestarts,
      kills: killTimes.length,
      restarts,
      seconds: Math.round((Date.now() - started) / 1000),
      driveRequests: s.driveRequests,
      injected5xx: s.injected5xx,
      resets: s.resets,
      rejectedRateLimit: s.rejectedRateLimit,
      maxAttempts: Math.max(0, ...rows.map((r) => r.attempts)),
      matchedFiles: matched,
      bytesReceived: s.bytesReceived,
      resentAllCauses: resentAll,
      resentAllCausesPerLargeBytes: Number((resentAll / Math.max(1, largeBytes)).toFixed(5)),
      largeChunkBytesInterruptedNearKill: resumable.nearKill,
      largeChunkBytesInterruptedOther: resumable.other,
      largeChunkBytesDuplicated: resumable.duplicated,
      resentLargeByKillsPerLargeBytes: Number(((resumable.nearKill + resumable.duplicated) / Math.max(1, largeBytes)).toFixed(5)),
    };
    // A kill costs at most the chunk in flight of each upload in flight of that daemon. A database
    // restart costs at most that for every daemon: no lease can be renewed while the server is
    // down, so when it is back another daemon may take a row over (resuming from Drive's offset)
    // while the first one's last chunk is still on the wire; the first stops at its next record.
    const perKillBound = (killTimes.length + serverRestarts * o.daemons) * CONCURRENCY * CHUNK;
    if (resumable.nearKill + resumable.duplicated > perKillBound) {
      violations.push(
        `large-file bytes re-sent after kills${serverRestarts ? ' and database restarts' : ''} ${resumable.nearKill + resumable.duplicated} > ${perKillBound} (one chunk per upload in flight per kill, and per daemon per database restart)`,
      );
    }
    // And overall under the share the issue sets (1 %) on a run large enough for it to mean something.
    const limit = o.resentShareLimit === undefined ? 0.01 : o.resentShareLimit;
    if (limit !== null && (summary.resentLargeByKillsPerLargeBytes as number) >= limit) {
      violations.push(
        `large-file bytes re-sent after kills ${((summary.resentLargeByKillsPerLargeBytes as number) * 100).toFixed(2)} % of large bytes (limit ${limit * 100} %)`,
      );
    }
    return { seed: o.seed, violations, summary };
  } finally {
    for (const d of daemons) if (d) d.kill('SIGKILL');
    await Promise.all(daemons.flatMap((d) => (d ? [d.exited] : [])));
    await emu.close();
    await pool?.end().catch(() => undefined);
    await server?.close().catch(() => undefined);
    if (violations.length === 0) ws.remove();
    else log(`work dir kept for inspection: ${ws.dir}`);
  }
}

/**
 * Large-file (resumable) bytes sent more than once, from the emulator's request log:
 * chunk PUTs whose connection died mid-body (the emulator drops a partial chunk; counted at
 * their full Content-Range length, an upper bound), split by whether they ended within 2 s
 * after a SIGKILL; plus completed chunks that covered bytes the session already had.
 */
function resentLarge(reqs: LoggedRequest[], killTimes: number[]): { nearKill: number; other: number; duplicated: number } {
  let nearKill = 0;
  let other = 0;
  let duplicated = 0;
  const have = new Map<string, number>();
  for (const r of reqs) {
    if (r.method !== 'PUT' || !r.url.includes('upload_id=') || !r.contentRange) continue;
    const m = /bytes (\d+)-(\d+)\//.exec(r.contentRange);
    if (!m) continue; // status query
    const a = Number(m[1]);
    const b = Number(m[2]);
    const id = /upload_id=([^&]+)/.exec(r.url)?.[1] ?? '';
    if (r.finished === false) {
      const end = r.doneAt ?? r.at;
      if (killTimes.some((k) => end >= k - 2000 && end <= k + 2000)) nearKill += b - a + 1;
      else other += b - a + 1;
      continue;
    }
    if (r.status === 308 || r.status === 200 || r.status === 201) {
      const h = have.get(id) ?? 0;
      if (a < h) duplicated += Math.min(b + 1, h) - a;
      have.set(id, Math.max(h, b + 1));
    }
  }
  return { nearKill, other, duplicated };
}

/** For the CLI: read the md5 of a file (debugging aid). */
export function md5Of(path: string): string {
  return createHash('md5').update(readFileSync(path)).digest('hex');
}
