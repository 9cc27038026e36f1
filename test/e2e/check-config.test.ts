// check-config checks what it can before the service starts: each problem on its own line,
// naming what is wrong and what to do; exit 78 when any.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { setupE2E } from '../helpers/e2e.js';
import { withRawDb } from '../helpers/db.js';

test('check-config: placeholder root folder, {job.<column>} against the real batch_jobs, a drain longer than the stop timeout, access for a user; all ok otherwise', async (t) => {
  const e = await setupE2E(t, { folderPattern: 'batch/{job.project}/{job_id}', drainTimeoutMs: 88_000 });
  await e.addJob('own', { pattern: 'x/{job.customer}/{job_id}' });
  const placeholder = join(e.dir, 'placeholder.yaml');
  writeFileSync(placeholder, readFileSync(e.configPath, 'utf8').replace(/root_folder_id: .*/, 'root_folder_id: "REPLACE-WITH-FOLDER-ID"'));
  const r = await e.cli(['check-config'], { config: placeholder });
  t.is(r.code, 78, r.stdout + r.stderr);
  const problems = r.stderr.split('\n').filter((l) => l.startsWith('problem: '));
  t.true(
    problems.some((p) => /drive\.root_folder_id is still the example placeholder "REPLACE-WITH-FOLDER-ID"/.test(p)),
    r.stderr,
  );
  t.true(
    problems.some((p) => /^problem: drive\.folder_pattern: \{job\.project\} names no column of batch_jobs \(it has id, job_id, status,/.test(p)),
    r.stderr,
  );
  t.true(
    problems.some((p) => /batch_jobs\.drive_folder_pattern of job "own": \{job\.customer\} names no column/.test(p)),
    r.stderr,
  );
  t.true(
    problems.some((p) => /upload\.drain_timeout_ms 88000 is not at least 5 s below the unit's stop timeout \(TimeoutStopSec=90s/.test(p)),
    r.stderr,
  );

  // The same file fixed: only what is still wrong is reported.
  const fixed = join(e.dir, 'fixed.yaml');
  writeFileSync(
    fixed,
    readFileSync(e.configPath, 'utf8')
      .replace('{job.project}', '{job.status}')
      .replace(/drain_timeout_ms: \d+/, 'drain_timeout_ms: 60000'),
  );
  await e.sql("UPDATE batch_jobs SET drive_folder_pattern = 'x/{job.status}/{job_id}' WHERE job_id = 'own'");
  const ok = await e.cli(['check-config'], { config: fixed });
  t.is(ok.code, 0, ok.stdout + ok.stderr);
  t.regex(ok.stdout, /upload\.drain_timeout_ms 60000: below the unit's stop timeout/);
  t.regex(ok.stdout, /journal_mode=wal/);

  // Access as another user: a database in a directory only root may enter.
  const locked = join(e.dir, 'locked');
  mkdirSync(locked, { mode: 0o700 });
  chmodSync(e.dir, 0o755);
  const nobody = await e.cli(['check-config', '--user', 'nobody'], { config: fixed });
  t.is(nobody.code, 78);
  t.regex(nobody.stderr, /problem: user nobody cannot (read|create files in|write)/);
  t.regex(nobody.stderr, /setfacl -m u:nobody:/);
});

test('check-config on a database without batch_jobs says so (not "run migrate")', async (t) => {
  const e = await setupE2E(t, { batchJobs: false, migrate: false });
  const r = await e.cli(['check-config']);
  t.is(r.code, 78);
  t.regex(r.stderr, /has no table batch_jobs: database\.path must point at the batch system's own database/);
  t.notRegex(r.stderr, /run "batch-drive-sync migrate"/);
  await withRawDb(e.dbPath, async (raw) =>
    t.deepEqual(await raw.all("SELECT name FROM sqlite_schema WHERE type = 'table'"), [{ name: 'unrelated' }], 'nothing created'),
  );
});
