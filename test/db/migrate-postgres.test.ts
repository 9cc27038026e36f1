/**
 * PostgreSQL migrations on a real server: the seed schema translated faithfully (compared with
 * what the seed's own script makes, column by column and index by index), one transaction per
 * migration, two `migrate` at once, the foreign-key decision, the wake-up triggers.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import pg from 'pg';
import { DbError, NotMigratedError } from '../../src/db/index.js';
import { connectPostgres, createPgStore, pgAssertMigrated, pgMigrate, pgMigrationStatus, postgresMigrationsDir } from '../../src/db/postgres/index.js';
import { makeClock, makeTempDb, makeTempDir, openTestDb, withRawDb, type BatchJobsKind } from '../helpers/db.js';
import { SEED_MIGRATION_SCRIPT } from '../helpers/seed-spec.js';
import { makePgTestDb, pgSeedJobs, type TestSql } from '../helpers/store-backends.js';

const DIR = postgresMigrationsDir();
const FIXED = new Date('2025-09-12T10:00:00.000Z');
const ALL = [
  '001_seed_schema.sql',
  '002_daemon_state.sql',
  '003_drive_folders.sql',
  '004_job_errors.sql',
  '005_nodes_and_wakeup.sql',
  '006_progress.sql',
  '007_folder_creator.sql',
];

function copyMigrations(t: Parameters<typeof makeTempDir>[0], prefixes?: string[]): string {
  const dir = join(makeTempDir(t, 'bds-pg-migrations-'), 'postgres');
  mkdirSync(dir);
  for (const f of readdirSync(DIR)) if (!prefixes || prefixes.some((p) => f.startsWith(p))) copyFileSync(join(DIR, f), join(dir, f));
  return dir;
}

/** Every table, column (type, not null, default, identity) and index of the public schema. */
async function catalog(db: TestSql): Promise<unknown> {
  const cols = await db.all<{ t: string; c: string; type: string; notnull: boolean; dflt: string | null; ident: string }[]>(`
    SELECT c.relname AS t, a.attname AS c, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
           pg_get_expr(d.adbin, d.adrelid) AS dflt, a.attidentity AS ident
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY c.relname, a.attnum`);
  const idx = await db.all<{ t: string; name: string; def: string }[]>(
    "SELECT tablename AS t, indexname AS name, indexdef AS def FROM pg_indexes WHERE schemaname = 'public' ORDER BY tablename, indexname",
  );
  const fks = await db.all("SELECT conrelid::regclass::text AS t, conname FROM pg_constraint WHERE contype = 'f'");
  return { cols, idx, fks };
}

// The translation, one rule per SQLite declared type; anything else fails the test.
const TYPE_MAP: Record<string, string> = {
  INTEGER: 'bigint',
  'VARCHAR(255)': 'character varying(255)',
  'VARCHAR(500)': 'character varying(500)',
  'VARCHAR(50)': 'character varying(50)',
  TEXT: 'text',
  TIMESTAMP: 'timestamp without time zone',
  BOOLEAN: 'boolean',
};

test("schema after 001 alone is the seed spec's script translated: same tables, columns, types, defaults, indexes; no foreign key", async (t) => {
  // The reference: the seed's own script run by SQLite, read back from SQLite's catalog.
  const seed = await makeTempDb(t, 'real');
  await withRawDb(seed.path, (raw) => raw.exec(SEED_MIGRATION_SCRIPT));
  const ref = await openTestDb(t, seed.path);
  const expected: { cols: unknown[]; idx: unknown[] } = { cols: [], idx: [] };
  for (const table of ['batch_drive_metadata', 'batch_file_drive_metadata', 'batch_jobs']) {
    const cols = await ref.all<{ name: string; type: string; notnull: number; dflt_value: string | null; pk: number }[]>(
      `SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info('${table}') ORDER BY cid`,
    );
    for (const c of cols) {
      if (table === 'batch_jobs' && !c.name.startsWith('drive_')) continue; // the batch system's own columns
      const type = TYPE_MAP[c.type];
      t.truthy(type, `a translation for ${c.type}`);
      let dflt = c.dflt_value;
      if (dflt === 'FALSE') dflt = 'false';
      else if (dflt?.startsWith("'")) dflt = `${dflt}::character varying`;
      expected.cols.push({ t: table, c: c.name, type, notnull: c.notnull === 1 || c.pk === 1, dflt, ident: c.pk ? 'd' : '' });
    }
    if (table === 'batch_jobs') continue; // its indexes are the batch system's
    for (const i of await ref.all<{ name: string }[]>(`SELECT name FROM pragma_index_list('${table}') ORDER BY name`)) {
      const on = (await ref.all<{ name: string }[]>(`SELECT name FROM pragma_index_info('${i.name}') ORDER BY seqno`)).map((x) => x.name);
      expected.idx.push({ t: table, name: i.name, def: `CREATE INDEX ${i.name} ON public.${table} USING btree (${on.join(', ')})` });
    }
  }

  const { conn, db } = await makePgTestDb(t, 'real', { migrate: false });
  t.deepEqual(await pgMigrate(conn, { dir: copyMigrations(t, ['001_']) }), ['001_seed_schema.sql']);
  const got = (await catalog(db)) as { cols: { t: string; c: string }[]; idx: { t: string; name: string }[]; fks: unknown[] };
  const ours = got.cols.filter((c) => c.t !== 'schema_migrations' && (c.t !== 'batch_jobs' || c.c.startsWith('drive_')));
  t.deepEqual(ours, expected.cols);
  // SQLite's INTEGER PRIMARY KEY is the rowid (no index); PostgreSQL's primary key has one.
  const idx = got.idx.filter((i) => !i.name.endsWith('_pkey') && i.t !== 'batch_jobs' && i.t !== 'schema_migrations');
  t.deepEqual(idx, expected.idx);
  t.deepEqual(got.fks, [], 'no FOREIGN KEY (see the decision test below)');
});

test('fresh database: every migration applied in order and recorded; status; assertMigrated; migrate again is a no-op', async (t) => {
  const { conn, db } = await makePgTestDb(t, 'real', { migrate: false });
  await t.throwsAsync(pgAssertMigrated(conn), { instanceOf: NotMigratedError, message: /batch-drive-sync migrate/ });
  t.deepEqual(
    (await pgMigrationStatus(conn)).map((s) => s.state),
    ALL.map(() => 'pending'),
  );
  t.deepEqual(await pgMigrate(conn, { now: () => FIXED }), ALL);
  const sha = (f: string) =>
    createHash('sha256')
      .update(readFileSync(join(DIR, f), 'utf8'))
      .digest('hex');
  t.deepEqual(
    await db.all('SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version'),
    ALL.map((name, i) => ({ version: i + 1, name, checksum: sha(name), applied_at: FIXED.toISOString() })),
  );
  t.deepEqual(
    (await pgMigrationStatus(conn)).map((s) => [s.name, s.state, s.appliedAt]),
    ALL.map((n) => [n, 'applied', FIXED.toISOString()]),
  );
  await t.notThrowsAsync(pgAssertMigrated(conn));
  const before = await catalog(db);
  t.deepEqual(await pgMigrate(conn), []);
  t.deepEqual(await catalog(db), before);
  // The daemon's columns with their PostgreSQL types.
  const types = Object.fromEntries(
    (
      await db.all<{ c: string; type: string }[]>(
        "SELECT attname AS c, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'batch_file_drive_metadata'::regclass AND attnum > 0",
      )
    ).map((r) => [r.c, r.type]),
  );
  t.like(types, {
    attempts: 'integer',
    next_attempt_at: 'bigint',
    lease_until: 'bigint',
    local_size: 'bigint',
    resumable_offset: 'bigint',
    found_by_node: 'text',
  });
  const partial = await db.all<{ name: string; def: string }[]>(
    "SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE indexname IN ('idx_batch_file_drive_metadata_due', 'idx_batch_file_drive_metadata_lease') ORDER BY 1",
  );
  t.regex(partial[0]?.def ?? '', /\(next_attempt_at\) WHERE \(\(upload_status\)::text = 'pending'::text\)/);
  t.regex(partial[1]?.def ?? '', /\(lease_until\) WHERE \(\(upload_status\)::text = 'uploading'::text\)/);
});

test('two migrate at once (separate connections): the advisory lock makes one apply everything and the other nothing', async (t) => {
  const { url, db } = await makePgTestDb(t, 'real', { migrate: false });
  const conns = await Promise.all([1, 2, 3].map(() => connectPostgres({ url, env: {}, poolSize: 2, connectTimeoutMs: 10_000 })));
  t.teardown(() => Promise.all(conns.map((c) => c.close())));
  const results = await Promise.all(conns.map((c) => pgMigrate(c)));
  t.deepEqual(results.map((r) => r.length).sort(), [0, 0, ALL.length]);
  t.is((await db.get<{ n: number }>('SELECT count(*) AS n FROM schema_migrations'))?.n, ALL.length);
});

test('a failing migration is rolled back whole (transactional DDL): nothing of it stays, earlier ones do', async (t) => {
  const { conn, db } = await makePgTestDb(t, 'real', { migrate: false });
  const dir = copyMigrations(t, ['001_']);
  // Duplicate (job, file) rows written before 002: its unique index fails after its columns were added.
  await pgMigrate(conn, { dir });
  await db.exec("INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename) VALUES ('j', 'a'), ('j', 'a')");
  const err = await t.throwsAsync(pgMigrate(conn), { instanceOf: DbError });
  t.regex(err?.message ?? '', /002_daemon_state\.sql failed and was rolled back/);
  const cols = (
    await db.all<{ c: string }[]>("SELECT attname AS c FROM pg_attribute WHERE attrelid = 'batch_file_drive_metadata'::regclass AND attnum > 0")
  ).map((r) => r.c);
  t.false(cols.includes('attempts'), 'the ALTERs before the failing index were undone');
  t.deepEqual(
    (await pgMigrationStatus(conn)).map((s) => s.state),
    ['applied', ...ALL.slice(1).map(() => 'pending')],
  );
});

test('an applied migration whose file changed is refused, naming it; a batch_jobs-less database is refused, nothing changed', async (t) => {
  const { conn, db } = await makePgTestDb(t, 'real', { migrate: false });
  const dir = copyMigrations(t);
  await pgMigrate(conn, { dir });
  appendFileSync(join(dir, '002_daemon_state.sql'), '\nALTER TABLE batch_jobs ADD COLUMN sneaky INTEGER;\n');
  writeFileSync(join(dir, '099_next.sql'), 'CREATE TABLE must_not_exist (x INTEGER);\n');
  const before = await catalog(db);
  const err = await t.throwsAsync(pgMigrate(conn, { dir }), { instanceOf: DbError });
  t.regex(err?.message ?? '', /002_daemon_state\.sql.*changed/);
  t.deepEqual(await catalog(db), before);

  const other = await makePgTestDb(t, null, { migrate: false });
  const e2 = await t.throwsAsync(pgMigrate(other.conn), { instanceOf: DbError });
  t.regex(e2?.message ?? '', /no table batch_jobs/);
  t.deepEqual(
    (await other.db.all<{ n: string }[]>("SELECT tablename AS n FROM pg_tables WHERE schemaname = 'public'")).map((r) => r.n),
    ['unrelated'],
  );
});

for (const kind of ['real', 'minimal'] as BatchJobsKind[]) {
  test(`FOREIGN KEY decision (${kind} batch_jobs): none declared; the store works; the batch system can still delete its jobs`, async (t) => {
    const { conn, db } = await makePgTestDb(t, kind);
    await pgSeedJobs(db, kind === 'real' ? ['job-1'] : ['job-1', 'job-1']);
    if (kind === 'minimal') {
      // Why: PostgreSQL refuses the seed's key on a job_id that is not unique.
      const e = await t.throwsAsync(db.exec('CREATE TABLE child (batch_job_id VARCHAR(255) REFERENCES batch_jobs(job_id))'));
      t.regex(e?.message ?? '', /no unique constraint matching given keys/);
    }
    const store = await createPgStore(conn, { now: makeClock().now, finalJobStatuses: ['completed'] });
    t.true(await store.setJobEnabled('job-1', true));
    t.is(await store.upsertFile('job-1', 'a.png', { size: 1, mtimeMs: 1 }), 'inserted');
    await store.saveJobFolder('job-1', { folderId: 'f1', url: null, path: null });
    await db.run("DELETE FROM batch_jobs WHERE job_id = 'job-1'");
    t.is((await db.get<{ n: number }>('SELECT count(*) AS n FROM batch_file_drive_metadata'))?.n, 1, 'our record of the file stays');
  });
}

test('drive_integration_enabled is a real boolean: the batch system writes TRUE/false/NULL and the store reads them right', async (t) => {
  const { conn, db } = await makePgTestDb(t, 'real');
  await db.exec(`INSERT INTO batch_jobs (job_id, status, total_files, drive_integration_enabled) VALUES
    ('on', 'processing', 1, TRUE), ('off', 'processing', 1, false), ('null', 'processing', 1, NULL), ('yes', 'processing', 1, 'yes'), ('one', 'processing', 1, '1')`);
  const store = await createPgStore(conn, { now: makeClock().now, finalJobStatuses: ['completed'] });
  t.deepEqual((await store.listEnabledJobs()).map((j) => j.jobId).sort(), ['on', 'one', 'yes']);
  const [on] = await store.listEnabledJobs('on');
  t.is(on?.row.drive_integration_enabled, true);
  t.is(on?.row.id, 1, 'serial ids are numbers');
  t.deepEqual(
    (await store.report()).map((r) => [r.jobId, r.enabled]),
    [
      ['on', true],
      ['one', true],
      ['yes', true],
    ],
  );
});

test('wake-up triggers: a job enabled (insert or update) and a row becoming pending notify batch_drive_sync, once per job per transaction', async (t) => {
  const { url, db } = await makePgTestDb(t, 'real');
  const listener = new pg.Client({ connectionString: url });
  listener.on('error', () => undefined);
  await listener.connect();
  t.teardown(() => listener.end().catch(() => undefined));
  const got: string[] = [];
  listener.on('notification', (m) => got.push(m.payload ?? ''));
  await listener.query('LISTEN batch_drive_sync');
  await db.exec(
    "INSERT INTO batch_jobs (job_id, status, total_files, drive_integration_enabled) VALUES ('a', 'processing', 1, TRUE), ('b', 'processing', 1, FALSE)",
  );
  await db.exec("UPDATE batch_jobs SET drive_integration_enabled = TRUE WHERE job_id = 'b'");
  await db.exec("UPDATE batch_jobs SET drive_integration_enabled = TRUE WHERE job_id = 'b'"); // already on: no notification
  await db.exec("BEGIN; INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename) SELECT 'a', 'f' || g FROM generate_series(1, 100) g; COMMIT");
  await db.exec("UPDATE batch_file_drive_metadata SET upload_status = 'failed' WHERE original_filename = 'f1'");
  await db.exec("UPDATE batch_file_drive_metadata SET upload_status = 'pending' WHERE original_filename = 'f1'");
  const want = ['{"kind" : "job", "job" : "a"}', '{"kind" : "job", "job" : "b"}', '{"kind" : "file", "job" : "a"}', '{"kind" : "file", "job" : "a"}'];
  const deadline = Date.now() + 10_000;
  while (got.length < want.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await listener.query('SELECT 1'); // anything still in flight arrives before this answer
  t.deepEqual(got, want);
});
