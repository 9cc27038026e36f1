// The database section: exactly one of database.path (SQLite) and database.url (PostgreSQL), the
// Postgres password sources, and the multi-host keys (daemon.node_name, watch.shared_storage).
import test from 'ava';
import { ConfigError, parseConfig } from '../../src/config/index.js';

const base = (database: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  database,
  watch: { output_dir: '/srv/out' },
  drive: { root_folder_id: 'root' },
  auth: { type: 'service_account', key_file: '/etc/sa.json' },
  ...extra,
});

const problems = (raw: unknown, env = {}) => {
  try {
    parseConfig(raw, '/etc/bds', env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

test('database.url instead of database.path; pool and timeout defaults; node name and storage mode default', (t) => {
  const cfg = parseConfig(base({ url: 'postgres://bds@db.example:5433/batch' }), '/etc/bds');
  t.like(cfg.database, { url: 'postgres://bds@db.example:5433/batch', pool_size: 4, connect_timeout_ms: 10000 });
  t.is(cfg.database.path, undefined);
  t.deepEqual(cfg.daemon, { node_name: null });
  t.true(cfg.watch.shared_storage);
  t.like(parseConfig(base({ url: 'postgresql:///batch?host=/run/postgresql' }), '/etc/bds').database, { url: 'postgresql:///batch?host=/run/postgresql' });
  const multi = parseConfig(
    base({ path: 'b.db' }, { daemon: { node_name: 'worker-7' }, watch: { output_dir: '/srv/out', shared_storage: false } }),
    '/etc/bds',
  );
  t.is(multi.daemon.node_name, 'worker-7');
  t.false(multi.watch.shared_storage);
});

test('exactly one of database.path and database.url', (t) => {
  const both = problems(base({ path: '/x.db', url: 'postgres://h/db' }));
  t.true(
    both.some((p) => /exactly one of database\.path \(SQLite file\) or database\.url/.test(p)),
    both.join('\n'),
  );
  const none = problems(base({}));
  t.true(
    none.some((p) => /exactly one of database\.path/.test(p)),
    none.join('\n'),
  );
});

test('a bad URL is named without repeating it (it may hold a password)', (t) => {
  for (const [url, want] of [
    ['mysql://u:Secret-1@h/db', /expected a postgres:\/\/ or postgresql:\/\/ URL, got scheme "mysql"/],
    ['not a url Secret-1', /expected a URL such as postgres:\/\/user@host:5432\/dbname/],
    ['postgres:///db', /expected a host/],
  ] as const) {
    const p = problems(base({ url }));
    t.true(
      p.some((x) => x.startsWith('database.url: ') && want.test(x)),
      p.join('\n'),
    );
    t.false(p.join('\n').includes('Secret-1'));
  }
});

test('password_file: resolved like key_file ($CREDENTIALS_DIRECTORY for a bare name); only with a URL; not with a password in the URL', (t) => {
  const cfg = parseConfig(base({ url: 'postgres://bds@h/db', password_file: 'pg-pass' }), '/etc/bds', { CREDENTIALS_DIRECTORY: '/run/credentials/bds' });
  t.is(cfg.database.password_file, '/run/credentials/bds/pg-pass');
  t.is(parseConfig(base({ url: 'postgres://bds@h/db', password_file: 'sub/pg-pass' }), '/etc/bds').database.password_file, '/etc/bds/sub/pg-pass');
  t.true(problems(base({ path: '/x.db', password_file: '/p' })).some((p) => /database\.password_file: only used with database\.url/.test(p)));
  const both = problems(base({ url: 'postgres://bds:Secret-2@h/db', password_file: '/p' }));
  t.true(both.some((p) => /database\.password_file: the URL already carries a password/.test(p)));
  t.false(both.join('\n').includes('Secret-2'));
});

test('daemon.node_name: no control characters, at most 255', (t) => {
  t.true(
    problems(base({ path: '/x.db' }, { daemon: { node_name: 'a\nb' } })).some((p) => /daemon\.node_name: expected a name without control characters/.test(p)),
  );
  t.true(problems(base({ path: '/x.db' }, { daemon: { node_name: 'x'.repeat(256) } })).some((p) => p.startsWith('daemon.node_name:')));
  t.true(problems(base({ path: '/x.db' }, { daemon: { host: 'x' } })).some((p) => /daemon\.host: unknown key/.test(p)));
});
