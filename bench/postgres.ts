// PostgreSQL: the claim over 1,000,000 rows with 1,000 due (and its plan), then three daemons on
// one database uploading 3,000 small files that the batch system announces by inserting rows
// (LISTEN/NOTIFY wake-ups, no watcher, no scheduled scan): double claims, requests per file and
// the wake-up latency (row inserted → upload started). A throwaway server of the run's own.
import { goal, info, type Benchmark, type Figure } from './lib/figures.js';
import { CLI, makeWorkspace, percentile, spawnNode, startBenchEmulator, stopChild, ROOT_FOLDER, type Child } from '../test/helpers/processes.js';
import { waitUntil } from '../test/helpers/poll.js';
import { startPgServer, type PgServer } from '../test/helpers/postgres.js';
import { PG_BATCH_JOBS_DDL, pgSeedJobs, pgTestSql } from '../test/helpers/store-backends.js';
import { connectPostgres, createPgStore, pgMigrate, PG_TYPES, type PgConn } from '../src/db/postgres/index.js';
import { render, type Sql } from '../src/db/postgres/sql.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

const B = 'postgres';
// The claim as the daemon sends it: with the slot kept for large files (upload.resumable_threshold_bytes' default).
const LARGE = 8 * 1024 * 1024;

async function newDb(server: PgServer, name: string): Promise<{ url: string; pool: pg.Pool; conn: PgConn }> {
  await server.admin(`CREATE DATABASE ${name}`);
  const url = server.url(name);
  const pool = new pg.Pool({ connectionString: url, max: 2, types: PG_TYPES });
  pool.on('error', () => undefined);
  await pool.query(PG_BATCH_JOBS_DDL.real);
  const conn = await connectPostgres({ url, env: {}, poolSize: 4, connectTimeoutMs: 10_000 });
  await pgMigrate(conn);
  return { url, pool, conn };
}

async function claimBench(server: PgServer, ctx: Parameters<Benchmark['run']>[0]): Promise<Figure[]> {
  const rows = ctx.quick ? 200_000 : 1_000_000;
  const due = 1000;
  const jobs = 1000;
  const { pool, conn } = await newDb(server, 'bench_claim');
  try {
    const now = Date.now();
    const tb = performance.now();
    await pgSeedJobs(
      pgTestSql(pool),
      Array.from({ length: jobs }, (_, i) => ({ job_id: `job-${i}`, status: 'processing', enabled: true })),
    );
    // As the SQLite benchmark: the first `due` rows due, 10,000 pending later, 50 leased, the rest uploaded.
    await pool.query(
      `INSERT INTO batch_file_drive_metadata
         (batch_job_id, original_filename, upload_status, drive_file_id, local_size, local_mtime_ms, next_attempt_at, lease_owner, lease_until, attempts, created_at, updated_at)
       SELECT 'job-' || (x % $2), 'pages/p-' || x || '.png',
              CASE WHEN x < $3 + 10000 THEN 'pending' WHEN x < $3 + 10050 THEN 'uploading' ELSE 'uploaded' END,
              CASE WHEN x >= $3 + 10050 THEN 'drive-' || x END,
              1000 + x % 5000, $4::bigint,
              CASE WHEN x < $3 THEN $5::bigint - 1000 ELSE $5::bigint + 3600000 END,
              CASE WHEN x >= $3 + 10000 AND x < $3 + 10050 THEN 'other-daemon' END,
              CASE WHEN x >= $3 + 10000 AND x < $3 + 10050 THEN $5::bigint + 600000 END,
              1, '2025-09-12 08:00:00', '2025-09-12 08:00:00'
         FROM generate_series(0, $1 - 1) x`,
      [rows, jobs, due, now - 86_400_000, now],
    );
    await pool.query('VACUUM ANALYZE batch_file_drive_metadata');
    await pool.query('ANALYZE batch_jobs');
    ctx.log(`${rows.toLocaleString('en')} rows (${due} due, 10,000 pending later, 50 leased) built in ${((performance.now() - tb) / 1000).toFixed(1)} s`);

    // Capture the statement the store sends, to EXPLAIN exactly the claim.
    const seen: Sql[] = [];
    const spy: PgConn = { ...conn, q: { ...conn.q, rows: (q) => (seen.push(q), conn.q.rows(q)) } };
    const store = await createPgStore(spy, { now: Date.now, finalJobStatuses: ['completed', 'failed'] });
    const owner = 'bench-owner';
    const release = () =>
      pool.query("UPDATE batch_file_drive_metadata SET upload_status = 'pending', lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1", [owner]);
    const times: number[] = [];
    let claimed = 0;
    for (let i = 0; i < 7; i++) {
      seen.length = 0;
      const t0 = performance.now();
      claimed = (await store.claimDue(owner, 1000, 120_000, undefined, undefined, { largeFirst: LARGE })).length;
      times.push(performance.now() - t0);
      await release();
    }
    times.sort((a, b) => a - b);
    if (claimed !== due) throw new Error(`claimDue returned ${claimed} rows, expected ${due}`);
    const claimSql = seen.find((s) => /UPDATE batch_file_drive_metadata f\s+SET upload_status = 'uploading'/.test(render(s).text));
    if (!claimSql) throw new Error('did not capture the claim statement');
    const { text, values } = render(claimSql);
    const plan = (await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values)).rows.map((r) => r['QUERY PLAN']);
    ctx.log('EXPLAIN of the claim:');
    for (const p of plan) ctx.log(`  ${p}`);
    const planText = plan.join('\n');
    const seqScan = /Seq Scan on batch_file_drive_metadata/.test(planText);
    const usesDue = planText.includes('idx_batch_file_drive_metadata_due');
    const usesLease = planText.includes('idx_batch_file_drive_metadata_lease');
    const claim4: number[] = [];
    for (let i = 0; i < 21; i++) {
      const t0 = performance.now();
      await store.claimDue(owner, 4, 120_000, undefined, undefined, { largeFirst: LARGE });
      claim4.push(performance.now() - t0);
      await release();
    }
    claim4.sort((a, b) => a - b);
    const med = (a: number[]) => percentile(a, 50);
    return [
      goal(
        B,
        'claimDue(1000) over the table, median of 7',
        med(times),
        'ms',
        '<=',
        20,
        `max ${(times[times.length - 1] ?? NaN).toFixed(1)} ms; ${rows.toLocaleString('en')} rows, ${due} due${ctx.quick ? ' (quick mode: fewer rows)' : ''}; the issue asks ≤ 50 ms, DESIGN ≤ 20 ms`,
      ),
      goal(B, 'claim plan uses both partial indexes, no Seq Scan of batch_file_drive_metadata', usesDue && usesLease && !seqScan ? 1 : 0, 'bool', '==', 1),
      info(B, 'claimDue(4) (one free worker slot), median of 21', med(claim4), 'ms'),
    ];
  } finally {
    await conn.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
}

async function daemonsBench(server: PgServer, ctx: Parameters<Benchmark['run']>[0]): Promise<Figure[]> {
  const files = ctx.quick ? 600 : 3000;
  const jobs = Array.from({ length: 10 }, (_, i) => `job-${i}`);
  const emu = await startBenchEmulator({ rootFolderId: ROOT_FOLDER });
  const { url, pool, conn } = await newDb(server, 'bench_daemons');
  await conn.close();
  const ws = await makeWorkspace({
    prefix: 'bds-bench-pg-',
    emulatorUrl: emu.url,
    jobIds: jobs,
    databaseUrl: url,
    // No watcher and no scheduled scan (once a year): only the wake-ups find the rows.
    config: { watch: { enabled: false }, schedule: { scan_cron: '0 0 1 1 *' }, upload: { concurrency: 4 } },
  });
  const daemons: Child[] = [];
  try {
    await pgSeedJobs(
      pgTestSql(pool),
      jobs.map((job_id) => ({ job_id, status: 'processing', enabled: true })),
    );
    // While the three daemons run, the batch system writes files and announces them by
    // inserting their rows, 30 at a time, each insert once the previous ones are uploaded.
    const names: { job: string; rel: string }[] = [];
    for (let i = 0; i < files; i++) names.push({ job: jobs[i % jobs.length] as string, rel: `f-${i}.txt` });
    const started: { at: number; job: string; file: string }[] = [];
    // Every Drive request of the three daemons counts, from their start: the job folders are made
    // by the start-up scans (enabled jobs, no files yet) as much as by the first uploads.
    const requestsBefore = emu.requests.length;
    for (let i = 0; i < 3; i++) {
      const d = spawnNode([CLI(), 'run', '--config', ws.configPath], {
        onLine: (l) => {
          if (!l.includes('"message":"uploaded"')) return;
          const j = JSON.parse(l) as { job: string; file: string; ms: number; timestamp: string };
          started.push({ at: Date.parse(j.timestamp) - j.ms, job: j.job, file: j.file });
        },
      });
      daemons.push(d);
    }
    await Promise.all(daemons.map((d) => d.waitForLine(/listening for database wake-ups/, 60_000)));
    await Promise.all(daemons.map((d) => d.waitForLine(/daemon started/, 60_000)));
    // The start-up scan walks the job directories after "daemon started": a file written before it
    // is done may be recorded by the walk first, and the batch system's INSERT of it then collides.
    await Promise.all(daemons.map((d) => d.waitForLine(/"message":"scan done"/, 60_000)));
    const inserted = new Map<string, number>();
    const batchOf = new Map<string, number>();
    const BATCH = 30;
    for (let i = 0; i < names.length; i += BATCH) {
      const batch = names.slice(i, i + BATCH);
      for (const [k, b] of batch.entries()) {
        mkdirSync(join(ws.outputDir, b.job), { recursive: true });
        writeFileSync(join(ws.outputDir, b.job, b.rel), `file ${i + k}\n`);
      }
      await pool.query('INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename) SELECT * FROM unnest($1::text[], $2::text[])', [
        batch.map((b) => b.job),
        batch.map((b) => b.rel),
      ]);
      const at = Date.now();
      for (const b of batch) {
        inserted.set(`${b.job}/${b.rel}`, at);
        batchOf.set(`${b.job}/${b.rel}`, i / BATCH);
      }
      // The next insert finds the daemons idle again: the figure is their reaction, not a queue.
      const upTo = i + batch.length;
      await waitUntil(
        async () => Number((await pool.query("SELECT count(*) AS n FROM batch_file_drive_metadata WHERE upload_status = 'uploaded'")).rows[0].n) >= upTo,
        120_000,
        'batch uploaded',
        20,
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitUntil(
      async () => Number((await pool.query("SELECT count(*) AS n FROM batch_file_drive_metadata WHERE upload_status = 'uploaded'")).rows[0].n) === files,
      600_000,
      'every file uploaded',
      500,
    );
    const requests = emu.requests.length - requestsBefore;
    // Which requests beyond one upload per file: the figure's note names them by route and status.
    const routes = new Map<string, number>();
    for (const r of emu.requests.slice(requestsBefore)) {
      const key = `${r.method} ${r.url.split('?')[0]?.replace(/\/files\/[^/]+$/, '/files/{id}')} ${r.status ?? '-'}`;
      routes.set(key, (routes.get(key) ?? 0) + 1);
    }
    const byRoute = [...routes.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k}: ${n}`)
      .join(', ');
    const attempts = (await pool.query<{ n: number }>('SELECT count(*) AS n FROM batch_file_drive_metadata WHERE attempts > 1')).rows[0]?.n ?? -1;
    const driveFiles = emu.listFiles().filter((f) => f.mimeType !== 'application/vnd.google-apps.folder' && !f.trashed).length;
    const latency = started
      .map((s) => s.at - (inserted.get(`${s.job}/${s.file}`) ?? NaN))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    // The wake-up itself: how long after an INSERT the first of its rows starts uploading (the
    // rest of a batch then waits for a free upload slot: that is throughput, not wake-up).
    const firstOfBatch = new Map<number, number>();
    for (const s of started) {
      const key = `${s.job}/${s.file}`;
      const b = batchOf.get(key);
      const lat = s.at - (inserted.get(key) ?? NaN);
      if (b !== undefined && Number.isFinite(lat)) firstOfBatch.set(b, Math.min(firstOfBatch.get(b) ?? Infinity, lat));
    }
    const wake = [...firstOfBatch.values()].sort((a, b) => a - b);
    const perDaemon = daemons.map(
      (d) =>
        d
          .output()
          .split('\n')
          .filter((l) => l.includes('"message":"uploaded"')).length,
    );
    ctx.log(`uploads per daemon: ${perDaemon.join(', ')}; Drive files ${driveFiles}; requests ${requests}: ${byRoute}`);
    return [
      goal(
        B,
        'three daemons, 3,000 files: rows claimed twice (attempts > 1, no faults injected)',
        Number(attempts),
        'rows',
        '==',
        0,
        ctx.quick ? `${files} files (quick)` : undefined,
      ),
      goal(
        B,
        'three daemons: uploads logged across daemons = files = Drive files',
        started.length === files && driveFiles === files ? 1 : 0,
        'bool',
        '==',
        1,
        `${started.length} uploads, ${driveFiles} Drive files`,
      ),
      goal(
        B,
        'three daemons: Drive requests per file',
        requests / files,
        'ratio',
        '<=',
        1.02,
        `every request from the daemons' start: tokens, folders, ids; ${byRoute}`,
      ),
      goal(
        B,
        'wake-up: rows inserted → first of them starts uploading, p50 over inserts',
        percentile(wake, 50),
        'ms',
        '<=',
        1000,
        `p90 ${percentile(wake, 90).toFixed(0)} ms over ${wake.length} inserts of ${BATCH} rows; no watcher, no scheduled scan`,
      ),
      info(
        B,
        'row inserted → that row starts uploading, p50 (includes waiting for a free upload slot)',
        percentile(latency, 50),
        'ms',
        `p90 ${percentile(latency, 90).toFixed(0)} ms, p99 ${percentile(latency, 99).toFixed(0)} ms`,
      ),
    ];
  } finally {
    await Promise.all(daemons.map((d) => stopChild(d, 20_000)));
    await emu.close();
    await pool.end().catch(() => undefined);
    ws.remove();
  }
}

export const postgresBench: Benchmark = {
  name: 'postgres',
  describe: 'PostgreSQL: claimDue over 1,000,000 rows (plan checked); three daemons, 3,000 files, wake-up latency',
  async run(ctx) {
    const server = await startPgServer();
    try {
      return [...(await claimBench(server, ctx)), ...(await daemonsBench(server, ctx))];
    } finally {
      await server.close();
    }
  },
};
