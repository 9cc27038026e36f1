import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import {
  assertMigrated,
  createStore,
  DbError,
  defaultMigrationsDir,
  migrate,
  migrationStatus,
  NotMigratedError,
  openDatabase,
  type Db,
} from '../../src/db/index.js';
import { SEED_MIGRATION_SCRIPT } from '../helpers/seed-spec.js';
import { makeClock, makeTempDb, makeTempDir, openTestDb, schemaSnapshot, seedJobs, withRawDb, type BatchJobsKind } from '../helpers/db.js';

/** Every migration this version ships, in order. */
const ALL_MIGRATIONS = [
  '001_seed_schema.sql',
  '002_daemon_state.sql',
  '003_drive_folders.sql',
  '004_job_errors.sql',
  '005_nodes.sql',
  '006_progress.sql',
  '007_folder_creator.sql',
];

const MIGRATIONS = defaultMigrationsDir();
const FIXED = new Date('2025-09-12T10:00:00.000Z');

/** A copy of migrations/ (only the files whose name starts with one of `prefixes`, default all) in a temp dir. */
function copyMigrations(t: Parameters<typeof makeTempDir>[0], prefixes?: string[]): string {
  const dir = join(makeTempDir(t, 'bds-migrations-'), 'migrations');
  mkdirSync(dir);
  for (const f of readdirSync(MIGRATIONS)) {
    if (f.endsWith('.sql') && (!prefixes || prefixes.some((p) => f.startsWith(p)))) copyFileSync(join(MIGRATIONS, f), join(dir, f));
  }
  return dir;
}

async function tableNames(db: Db): Promise<string[]> {
  const rows = await db.all<{ name: string }[]>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
  return rows.map((r) => r.name);
}

async function columns(db: Db, table: string): Promise<string[]> {
  return (await db.all<{ name: string }[]>(`SELECT name FROM pragma_table_info('${table}')`)).map((c) => c.name);
}

test('fresh database: every migration applied and recorded with version, name, checksum, applied_at', async (t) => {
  const { path } = await makeTempDb(t, 'real');
  const db = await openTestDb(t, path);
  const applied = await migrate(db, { now: () => FIXED });
  t.deepEqual(applied, ALL_MIGRATIONS);

  const rows = await db.all<{ version: number; name: string; checksum: string; applied_at: string }[]>(
    'SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version',
  );
  const sha = (f: string) =>
    createHash('sha256')
      .update(readFileSync(join(MIGRATIONS, f), 'utf8'))
      .digest('hex');
  t.deepEqual(rows, [
    { version: 1, name: '001_seed_schema.sql', checksum: sha('001_seed_schema.sql'), applied_at: FIXED.toISOString() },
    { version: 2, name: '002_daemon_state.sql', checksum: sha('002_daemon_state.sql'), applied_at: FIXED.toISOString() },
    { version: 3, name: '003_drive_folders.sql', checksum: sha('003_drive_folders.sql'), applied_at: FIXED.toISOString() },
    { version: 4, name: '004_job_errors.sql', checksum: sha('004_job_errors.sql'), applied_at: FIXED.toISOString() },
    { version: 5, name: '005_nodes.sql', checksum: sha('005_nodes.sql'), applied_at: FIXED.toISOString() },
    { version: 6, name: '006_progress.sql', checksum: sha('006_progress.sql'), applied_at: FIXED.toISOString() },
    { version: 7, name: '007_folder_creator.sql', checksum: sha('007_folder_creator.sql'), applied_at: FIXED.toISOString() },
  ]);
  t.deepEqual(await tableNames(db), ['batch_drive_folders', 'batch_drive_metadata', 'batch_file_drive_metadata', 'batch_jobs', 'schema_migrations']);
  t.deepEqual(
    (await migrationStatus(db)).map((s) => [s.version, s.name, s.state, s.appliedAt]),
    [
      [1, '001_seed_schema.sql', 'applied', FIXED.toISOString()],
      [2, '002_daemon_state.sql', 'applied', FIXED.toISOString()],
      [3, '003_drive_folders.sql', 'applied', FIXED.toISOString()],
      [4, '004_job_errors.sql', 'applied', FIXED.toISOString()],
      [5, '005_nodes.sql', 'applied', FIXED.toISOString()],
      [6, '006_progress.sql', 'applied', FIXED.toISOString()],
      [7, '007_folder_creator.sql', 'applied', FIXED.toISOString()],
    ],
  );
  await t.notThrowsAsync(assertMigrated(db));
});

test('migrate again is a no-op: nothing applied, schema and schema_migrations unchanged', async (t) => {
  const { path } = await makeTempDb(t, 'real');
  const db = await openTestDb(t, path);
  await migrate(db, { now: () => FIXED });
  const schemaBefore = await schemaSnapshot(db);
  const recordsBefore = await db.all('SELECT * FROM schema_migrations ORDER BY version');

  t.deepEqual(await migrate(db, { now: () => new Date('2030-01-01T00:00:00Z') }), []);
  t.deepEqual(await migrate(db), []);
  t.deepEqual(await schemaSnapshot(db), schemaBefore);
  t.deepEqual(await db.all('SELECT * FROM schema_migrations ORDER BY version'), recordsBefore);
});

for (const kind of ['real', 'minimal'] as const) {
  test(`existing batch_jobs rows and columns are preserved; new columns get their defaults (${kind})`, async (t) => {
    const { path } = await makeTempDb(t, kind);
    await seedJobs(path, [
      { job_id: 'job-a', status: 'completed', total_files: 3, created_at: '2025-09-01 10:00:00', updated_at: '2025-09-01 11:00:00' },
      { job_id: 'job-b', status: 'processing', total_files: 7, created_at: null, updated_at: null },
      'job-c',
    ]);
    const db = await openTestDb(t, path);
    const colsBefore = await db.all("SELECT * FROM pragma_table_info('batch_jobs')");
    const before = await db.all<Record<string, unknown>[]>('SELECT * FROM batch_jobs ORDER BY rowid');
    t.is(before.length, 3);

    await migrate(db);

    const colsAfter = await db.all<{ name: string }[]>("SELECT * FROM pragma_table_info('batch_jobs')");
    t.deepEqual(colsAfter.slice(0, colsBefore.length), colsBefore, 'original columns unchanged, in place');
    t.deepEqual(
      colsAfter.slice(colsBefore.length).map((c) => c.name),
      ['drive_integration_enabled', 'drive_upload_status', 'drive_folder_pattern'],
    );
    const after = await db.all<Record<string, unknown>[]>('SELECT * FROM batch_jobs ORDER BY rowid');
    t.deepEqual(
      after,
      before.map((r) => ({ ...r, drive_integration_enabled: 0, drive_upload_status: 'not_requested', drive_folder_pattern: null })),
    );
  });
}

test("schema after 001 alone equals the seed spec's migration script, column by column and index by index", async (t) => {
  const oneOnly = copyMigrations(t, ['001_']);
  const ours = await makeTempDb(t, 'real');
  const seed = await makeTempDb(t, 'real');
  const db = await openTestDb(t, ours.path);
  t.deepEqual(await migrate(db, { dir: oneOnly }), ['001_seed_schema.sql']);
  await withRawDb(seed.path, (raw) => raw.exec(SEED_MIGRATION_SCRIPT));
  const ref = await openTestDb(t, seed.path);

  const describe = async (d: Db) => {
    const tables = (await tableNames(d)).filter((n) => n !== 'schema_migrations');
    const out: Record<string, unknown> = {};
    for (const table of tables) {
      const cols = await d.all(`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info('${table}') ORDER BY cid`);
      const idx = await d.all<{ name: string; unique: number; origin: string; partial: number }[]>(
        `SELECT name, "unique", origin, partial FROM pragma_index_list('${table}') ORDER BY name`,
      );
      const indexes = [];
      for (const i of idx) {
        indexes.push({ ...i, cols: await d.all(`SELECT seqno, name FROM pragma_index_info('${i.name}') ORDER BY seqno`) });
      }
      const fks = await d.all(`SELECT * FROM pragma_foreign_key_list('${table}')`);
      out[table] = { cols, indexes, fks };
    }
    return out;
  };
  const mine = await describe(db);
  const theirs = await describe(ref);
  t.deepEqual(Object.keys(mine).sort(), ['batch_drive_metadata', 'batch_file_drive_metadata', 'batch_jobs']);
  t.deepEqual(mine, theirs);
});

test('an applied migration whose file changed is refused, naming the file, and nothing changes', async (t) => {
  const dir = copyMigrations(t);
  const { path } = await makeTempDb(t, 'real');
  const db = await openTestDb(t, path);
  await migrate(db, { dir });
  const schemaBefore = await schemaSnapshot(db);
  const recordsBefore = await db.all('SELECT * FROM schema_migrations ORDER BY version');

  appendFileSync(join(dir, '002_daemon_state.sql'), '\nALTER TABLE batch_jobs ADD COLUMN sneaky INTEGER;\n');
  // A new pending migration must not be applied either while an applied one is inconsistent.
  writeFileSync(join(dir, '099_next.sql'), 'CREATE TABLE must_not_exist (x INTEGER);\n');

  const err = await t.throwsAsync(migrate(db, { dir }), { instanceOf: DbError });
  t.regex(err?.message ?? '', /002_daemon_state\.sql/);
  t.regex(err?.message ?? '', /changed|checksum/);
  t.notRegex(err?.message ?? '', /001_seed_schema/);
  t.deepEqual(await schemaSnapshot(db), schemaBefore);
  t.deepEqual(await db.all('SELECT * FROM schema_migrations ORDER BY version'), recordsBefore);
  t.deepEqual(
    (await migrationStatus(db, dir)).map((s) => [s.name, s.state]),
    [
      ['001_seed_schema.sql', 'applied'],
      ['002_daemon_state.sql', 'changed'],
      ['003_drive_folders.sql', 'applied'],
      ['004_job_errors.sql', 'applied'],
      ['005_nodes.sql', 'applied'],
      ['006_progress.sql', 'applied'],
      ['007_folder_creator.sql', 'applied'],
      ['099_next.sql', 'pending'],
    ],
  );
  const notMigrated = await t.throwsAsync(assertMigrated(db, dir), { instanceOf: NotMigratedError });
  t.regex(notMigrated?.message ?? '', /002_daemon_state\.sql/);
});

test('no batch_jobs table: clear error naming batch_jobs, database left unchanged', async (t) => {
  const { path } = await makeTempDb(t, null);
  const db = await openTestDb(t, path);
  const before = await schemaSnapshot(db);
  const err = await t.throwsAsync(migrate(db), { instanceOf: DbError });
  t.regex(err?.message ?? '', /batch_jobs/);
  t.true(err?.permanent);
  t.deepEqual(await schemaSnapshot(db), before);
  t.deepEqual(await tableNames(db), ['unrelated']);
  // createStore refuses the wrong database the same way.
  await t.throwsAsync(createStore(db, { now: () => 0, finalJobStatuses: [] }), { instanceOf: DbError, message: /batch_jobs/ });
});

for (const kind of ['real', 'minimal'] as const satisfies readonly BatchJobsKind[]) {
  test(`batch_jobs.job_id ${kind === 'real' ? 'UNIQUE' : 'not unique (minimal table, duplicate rows)'}: migrates and the store works`, async (t) => {
    const { path } = await makeTempDb(t, kind);
    // The minimal table may hold the same job_id twice; the real one may not.
    await seedJobs(path, kind === 'real' ? ['job-1', 'job-2'] : ['job-1', 'job-1', 'job-2']);
    const db = await openTestDb(t, path);
    t.deepEqual(await migrate(db), ALL_MIGRATIONS);
    await t.notThrowsAsync(assertMigrated(db));

    const clock = makeClock();
    const store = await createStore(db, { now: clock.now, finalJobStatuses: ['completed', 'failed'] });
    t.is(store.hasStatusColumn, kind === 'real');
    t.true(await store.setJobEnabled('job-1', true));
    t.is(await store.upsertFile('job-1', 'a.png', { size: 1, mtimeMs: 1 }), 'inserted');
    t.is(await store.upsertFile('job-1', 'pages/b.png', { size: 2, mtimeMs: 2 }), 'inserted');
    const claimed = await store.claimDue('w1', 10, 60_000);
    t.deepEqual(claimed.map((r) => r.original_filename).sort(), ['a.png', 'pages/b.png'], 'each row once, even with duplicate job rows');
    for (const r of claimed) {
      t.true(await store.markUploaded(r.id, 'w1', { driveFileId: `d${r.id}`, fileUrl: 'u', previewUrl: 'p', size: 1, mtimeMs: 1, md5: 'm' }));
    }
    if (kind === 'real') await db.run("UPDATE batch_jobs SET status = 'completed' WHERE job_id = 'job-1'");
    t.like(await store.recomputeJobStatus('job-1'), { to: 'completed' });
    const statuses = await db.all<{ s: string }[]>("SELECT drive_upload_status AS s FROM batch_jobs WHERE job_id = 'job-1'");
    t.deepEqual(
      statuses.map((r) => r.s),
      kind === 'real' ? ['completed'] : ['completed', 'completed'],
    );
  });
}

// FOREIGN KEY decision: the migrations declare no FOREIGN KEY to batch_jobs(job_id). The seed's
// table definitions have one, but the seed's own migration script leaves them out, and SQLite
// requires the parent key to be PRIMARY KEY or UNIQUE: against a batch_jobs whose job_id is not
// unique (the minimal table) every insert into the child table fails with "foreign key mismatch"
// as soon as foreign_keys=ON (which the batch system may switch on for its own connection).
test('FOREIGN KEY decision: migrations declare none (a FK on a non-unique job_id is a "foreign key mismatch")', async (t) => {
  // Why: demonstrate SQLite's behaviour on the minimal table with the seed's FK.
  const demo = await makeTempDb(t, 'minimal');
  await withRawDb(demo.path, async (raw) => {
    await raw.exec('PRAGMA foreign_keys = ON');
    await raw.exec('CREATE TABLE child (batch_job_id VARCHAR(255) NOT NULL, FOREIGN KEY (batch_job_id) REFERENCES batch_jobs(job_id))');
    await seedJobs(raw, ['job-1']);
    const e = await raw.run("INSERT INTO child VALUES ('job-1')").then(
      () => null,
      (err: unknown) => err as Error,
    );
    t.regex(e?.message ?? '', /foreign key mismatch/);
  });

  const { path } = await makeTempDb(t, 'real');
  const db = await openTestDb(t, path);
  await migrate(db);
  for (const table of ['batch_drive_metadata', 'batch_file_drive_metadata', 'batch_jobs']) {
    t.deepEqual(await db.all(`SELECT * FROM pragma_foreign_key_list('${table}')`), [], `${table} has no FOREIGN KEY`);
  }
});

for (const kind of ['real', 'minimal'] as const) {
  test(`with PRAGMA foreign_keys=ON file and folder rows can still be written (${kind} batch_jobs)`, async (t) => {
    const { path } = await makeTempDb(t, kind);
    await seedJobs(path, kind === 'real' ? ['job-1'] : ['job-1', 'job-1']);
    const db = await openTestDb(t, path);
    await migrate(db);
    await db.exec('PRAGMA foreign_keys = ON');
    t.is((await db.get<{ foreign_keys: number }>('PRAGMA foreign_keys'))?.foreign_keys, 1);
    const store = await createStore(db, { now: makeClock().now, finalJobStatuses: ['completed'] });
    await store.setJobEnabled('job-1', true);
    t.is(await store.upsertFile('job-1', 'a.png', { size: 1, mtimeMs: 1 }), 'inserted');
    await store.saveJobFolder('job-1', { folderId: 'f1', url: 'https://drive.google.com/drive/folders/f1', path: 'batch/job-1' });
    const [row] = await store.claimDue('w', 1, 1000);
    t.truthy(row);
    t.true(await store.markUploaded(row!.id, 'w', { driveFileId: 'd', fileUrl: 'u', previewUrl: 'p', size: 1, mtimeMs: 1, md5: 'm' }));
    t.deepEqual(await store.getJobFolder('job-1'), { folderId: 'f1', url: 'https://drive.google.com/drive/folders/f1', path: 'batch/job-1' });
    t.deepEqual(await db.all('PRAGMA foreign_key_check'), []);
  });
}

test('assertMigrated on an unmigrated database throws NotMigratedError naming `batch-drive-sync migrate`', async (t) => {
  const { path } = await makeTempDb(t, 'real');
  const db = await openTestDb(t, path);
  const err = await t.throwsAsync(assertMigrated(db), { instanceOf: NotMigratedError });
  t.regex(err?.message ?? '', /batch-drive-sync migrate/);
  t.true(err instanceof DbError && err.permanent);
  t.deepEqual(await tableNames(db), ['batch_jobs'], 'assertMigrated itself changes nothing');

  // Half-migrated (001 only): still refused, naming what is missing.
  await migrate(db, { dir: copyMigrations(t, ['001_']) });
  const half = await t.throwsAsync(assertMigrated(db), { instanceOf: NotMigratedError });
  t.regex(half?.message ?? '', /002_daemon_state\.sql/);
  t.regex(half?.message ?? '', /batch-drive-sync migrate/);
});

test('a corrupt database file: openDatabase throws DbError naming the path', async (t) => {
  const dir = makeTempDir(t);
  const path = join(dir, 'corrupt.db');
  writeFileSync(path, randomBytes(8192));
  const err = await t.throwsAsync(openDatabase(path, { busyTimeoutMs: 100 }), { instanceOf: DbError });
  t.true(err?.message.includes(path));
  t.true(err?.permanent);

  const missing = join(dir, 'does-not-exist.db');
  const err2 = await t.throwsAsync(openDatabase(missing, { busyTimeoutMs: 100 }), { instanceOf: DbError });
  t.true(err2?.message.includes(missing));
  t.deepEqual(readdirSync(dir), ['corrupt.db'], 'a missing database is not created');
});

test('duplicate (batch_job_id, original_filename) written before 002: 002 fails naming itself and is rolled back', async (t) => {
  const { path } = await makeTempDb(t, 'real');
  await seedJobs(path, ['job-1']);
  const db = await openTestDb(t, path);
  await migrate(db, { dir: copyMigrations(t, ['001_']) });
  // The batch system (seed schema only) recorded the same file twice.
  await db.exec(`INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename) VALUES ('job-1', 'a.png'), ('job-1', 'a.png'), ('job-1', 'b.png')`);
  const before = await schemaSnapshot(db);

  const err = await t.throwsAsync(migrate(db), { instanceOf: DbError });
  t.regex(err?.message ?? '', /002_daemon_state\.sql/);
  t.regex(err?.message ?? '', /rolled back/);
  t.regex(err?.message ?? '', /UNIQUE/i);

  t.deepEqual(await schemaSnapshot(db), before, 'no column or index of 002 left behind');
  t.false((await columns(db, 'batch_file_drive_metadata')).includes('attempts'));
  t.deepEqual(
    (await db.all<{ version: number }[]>('SELECT version FROM schema_migrations')).map((r) => r.version),
    [1],
  );
  t.is((await db.get<{ n: number }>('SELECT count(*) AS n FROM batch_file_drive_metadata'))?.n, 3);
  t.false(await db.get('SELECT 1 FROM sqlite_schema WHERE name = ?', 'ux_batch_file_drive_metadata_job_file').then(Boolean));

  // Once the operator removes the duplicate, 002 applies.
  await db.exec("DELETE FROM batch_file_drive_metadata WHERE rowid = (SELECT max(rowid) FROM batch_file_drive_metadata WHERE original_filename = 'a.png')");
  t.deepEqual(await migrate(db), ALL_MIGRATIONS.slice(1));
});
