// mergeReload: which keys a SIGHUP applies at once and which keep their running value.
import test from 'ava';
import { parseConfig, type Config } from '../../src/config/index.js';
import { LIVE_KEYS, mergeReload } from '../../src/daemon/reload.js';

const base = {
  database: { path: '/srv/batch.db' },
  watch: { output_dir: '/srv/out' },
  drive: { root_folder_id: 'root-1' },
  auth: { type: 'service_account', key_file: '/etc/key.json' },
};

function cfg(patch: (raw: Record<string, Record<string, unknown>>) => void = () => undefined): Readonly<Config> {
  const raw = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
  patch(raw);
  return parseConfig(raw, '/');
}

test('an unchanged config: nothing applied, nothing needs a restart', (t) => {
  const r = mergeReload(cfg(), cfg());
  t.deepEqual(r.applied, []);
  t.deepEqual(r.needsRestart, []);
  t.deepEqual(r.config, cfg());
});

test('live keys apply at once', (t) => {
  const next = cfg((c) => {
    c.schedule = { scan_cron: '*/5 * * * *', full_scan_cron: '0 * * * *' };
    c.drive!.folder_pattern = 'out/{job_id}';
    c.upload = { concurrency: 9, max_attempts: 3, backoff_base_ms: 10, backoff_max_ms: 20, lease_ms: 5000, drain_timeout_ms: 7 };
    c.log = { level: 'debug' };
  });
  const r = mergeReload(cfg(), next);
  t.deepEqual(r.needsRestart, []);
  t.deepEqual(r.applied, [
    'drive.folder_pattern',
    'log.level',
    'schedule.full_scan_cron',
    'schedule.scan_cron',
    'upload.backoff_base_ms',
    'upload.backoff_max_ms',
    'upload.concurrency',
    'upload.drain_timeout_ms',
    'upload.lease_ms',
    'upload.max_attempts',
  ]);
  t.deepEqual(r.config, next);
});

test('restart-only keys keep the running value and are named; live keys in the same reload still apply', (t) => {
  const cur = cfg();
  const next = cfg((c) => {
    c.database!.path = '/srv/other.db';
    c.database!.final_job_statuses = ['done'];
    c.watch!.output_dir = '/srv/elsewhere';
    c.watch!.ignore = ['*.x'];
    c.drive!.api_endpoint = 'http://127.0.0.1:1';
    c.drive!.root_folder_id = 'root-2';
    c.drive!.shared_drive_id = 'sd';
    c.metrics = { listen: '127.0.0.1:9464' };
    c.upload = { concurrency: 2, chunk_size_bytes: 262144, resumable_threshold_bytes: 1 };
    c.log = { format: 'json' };
  });
  const r = mergeReload(cur, next);
  t.deepEqual(r.applied, ['upload.concurrency']);
  t.deepEqual(r.needsRestart, [
    'database.final_job_statuses',
    'database.path',
    'drive.api_endpoint',
    'drive.root_folder_id',
    'drive.shared_drive_id',
    'log.format',
    'metrics.listen',
    'upload.chunk_size_bytes',
    'upload.resumable_threshold_bytes',
    'watch.ignore',
    'watch.output_dir',
  ]);
  t.is(r.config.upload.concurrency, 2);
  const { upload: _u1, ...restMerged } = r.config;
  const { upload: _u2, ...restCur } = cur;
  t.deepEqual(restMerged, restCur, 'every other key keeps its running value');
  t.is(r.config.upload.chunk_size_bytes, cur.upload.chunk_size_bytes);
});

test('auth is one value: switching service account → oauth keeps the whole running auth', (t) => {
  const cur = cfg();
  const next = cfg((c) => {
    c.auth = { type: 'oauth', client_id: 'id', client_secret: 's3cret', refresh_token_file: '/etc/rt' };
  });
  const r = mergeReload(cur, next);
  t.deepEqual(r.needsRestart, ['auth']);
  t.deepEqual(r.config.auth, cur.auth);
  t.false(JSON.stringify(r.config).includes('s3cret'));
});

test('the inputs are not changed, and the result is a new object', (t) => {
  const cur = cfg();
  const next = cfg((c) => {
    c.watch!.output_dir = '/srv/elsewhere';
  });
  const before = JSON.stringify(next);
  const r = mergeReload(cur, next);
  t.is(JSON.stringify(next), before);
  t.not(r.config, next);
  t.is(r.config.watch.output_dir, '/srv/out');
});

test('every live key is a key of the config', (t) => {
  const c = cfg() as unknown as Record<string, Record<string, unknown>>;
  for (const k of LIVE_KEYS) {
    const [section, key] = k.split('.') as [string, string];
    t.true(key in (c[section] ?? {}), k);
  }
});
