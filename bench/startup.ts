// Start-up catch-up: 100,000 files in 100 running jobs. (a) all already uploaded: start → ready
// (first scan done, "daemon started"), Drive requests, peak RSS. (b) all new: how long until
// every file has its row.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { goal, info, type Benchmark, type Figure } from './lib/figures.js';
import { writeSmallFiles } from './lib/files.js';
import { GiveUp, waitUntil } from '../test/helpers/poll.js';
import { CLI, makeWorkspace, procMem, spawnNode, startBenchEmulator, stopChild, withDb, ROOT_FOLDER, rng } from '../test/helpers/processes.js';

const B = 'startup';

export const startupBench: Benchmark = {
  name: 'startup',
  describe: 'start-up with 100,000 files in 100 jobs: all uploaded (ready time, requests, RSS) and all new (rows inserted)',
  async run(ctx) {
    const jobs = ctx.quick ? 20 : 100;
    const perJob = 1000;
    const total = jobs * perJob;
    const jobIds = Array.from({ length: jobs }, (_, i) => `boot-${String(i).padStart(3, '0')}`);
    const emu = await startBenchEmulator({ rootFolderId: ROOT_FOLDER, logRequests: false });
    const ws = await makeWorkspace({
      prefix: 'bds-bench-startup-',
      emulatorUrl: emu.url,
      jobIds,
      jobStatus: 'processing',
      config: { watch: { stability_ms: 2000 } },
    });
    const figures: Figure[] = [];
    try {
      const tw = performance.now();
      await writeSmallFiles(ws.outputDir, jobIds, perJob, { rand: rng(7), minB: 100, maxB: 300 });
      ctx.log(`${total.toLocaleString('en')} files written in ${((performance.now() - tw) / 1000).toFixed(1)} s`);

      // (b) first: every file new. Rows counted by polling the database from outside.
      {
        const t0 = performance.now();
        const d = spawnNode([CLI(), 'run', '--config', ws.configPath]);
        try {
          let peak = 0;
          const insertedAt = await waitUntil(
            async () => {
              peak = Math.max(peak, procMem(d.pid)?.rssKb ?? 0);
              if (d.proc.exitCode !== null) throw new GiveUp(`daemon exited:\n${d.output().slice(-2000)}`);
              const n = await withDb(ws.dbPath, (db) => db.get<{ n: number }>('SELECT count(*) AS n FROM batch_file_drive_metadata'));
              return (n?.n ?? 0) >= total ? performance.now() : null;
            },
            300_000,
            'every file to have its row',
            100,
          );
          const line = await d.waitForLine(/"kind":"startup".*"message":"scan done"|"message":"scan done".*"kind":"startup"/, 300_000);
          const scanMs = Number(/"ms":(\d+)/.exec(line)?.[1] ?? NaN);
          figures.push(
            goal(
              B,
              `new files: start → ${total.toLocaleString('en')} rows inserted`,
              (insertedAt - t0) / 1000,
              's',
              '<=',
              5,
              `process start to the last row, polled every 100 ms; the start-up scan itself took ${(scanMs / 1000).toFixed(2)} s (folders made in Drive for ${jobs} jobs included); uploads start meanwhile`,
            ),
            info(B, 'new files: peak RSS while inserting', peak / 1000, 'MB'),
          );
        } finally {
          await stopChild(d);
        }
      }

      // (a) every file already uploaded: mark the rows uploaded with the files' own size and mtime.
      await withDb(ws.dbPath, async (db) => {
        await db.exec('BEGIN');
        const rows = await db.all<{ id: number; batch_job_id: string; original_filename: string }[]>(
          'SELECT id, batch_job_id, original_filename FROM batch_file_drive_metadata',
        );
        for (const r of rows) {
          const st = statSync(join(ws.outputDir, r.batch_job_id, r.original_filename));
          await db.run(
            `UPDATE batch_file_drive_metadata SET upload_status = 'uploaded', drive_file_id = 'bench-' || id, local_size = ?, local_mtime_ms = ?,
               lease_owner = NULL, lease_until = NULL, resumable_session_uri = NULL WHERE id = ?`,
            st.size,
            Math.floor(st.mtimeMs),
            r.id,
          );
        }
        await db.run("UPDATE batch_jobs SET drive_upload_status = 'in_progress'");
        await db.exec('COMMIT');
      });
      const req0 = emu.stats().driveRequests;
      const t0 = performance.now();
      const d = spawnNode([CLI(), 'run', '--config', ws.configPath]);
      try {
        let peak = 0;
        const timer = setInterval(() => (peak = Math.max(peak, procMem(d.pid)?.rssKb ?? 0)), 50);
        await d.waitForLine(/"message":"daemon started"/, 300_000);
        const readyMs = performance.now() - t0;
        clearInterval(timer);
        const hwm = procMem(d.pid)?.hwmKb ?? peak;
        const line =
          d
            .output()
            .split('\n')
            .find((l) => l.includes('"kind":"startup"')) ?? '';
        const requests = emu.stats().driveRequests - req0;
        figures.push(
          goal(
            B,
            `all uploaded: start → ready (${total.toLocaleString('en')} files, ${jobs} jobs)`,
            readyMs / 1000,
            's',
            '<=',
            10,
            `process start to "daemon started" (after the start-up scan: ${/"ms":(\d+)/.exec(line)?.[1] ?? '?'} ms)`,
          ),
          goal(B, 'all uploaded: Drive requests at start-up', requests, 'req', '==', 0),
          goal(B, 'all uploaded: peak RSS (VmHWM) to ready', hwm / 1000, 'MB', '<=', 150),
        );
      } finally {
        await stopChild(d);
      }
      if (ctx.quick) for (const f of figures) f.note = `${f.note ? f.note + '; ' : ''}quick mode: ${total.toLocaleString('en')} files`;
      return figures;
    } finally {
      await emu.close();
      ws.remove();
    }
  },
};
