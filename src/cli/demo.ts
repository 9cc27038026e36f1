import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { createStore, migrate, openDatabase, type JobReport } from '../db/index.js';
import { startDaemon } from '../daemon/index.js';
import { startEmulator, type EmulatorFile } from '../emulator/index.js';
import { formatProgress } from './report.js';
import { EXIT } from './errors.js';

export interface DemoOptions {
  stdout: Writable;
  env: NodeJS.ProcessEnv;
  keep: boolean;
  /** Overall deadline; the demo normally needs well under 20 s. */
  timeoutMs?: number;
}

const BATCH_JOBS = `CREATE TABLE batch_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, job_id VARCHAR(255) NOT NULL UNIQUE,
  status VARCHAR(50) NOT NULL, total_files INTEGER NOT NULL, created_at TIMESTAMP, updated_at TIMESTAMP)`;

/**
 * The whole flow on one machine with nothing to configure: the Drive emulator, a temp batch
 * database with three jobs (two enabled, one with its own folder pattern), their files, the
 * daemon, a file written while it runs; then the Drive tree and `status`.
 */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const out = (s = '') => opts.stdout.write(s + '\n');
  const dir = mkdtempSync(join(tmpdir(), 'bds-demo-'));
  const outputDir = join(dir, 'output');
  const dbPath = join(dir, 'batch.db');
  // With --keep the emulator keeps its Drive in the work dir, so it can be started again on it.
  const emuData = join(dir, 'emulator-data');
  const emu = await startEmulator({ rootFolderId: 'demo-root-folder', ...(opts.keep ? { dataDir: emuData } : {}) });
  let daemon: Awaited<ReturnType<typeof startDaemon>> | null = null;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  try {
    out(`== batch-drive-sync demo (work dir ${dir})`);
    out(`Drive emulator at ${emu.url}`);

    // The batch system's database and jobs.
    const db = await openDatabase(dbPath, { busyTimeoutMs: 5000 }).catch(async () => {
      writeFileSync(dbPath, '');
      return openDatabase(dbPath, { busyTimeoutMs: 5000 });
    });
    await db.exec(BATCH_JOBS);
    await db.exec(`INSERT INTO batch_jobs (job_id, status, total_files, created_at, updated_at) VALUES
      ('job-1001', 'completed', 4, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
      ('job-1002', 'processing', 2, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
      ('job-1003', 'completed', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`);
    out(`migrations applied: ${(await migrate(db)).join(', ')}`);
    // What the batch system does to ask for Drive upload: job-1002 brings its own folder pattern.
    await db.exec(`UPDATE batch_jobs SET drive_integration_enabled = 1, drive_upload_status = 'pending' WHERE job_id IN ('job-1001', 'job-1002');
      UPDATE batch_jobs SET drive_folder_pattern = 'SVG2PPTX-Batches/{date}/batch-{job_id}/' WHERE job_id = 'job-1002'`);

    const write = (rel: string, data: Buffer | string) => {
      const p = join(outputDir, rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, data);
    };
    write('job-1001/report.csv', 'page,shapes\n1,12\n2,7\n3,31\n');
    for (let i = 1; i <= 3; i++) write(`job-1001/pages/p-00${i}.png`, randomBytes(20_000 + i * 1000));
    write('job-1002/deck.pptx', randomBytes(3 * 1024 * 1024 + 12345)); // above the demo's resumable threshold
    write('job-1003/not-enabled.txt', 'this job has Drive upload off: it stays local\n');

    const refreshTokenFile = join(dir, 'refresh-token');
    writeFileSync(refreshTokenFile, 'demo-refresh-token\n', { mode: 0o600 });
    const configPath = join(dir, 'config.yaml');
    writeFileSync(
      configPath,
      [
        `database: { path: ${JSON.stringify(dbPath)} }`,
        `watch: { output_dir: ${JSON.stringify(outputDir)}, stability_ms: 300 }`,
        `schedule: { scan_cron: "*/1 * * * *" }`,
        `drive:`,
        `  api_endpoint: ${emu.url}`,
        `  root_folder_id: demo-root-folder`,
        `  folder_pattern: "batch/{yyyy}-{mm}-{dd}/{job_id}"`,
        `auth: { type: oauth, client_id: demo-client, client_secret: demo-secret, refresh_token_file: ${JSON.stringify(refreshTokenFile)} }`,
        `upload: { concurrency: 4, resumable_threshold_bytes: 1048576, chunk_size_bytes: 1048576, backoff_base_ms: 200 }`,
        `log: { level: info, format: text }`,
        '',
      ].join('\n'),
    );
    out(`config written to ${configPath}`);
    out('');
    out('== starting the daemon (its log follows)');
    const logStream = new PassThrough();
    logStream.on('data', (b: Buffer) => opts.stdout.write('  | ' + b.toString().trimEnd().split('\n').join('\n  | ') + '\n'));
    daemon = await startDaemon({ configPath, env: { ...opts.env, JOURNAL_STREAM: '', NOTIFY_SOCKET: '' }, logStream });

    const store = await createStore(db, { now: Date.now, finalJobStatuses: ['completed', 'failed'] });
    const waitFor = async (what: string, ok: (r: JobReport[]) => boolean) => {
      for (;;) {
        const r = await store.report();
        if (ok(r)) return;
        if (Date.now() > deadline) throw new Error(`demo: timed out waiting for ${what}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    const uploaded = (r: JobReport[], job: string, n: number) => (r.find((j) => j.jobId === job)?.counts.uploaded ?? 0) >= n;
    await waitFor('the first files', (r) => uploaded(r, 'job-1001', 4) && uploaded(r, 'job-1002', 1));

    out('');
    out('== the batch system writes one more file for job-1002 and marks the job completed');
    await db.run("UPDATE batch_jobs SET status = 'completed' WHERE job_id = 'job-1002'");
    write('job-1002/summary.txt', 'converted 1 deck\n');
    await waitFor('the late file', (r) => uploaded(r, 'job-1002', 2));
    await daemon.scan();
    await waitFor('completed jobs', (r) => r.filter((j) => j.enabled).every((j) => j.driveUploadStatus === 'completed'));

    await daemon.stop();
    daemon = null;
    out('');
    out('== Drive (emulator) tree');
    out(renderTree(emu.listFiles(), 'demo-root-folder'));
    out('== batch-drive-sync status');
    opts.stdout.write(formatProgress(await store.progress({ all: true }), { all: true }));
    await db.close();
    out('');
    out('Done. Every file of the two enabled jobs is in Drive once; job-1003 (not enabled) was left alone.');
    if (opts.keep) {
      const port = new URL(emu.url).port;
      out('');
      out(`== kept in ${dir}`);
      out(`  ${configPath}   the config (its drive.api_endpoint is ${emu.url})`);
      out(`  ${dbPath}   the batch database, migrated, with the upload records`);
      out(`  ${outputDir}/   the jobs' files`);
      out(`  ${emuData}/   the emulator's Drive (files and folders)`);
      out('Look again:');
      out(`  batch-drive-sync emulator --data ${emuData} --root-folder demo-root-folder --port ${port} &`);
      out(`  batch-drive-sync status --all --config ${configPath}`);
      out(`  batch-drive-sync files --job job-1001 --config ${configPath}`);
      out(`  batch-drive-sync run --config ${configPath}      # the daemon again, on the same data`);
      out(`Remove it with: rm -rf ${dir}`);
    }
    return EXIT.ok;
  } finally {
    if (daemon) await daemon.stop().catch(() => undefined);
    await emu.close();
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}

function renderTree(files: EmulatorFile[], rootId: string): string {
  const lines: string[] = [];
  const children = (id: string) => files.filter((f) => !f.trashed && f.parents?.[0] === id).sort((a, b) => a.name.localeCompare(b.name));
  const walk = (id: string, indent: string) => {
    for (const f of children(id)) {
      const folder = f.mimeType === 'application/vnd.google-apps.folder';
      lines.push(`${indent}${f.name}${folder ? '/' : `  (${String(f.size)} bytes, md5 ${f.md5Checksum ?? '-'})`}`);
      if (folder) walk(f.id, indent + '  ');
    }
  };
  lines.push('(root folder)');
  walk(rootId, '  ');
  return lines.join('\n');
}
