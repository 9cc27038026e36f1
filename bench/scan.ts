// The claim and the scheduled-scan queries over 1,000,000 file rows of which 1,000 are due.
// In-process against src/db (no network): the figure is the database's, not the daemon's.
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { goal, info, type Benchmark, type BenchContext, type Figure } from './lib/figures.js';
import { loadConfig } from '../src/config/index.js';
import { openRuntime } from '../src/daemon/index.js';
import { createSilentLogger } from '../src/log/index.js';
import { scanJobs } from '../src/sync/index.js';
import { makeWorkspace, percentile, withDb } from '../test/helpers/processes.js';
import { createStore, type Db } from '../src/db/index.js';

const B = 'scan';
// The claim as the daemon sends it: with the slot kept for large files (upload.resumable_threshold_bytes' default).
const LARGE = 8 * 1024 * 1024;

async function timeIt(n: number, fn: () => Promise<unknown>, between?: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
    if (between) await between();
  }
  return out.sort((a, b) => a - b);
}

export const scanBench: Benchmark = {
  name: 'scan',
  describe: 'claimDue over 1,000,000 rows with 1,000 due; scheduled-scan queries; query plan',
  async run(ctx) {
    const rows = ctx.quick ? 200_000 : 1_000_000;
    const due = 1000;
    const jobs = 1000;
    const jobIds = Array.from({ length: jobs }, (_, i) => `job-${i}`);
    const ws = await makeWorkspace({ prefix: 'bds-bench-scan-', emulatorUrl: 'http://127.0.0.1:9', jobIds, jobStatus: 'processing' });
    let figures1: Figure[];
    try {
      const now = Date.now();
      const tb = performance.now();
      await withDb(ws.dbPath, async (db) => {
        await db.exec('BEGIN');
        // Row x: job x % 1000; the first `due` rows pending and due, the next 10,000 pending with a
        // retry in an hour, 50 uploading with a live lease, the rest uploaded.
        await db.run(
          `INSERT INTO batch_file_drive_metadata
             (batch_job_id, original_filename, upload_status, drive_file_id, local_size, local_mtime_ms, next_attempt_at, lease_owner, lease_until, attempts, created_at, updated_at)
           WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < ? - 1)
           SELECT 'job-' || (x % ?), 'pages/p-' || x || '.png',
                  CASE WHEN x < ? THEN 'pending' WHEN x < ? + 10000 THEN 'pending' WHEN x < ? + 10050 THEN 'uploading' ELSE 'uploaded' END,
                  CASE WHEN x >= ? + 10050 THEN 'drive-' || x END,
                  1000 + x % 5000, ?, 
                  CASE WHEN x < ? THEN ? - 1000 ELSE ? + 3600000 END,
                  CASE WHEN x >= ? + 10000 AND x < ? + 10050 THEN 'other-daemon' END,
                  CASE WHEN x >= ? + 10000 AND x < ? + 10050 THEN ? + 600000 END,
                  1, '2025-09-12 08:00:00', '2025-09-12 08:00:00'
             FROM c`,
          rows,
          jobs,
          due,
          due,
          due,
          due,
          now - 86_400_000,
          due,
          now,
          now,
          due,
          due,
          due,
          due,
          now,
        );
        await db.exec('COMMIT');
        await db.exec('ANALYZE');
      });
      ctx.log(`${rows.toLocaleString('en')} rows (${due} due, 10,000 pending later, 50 leased) built in ${((performance.now() - tb) / 1000).toFixed(1)} s`);

      figures1 = await withDb(ws.dbPath, async (db) => {
        // Capture the SQL the store sends, to EXPLAIN exactly the claim statement.
        const seen: { sql: string; params: unknown[] }[] = [];
        const spy = new Proxy(db, {
          get(target, prop, recv) {
            const v = Reflect.get(target, prop, recv) as unknown;
            if (prop === 'all' && typeof v === 'function') {
              return (sql: string, ...params: unknown[]) => {
                seen.push({ sql, params });
                return (v as (...a: unknown[]) => unknown).call(target, sql, ...params);
              };
            }
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        }) as Db;
        const store = await createStore(spy, { now: Date.now, finalJobStatuses: ['completed', 'failed'] });
        const owner = 'bench-owner';
        const release = () =>
          db.run("UPDATE batch_file_drive_metadata SET upload_status = 'pending', lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", owner);
        let claimed = 0;
        const claim = await timeIt(
          7,
          async () => {
            seen.length = 0;
            claimed = (await store.claimDue(owner, 1000, 120_000, undefined, undefined, { largeFirst: LARGE })).length;
          },
          release,
        );
        if (claimed !== due) throw new Error(`claimDue returned ${claimed} rows, expected ${due}`);
        const claimSql = seen.find((s) => /UPDATE batch_file_drive_metadata\s+SET upload_status = 'uploading'/.test(s.sql));
        if (!claimSql) throw new Error('did not capture the claim statement');
        const plan = await db.all<{ id: number; parent: number; detail: string }[]>(`EXPLAIN QUERY PLAN ${claimSql.sql}`, ...claimSql.params);
        ctx.log('EXPLAIN QUERY PLAN of the claim:');
        for (const p of plan) ctx.log(`  ${p.detail}`);
        const fullScan = plan.filter((p) => /^SCAN batch_file_drive_metadata\b/.test(p.detail) && !/USING (COVERING )?INDEX/.test(p.detail));
        const usesDue = plan.some((p) => p.detail.includes('idx_batch_file_drive_metadata_due'));
        const usesLease = plan.some((p) => p.detail.includes('idx_batch_file_drive_metadata_lease'));
        const claim4 = await timeIt(21, () => store.claimDue(owner, 4, 120_000, undefined, undefined, { largeFirst: LARGE }), release);
        const nextDue = await timeIt(11, () => store.nextDueAt());
        const countDue = await timeIt(11, () => store.countDue());
        const listJobs = await timeIt(5, () => store.listEnabledJobs());
        const oneJob = await timeIt(11, async () => {
          await store.fileStats('job-7');
          await store.recomputeJobStatus('job-7');
        });
        const t0 = performance.now();
        for (const j of jobIds) {
          await store.fileStats(j);
          await store.recomputeJobStatus(j);
        }
        const allJobsMs = performance.now() - t0;
        const med = (a: number[]) => percentile(a, 50);
        const max = (a: number[]) => a[a.length - 1] ?? NaN;
        const figures: Figure[] = [
          goal(
            B,
            'claimDue(1000) over the table, median of 7',
            med(claim),
            'ms',
            '<=',
            50,
            `max ${max(claim).toFixed(1)} ms; ${rows.toLocaleString('en')} rows, ${due} due${ctx.quick ? ' (quick mode: fewer rows)' : ''}`,
          ),
          goal(
            B,
            'claim plan uses the partial indexes, no full SCAN of batch_file_drive_metadata',
            usesDue && usesLease && fullScan.length === 0 ? 1 : 0,
            'bool',
            '==',
            1,
            plan.map((p) => p.detail).join(' | '),
          ),
          info(B, 'claimDue(4) (one free worker slot), median of 21', med(claim4), 'ms'),
          goal(B, 'nextDueAt (every reconcile pass), median', med(nextDue), 'ms', '<=', 50),
          goal(B, 'countDue (every drain), median', med(countDue), 'ms', '<=', 50),
          info(B, 'listEnabledJobs (1,000 jobs), median', med(listJobs), 'ms'),
          info(B, 'scheduled scan DB work for one job (fileStats + recomputeJobStatus, 1,000 rows)', med(oneJob), 'ms'),
          info(
            B,
            'scheduled scan DB work for all 1,000 jobs',
            allJobsMs,
            'ms',
            'every row is read once per scan to skip unchanged files; directory walks not included',
          ),
        ];
        return figures;
      });
    } finally {
      ws.remove();
    }
    return [...figures1, ...(await scheduledScanCost(ctx))];
  },
};

/**
 * The database work of a scheduled scan of 1,000 running jobs × 10 unchanged files: with the
 * watcher covering every job (what the daemon's scan_cron does), and the full walk
 * (full_scan_cron; directory walks timed apart from the database).
 */
async function scheduledScanCost(ctx: BenchContext): Promise<Figure[]> {
  const jobs = 1000;
  const perJob = 10;
  const jobIds = Array.from({ length: jobs }, (_, i) => `sjob-${i}`);
  const ws = await makeWorkspace({ prefix: 'bds-bench-sched-', emulatorUrl: 'http://127.0.0.1:9', jobIds, jobStatus: 'processing' });
  try {
    const mtime = (Math.floor(Date.now() / 1000) - 3600) * 1000; // whole seconds: what utimes keeps exactly
    for (const j of jobIds) {
      for (let i = 0; i < perJob; i++) {
        const p = join(ws.outputDir, j, `f-${i}.bin`);
        writeFileSync(p, 'x'.repeat(100 + i));
        utimesSync(p, mtime / 1000, mtime / 1000);
      }
    }
    await withDb(ws.dbPath, async (db) => {
      await db.exec('BEGIN');
      await db.run(
        `INSERT INTO batch_file_drive_metadata
           (batch_job_id, original_filename, upload_status, drive_file_id, local_size, local_mtime_ms, attempts, created_at, updated_at)
         WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < ? - 1)
         SELECT 'sjob-' || (x / ?), 'f-' || (x % ?) || '.bin', 'uploaded', 'drive-' || x, 100 + (x % ?), ?, 1, '2025-09-12 08:00:00', '2025-09-12 08:00:00' FROM c`,
        jobs * perJob,
        perJob,
        perJob,
        perJob,
        Math.floor(mtime),
      );
      await db.run(
        `INSERT INTO batch_drive_metadata (batch_job_id, drive_folder_id, drive_folder_url, folder_path, created_at, updated_at)
         SELECT job_id, 'folder-' || job_id, 'https://drive.google.com/drive/folders/x', 'bench/' || job_id, '2025-09-12 08:00:00', '2025-09-12 08:00:00' FROM batch_jobs`,
      );
      await db.run("UPDATE batch_jobs SET drive_upload_status = 'in_progress'");
      await db.exec('COMMIT');
      await db.exec('ANALYZE');
    });
    const cfg = loadConfig(ws.configPath, {});
    const rt = await openRuntime(cfg, createSilentLogger(), { env: {} });
    try {
      const timeDb = async (walk: boolean) => {
        // Database time only: the store's calls are timed, the directory walks are not.
        let dbMs = 0;
        const store = new Proxy(rt.ctx.store, {
          get(target, prop, recv) {
            const v = Reflect.get(target, prop, recv) as unknown;
            if (typeof v !== 'function') return v;
            return async (...a: unknown[]) => {
              const t0 = performance.now();
              try {
                return await (v as (...x: unknown[]) => Promise<unknown>).apply(target, a);
              } finally {
                dbMs += performance.now() - t0;
              }
            };
          },
        });
        const t0 = performance.now();
        const sum = await scanJobs({ ...rt.ctx, store }, { skipCompleted: true, walk: () => walk, kind: walk ? 'full' : 'scheduled' });
        return { dbMs, wallMs: performance.now() - t0, sum };
      };
      await timeDb(false); // warm the page cache
      const covered = [await timeDb(false), await timeDb(false), await timeDb(false)].sort((a, b) => a.dbMs - b.dbMs)[1];
      const full = await timeDb(true);
      if (!covered || full.sum.unchanged !== jobs * perJob || full.sum.inserted !== 0) throw new Error(`unexpected scan result ${JSON.stringify(full.sum)}`);
      ctx.log(
        `scheduled scan (watched): ${covered.dbMs.toFixed(0)} ms database, ${covered.wallMs.toFixed(0)} ms wall; full walk: ${full.dbMs.toFixed(0)} ms database, ${full.wallMs.toFixed(0)} ms wall`,
      );
      return [
        goal(
          B,
          'scheduled scan DB work, 1,000 running jobs × 10 unchanged files (watched)',
          covered.dbMs / 1000,
          's',
          '<=',
          1,
          `median of 3; wall ${covered.wallMs.toFixed(0)} ms; was 11.1 s (one fileStats + recompute transaction per job)`,
        ),
        info(
          B,
          'full walk (full_scan_cron) of the same: DB work',
          full.dbMs / 1000,
          's',
          `wall ${(full.wallMs / 1000).toFixed(2)} s including the walk of ${jobs * perJob} files`,
        ),
      ];
    } finally {
      await rt.close();
    }
  } finally {
    ws.remove();
  }
}
