import { makeWorkspace, startBenchEmulator, withDb, ROOT_FOLDER, rng } from '../dist/test/helpers/processes.js';
import { writeSmallFiles } from '../dist/bench/lib/files.js';
import { statSync } from 'node:fs'; import { join } from 'node:path';
const jobs = Array.from({ length: 20 }, (_, i) => `boot-${i}`);
const emu = await startBenchEmulator({ rootFolderId: ROOT_FOLDER, logRequests: false });
const ws = await makeWorkspace({ prefix: 'bds-boot-ws-', emulatorUrl: emu.url, jobIds: jobs, config: { watch: { stability_ms: 2000 } } });
await writeSmallFiles(ws.outputDir, jobs, 1000, { rand: rng(3), minB: 100, maxB: 300 });
await withDb(ws.dbPath, async (db) => {
  await db.exec('BEGIN');
  let id = 0;
  for (const j of jobs) for (let i = 0; i < 1000; i++) { const f = `f-${String(i).padStart(5, '0')}.bin`; const st = statSync(join(ws.outputDir, j, f));
    await db.run(`INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status, drive_file_id, local_size, local_mtime_ms, attempts, created_at, updated_at) VALUES (?, ?, 'uploaded', ?, ?, ?, 1, '2025-01-01', '2025-01-01')`, j, f, 'd' + id++, st.size, Math.floor(st.mtimeMs)); }
  await db.run(`INSERT INTO batch_drive_metadata (batch_job_id, drive_folder_id, drive_folder_url, folder_path, created_at, updated_at) SELECT job_id, 'f-' || job_id, 'u', 'p', '2025-01-01', '2025-01-01' FROM batch_jobs`);
  await db.run("UPDATE batch_jobs SET drive_upload_status = 'in_progress'");
  await db.exec('COMMIT');
});
console.log('CONFIG', ws.configPath);
await new Promise(() => {});
