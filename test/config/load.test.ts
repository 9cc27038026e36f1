import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/index.js';
import { makeTempDir } from '../helpers/db.js';
import { repoRoot } from '../helpers/paths.js';

const ROOT = repoRoot();

const MINIMAL = `
database: { path: /var/lib/batch/batch.db }
watch: { output_dir: /var/lib/batch/output }
drive: { root_folder_id: "root-123" }
auth: { type: service_account, key_file: /etc/batch-drive-sync/sa.json }
`;

/** Writes `yaml` as config.yaml in a fresh temp dir; returns its path. */
function writeConfig(t: ExecutionContext, yaml: string, name = 'config.yaml'): string {
  const path = join(makeTempDir(t, 'bds-config-'), name);
  writeFileSync(path, yaml);
  return path;
}

/** Loads `yaml` and returns the ConfigError's problems (fails the test if it loads). */
function problemsOf(t: ExecutionContext, yaml: string): readonly string[] {
  const path = writeConfig(t, yaml);
  const err = t.throws(() => loadConfig(path, {}), { instanceOf: ConfigError });
  t.truthy(err, 'expected a ConfigError');
  const prefixes = [`${path}: `, `config file ${path}: `];
  for (const p of err?.problems ?? [])
    t.true(
      prefixes.some((x) => p.startsWith(x)),
      `problem names the file: ${p}`,
    );
  t.is(err?.message, err?.problems.join('\n'));
  return (err?.problems ?? []).map((p) => p.slice((prefixes.find((x) => p.startsWith(x)) ?? '').length));
}

test('defaults are filled as the README documents them', (t) => {
  const cfg = loadConfig(writeConfig(t, MINIMAL), {});
  t.deepEqual(cfg, {
    database: {
      path: '/var/lib/batch/batch.db',
      busy_timeout_ms: 5000,
      final_job_statuses: ['completed', 'failed'],
      pool_size: 4,
      connect_timeout_ms: 10000,
    },
    daemon: { node_name: null },
    watch: { output_dir: '/var/lib/batch/output', enabled: true, stability_ms: 2000, ignore: ['**/*.tmp', '**/*.part', '**/.*'], shared_storage: true },
    schedule: { scan_cron: '*/1 * * * *', full_scan_cron: '*/15 * * * *' },
    drive: {
      api_endpoint: 'https://www.googleapis.com',
      root_folder_id: 'root-123',
      shared_drive_id: null,
      folder_pattern: 'batch/{yyyy}-{mm}-{dd}/{job_id}',
      ca_file: null,
      allow_insecure_endpoint: false,
    },
    auth: {
      type: 'service_account',
      key_file: '/etc/batch-drive-sync/sa.json',
      subject: null,
      scopes: ['https://www.googleapis.com/auth/drive'],
    },
    upload: {
      concurrency: 4,
      max_attempts: 8,
      backoff_base_ms: 1000,
      backoff_max_ms: 300000,
      resumable_threshold_bytes: 8388608,
      chunk_size_bytes: 8388608,
      lease_ms: 120000,
      drain_timeout_ms: 75000,
    },
    log: { level: 'info', format: 'text' },
    metrics: { listen: null },
  });
});

test('a partly given section keeps the defaults of the keys it leaves out', (t) => {
  const cfg = loadConfig(writeConfig(t, `${MINIMAL}\nupload: { concurrency: 2 }\nschedule: {}\nlog: { format: json }\n`), {});
  t.like(cfg.upload, { concurrency: 2, max_attempts: 8, chunk_size_bytes: 8388608, lease_ms: 120000 });
  t.is(cfg.schedule.scan_cron, '*/1 * * * *');
  t.deepEqual(cfg.log, { level: 'info', format: 'json' });
});

test('unknown key at the top level and nested: named with its path', (t) => {
  t.deepEqual(problemsOf(t, `${MINIMAL}\nfoo: 1\n`), [
    'foo: unknown key; expected one of database, daemon, watch, schedule, drive, auth, upload, log, metrics',
  ]);
  t.deepEqual(problemsOf(t, MINIMAL.replace('busy_timeout', 'x').replace('{ path:', '{ pth: x, path:')), [
    'database.pth: unknown key (did you mean database.path?)',
  ]);
  t.deepEqual(problemsOf(t, `${MINIMAL}\nupload: { concurency: 4 }\n`), ['upload.concurency: unknown key (did you mean upload.concurrency?)']);
  t.deepEqual(problemsOf(t, MINIMAL.replace('key_file:', 'keyfile: x, key_file:')), ['auth.keyfile: unknown key (did you mean auth.key_file?)']);
  t.deepEqual(problemsOf(t, `${MINIMAL}\nmetric: { listen: null }\n`), ['metric: unknown key (did you mean metrics?)']);
});

test('wrong type: named with its path and what was expected', (t) => {
  const [p] = problemsOf(t, `${MINIMAL}\nupload: { concurrency: four }\n`);
  t.is(p, 'upload.concurrency: expected a number, got the text "four"');
  const [q] = problemsOf(t, MINIMAL.replace('watch: { output_dir: /var/lib/batch/output }', 'watch: { output_dir: /o, enabled: "yes" }'));
  t.is(q, 'watch.enabled: expected a boolean, got the text "yes"');
  const [r] = problemsOf(t, `${MINIMAL}\nupload: { max_attempts: -1 }\n`);
  t.regex(r ?? '', /^upload\.max_attempts: /);
  const [s] = problemsOf(t, MINIMAL.replace('{ path: /var/lib/batch/batch.db }', '{ path: /x, final_job_statuses: completed }'));
  t.is(s, 'database.final_job_statuses: expected a list, got the text "completed"');
});

test('bad cron in schedule.scan_cron', (t) => {
  const [p, ...rest] = problemsOf(t, `${MINIMAL}\nschedule: { scan_cron: "61 * * * *" }\n`);
  t.deepEqual(rest, []);
  t.is(p, 'schedule.scan_cron: expected a cron expression such as "*/1 * * * *": minute field "61": 61 is out of range (allowed 0-59)');
  // node-cron itself accepts a step larger than the field: refused here.
  t.deepEqual(problemsOf(t, `${MINIMAL}\nschedule: { scan_cron: "*/61 * * * *" }\n`), [
    'schedule.scan_cron: expected a cron expression such as "*/1 * * * *": minute field "*/61": step /61 is outside 1-60 (allowed 0-59)',
  ]);
  t.regex(problemsOf(t, `${MINIMAL}\nschedule: { scan_cron: "0 0 32 * *" }\n`)[0] ?? '', /day of month field "32": 32 is out of range/);
  t.is(loadConfig(writeConfig(t, `${MINIMAL}\nschedule: { scan_cron: "*/5 8-18 * jan-mar mon-fri" }\n`), {}).schedule.scan_cron, '*/5 8-18 * jan-mar mon-fri');
  t.regex(problemsOf(t, `${MINIMAL}\nschedule: { scan_cron: "every minute" }\n`)[0] ?? '', /^schedule\.scan_cron: /);
});

test('missing required key drive.root_folder_id', (t) => {
  t.deepEqual(
    problemsOf(t, MINIMAL.replace('drive: { root_folder_id: "root-123" }', 'drive: { shared_drive_id: null }')).map((p) => p.replace(/ \(.*\)$/, '')),
    ['drive.root_folder_id: required key is missing'],
  );
  const [p] = problemsOf(t, MINIMAL.replace('drive: { root_folder_id: "root-123" }', ''));
  t.regex(p ?? '', /^drive: required key is missing/);
});

test('several problems are reported together', (t) => {
  const problems = problemsOf(t, `${MINIMAL.replace('root_folder_id: "root-123"', 'root_folder_id: ""')}\nfoo: 1\nupload: { chunk_size_bytes: 1000 }\n`);
  t.is(problems.length, 3);
  t.true(problems.some((p) => p.startsWith('foo: unknown key')));
  t.true(problems.some((p) => p.startsWith('drive.root_folder_id: ')));
  t.true(problems.some((p) => p.startsWith('upload.chunk_size_bytes: ')));
});

test('unreadable file: a path that does not exist, and a directory', (t) => {
  const dir = makeTempDir(t, 'bds-config-');
  const missing = join(dir, 'nope.yaml');
  const e1 = t.throws(() => loadConfig(missing, {}), { instanceOf: ConfigError });
  t.is(e1?.problems.length, 1);
  t.true(e1?.problems[0]?.includes(missing));
  t.regex(e1?.problems[0] ?? '', /ENOENT/);
  t.regex(e1?.problems[0] ?? '', /expected a readable YAML file/);

  const e2 = t.throws(() => loadConfig(dir, {}), { instanceOf: ConfigError });
  t.true(e2?.problems[0]?.includes(dir));
  t.regex(e2?.problems[0] ?? '', /EISDIR/);
});

test('invalid YAML names the file', (t) => {
  const problems = problemsOf(t, 'database: { path: [unclosed\nwatch: : :\n');
  t.is(problems.length, 1);
  t.regex(problems[0] ?? '', /^invalid YAML/);
});

test('YAML that is not a mapping, or empty', (t) => {
  t.regex(problemsOf(t, '- a\n- b\n')[0] ?? '', /expected a YAML mapping/);
  t.regex(problemsOf(t, '42\n')[0] ?? '', /expected a YAML mapping/);
  // An empty file is a mapping with every required key missing.
  const empty = problemsOf(t, '');
  t.true(empty.some((p) => p.startsWith('database: required key is missing')));
  t.true(empty.some((p) => p.startsWith('auth')));
});

test('unknown pattern token {foo} in drive.folder_pattern', (t) => {
  const [p, ...rest] = problemsOf(t, MINIMAL.replace('root_folder_id: "root-123"', 'root_folder_id: r, folder_pattern: "batch/{foo}/{job_id}"'));
  t.deepEqual(rest, []);
  t.regex(p ?? '', /^drive\.folder_pattern: /);
  t.true(p?.includes('{foo}'));
  t.true(p?.includes('{job_id}'), 'says what is expected');
});

test('chunk size must be a multiple of 256 KiB', (t) => {
  t.deepEqual(problemsOf(t, `${MINIMAL}\nupload: { chunk_size_bytes: 300000 }\n`), [
    'upload.chunk_size_bytes: expected a multiple of 262144 (256 KiB), as Drive requires',
  ]);
  const cfg = loadConfig(writeConfig(t, `${MINIMAL}\nupload: { chunk_size_bytes: 524288 }\n`), {});
  t.is(cfg.upload.chunk_size_bytes, 524288);
});

test('other bad values: auth type, log level, metrics listen, api_endpoint', (t) => {
  t.is(
    problemsOf(t, MINIMAL.replace('type: service_account', 'type: password'))[0],
    'auth.type: expected one of service_account, oauth, got the text "password"',
  );
  t.is(
    problemsOf(t, MINIMAL.replace('type: service_account', 'type: oaut'))[0],
    'auth.type: expected one of service_account, oauth, got the text "oaut" (did you mean oauth?)',
  );
  t.false(
    problemsOf(t, MINIMAL.replace('type: service_account', 'type: password')).some((p) => /Invalid|discriminator/.test(p)),
    'no zod wording',
  );
  const oauth = problemsOf(t, MINIMAL.replace('auth: { type: service_account, key_file: /etc/batch-drive-sync/sa.json }', 'auth: { type: oauth }'));
  t.deepEqual(oauth.map((p) => p.split(':')[0]).sort(), ['auth.client_id', 'auth.client_secret', 'auth.refresh_token_file']);
  t.regex(
    problemsOf(t, `${MINIMAL}\nlog: { level: loud }\n`)[0] ?? '',
    /^log\.level: expected one of error, warning, notice, info, debug, got the text "loud"$/,
  );
  t.regex(problemsOf(t, `${MINIMAL}\nlog: { level: warn }\n`)[0] ?? '', /\(did you mean warning\?\)$/);
  t.regex(problemsOf(t, `${MINIMAL}\nmetrics: { listen: "9464" }\n`)[0] ?? '', /^metrics\.listen: expected host:port/);
  t.regex(problemsOf(t, MINIMAL.replace('root_folder_id: "root-123"', 'root_folder_id: r, api_endpoint: "not a url"'))[0] ?? '', /^drive\.api_endpoint: /);
});

test('metrics.listen: a port outside 1-65535 or an unparseable host:port is rejected naming the key', (t) => {
  const bad: [string, RegExp][] = [
    ['127.0.0.1:0', /port 0 is outside 1-65535/],
    ['127.0.0.1:65536', /port 65536 is outside 1-65535/],
    ['127.0.0.1:99999', /port 99999 is outside 1-65535/],
    ['[::1]:70000', /port 70000 is outside/],
    ['127.0.0.1:', /expected host:port/],
    [':9464', /expected host:port/],
    ['127.0.0.1:94a4', /expected host:port/],
    ['host name:9464', /expected host:port/],
    ['[not-v6]:9464', /expected host:port/],
    ['[1.2.3.4]:9464', /is not an IPv6 address/],
    ['-bad-.example:9464', /expected host:port/],
  ];
  for (const [listen, why] of bad) {
    const p = problemsOf(t, `${MINIMAL}\nmetrics: { listen: ${JSON.stringify(listen)} }\n`);
    t.is(p.length, 1, `${listen}: ${p.join('; ')}`);
    t.regex(p[0] ?? '', /^metrics\.listen: /, listen);
    t.regex(p[0] ?? '', why, listen);
  }
  for (const ok of ['127.0.0.1:9464', '[::1]:1', 'metrics.example.com:65535', 'localhost:9464']) {
    t.is(loadConfig(writeConfig(t, `${MINIMAL}\nmetrics: { listen: ${JSON.stringify(ok)} }\n`), {}).metrics.listen, ok);
  }
});

test('drive.api_endpoint: plain http is refused off loopback unless allow_insecure_endpoint; loopback and https pass', (t) => {
  const withEndpoint = (url: string, extra = '') =>
    MINIMAL.replace('drive: { root_folder_id: "root-123" }', `drive: { root_folder_id: "root-123", api_endpoint: ${JSON.stringify(url)}${extra} }`);
  for (const url of ['http://drive-proxy.example', 'http://10.0.0.5:8089', 'http://[2001:db8::1]:8089', 'http://128.0.0.1', 'http://localhost.example.com']) {
    const p = problemsOf(t, withEndpoint(url));
    t.is(p.length, 1, p.join('; '));
    t.regex(
      p[0] ?? '',
      /^drive\.api_endpoint: plain http:\/\/ to .* unencrypted; expected https:\/\/, a loopback address .*drive\.allow_insecure_endpoint: true/,
      url,
    );
    t.is(loadConfig(writeConfig(t, withEndpoint(url, ', allow_insecure_endpoint: true')), {}).drive.api_endpoint, url.replace(/\/$/, ''));
  }
  for (const url of [
    'http://127.0.0.1:8089',
    'http://127.5.6.7',
    'http://[::1]:8089',
    'http://localhost:8089',
    'https://drive-proxy.example',
    'https://www.googleapis.com',
  ]) {
    t.is(loadConfig(writeConfig(t, withEndpoint(url)), {}).drive.api_endpoint, url, url);
  }
  t.regex(problemsOf(t, withEndpoint('ftp://files.example'))[0] ?? '', /^drive\.api_endpoint: expected an https:\/\/ URL, got ftp:/);
  t.regex(problemsOf(t, withEndpoint('https://user:pw@drive.example'))[0] ?? '', /^drive\.api_endpoint: expected no user:password/);
  t.regex(problemsOf(t, withEndpoint('https://drive.example/?key=1'))[0] ?? '', /^drive\.api_endpoint: expected no \?query/);
  t.regex(problemsOf(t, withEndpoint('http://10.0.0.5', ', allow_insecure_endpoint: "yes"'))[0] ?? '', /^drive\.allow_insecure_endpoint: /);
});

test("relative paths are resolved against the config file's directory", (t) => {
  const path = writeConfig(
    t,
    `
database: { path: data/batch.db }
watch: { output_dir: ../output }
drive: { root_folder_id: r }
auth: { type: service_account, key_file: keys/sa.json }
`,
  );
  const dir = dirname(path);
  const cfg = loadConfig(path, {});
  t.is(cfg.database.path, join(dir, 'data/batch.db'));
  t.is(cfg.watch.output_dir, join(dir, '..', 'output'));
  t.is(cfg.auth.type === 'service_account' ? cfg.auth.key_file : '', join(dir, 'keys/sa.json'));

  const oauth = loadConfig(
    writeConfig(
      t,
      MINIMAL.replace(
        'auth: { type: service_account, key_file: /etc/batch-drive-sync/sa.json }',
        'auth: { type: oauth, client_id: c, client_secret: s, refresh_token_file: token }',
      ),
    ),
    {},
  );
  t.true(oauth.auth.type === 'oauth' && oauth.auth.refresh_token_file.endsWith('/token') && oauth.auth.refresh_token_file.startsWith('/'));

  // A relative config path: resolved against the directory of the file, not the cwd.
  const relPath = relative(process.cwd(), path);
  t.false(isAbsolute(relPath));
  t.is(loadConfig(relPath, {}).database.path, join(dir, 'data/batch.db'));
});

test('key_file: a bare name is looked up in $CREDENTIALS_DIRECTORY; paths are not', (t) => {
  const path = writeConfig(t, MINIMAL.replace('key_file: /etc/batch-drive-sync/sa.json', 'key_file: gdrive-sa.json'));
  const dir = dirname(path);
  const keyFile = (yamlPath: string, env: { CREDENTIALS_DIRECTORY?: string }) => {
    const c = loadConfig(yamlPath, env);
    return c.auth.type === 'service_account' ? c.auth.key_file : null;
  };
  t.is(keyFile(path, { CREDENTIALS_DIRECTORY: '/run/credentials/batch-drive-sync.service' }), '/run/credentials/batch-drive-sync.service/gdrive-sa.json');
  t.is(keyFile(path, {}), join(dir, 'gdrive-sa.json'), 'without systemd credentials: next to the config');
  t.is(keyFile(path, { CREDENTIALS_DIRECTORY: '' }), join(dir, 'gdrive-sa.json'));

  const withDir = writeConfig(t, MINIMAL.replace('key_file: /etc/batch-drive-sync/sa.json', 'key_file: ./keys/sa.json'));
  t.is(keyFile(withDir, { CREDENTIALS_DIRECTORY: '/run/credentials/x' }), join(dirname(withDir), 'keys/sa.json'));
  t.is(keyFile(writeConfig(t, MINIMAL), { CREDENTIALS_DIRECTORY: '/run/credentials/x' }), '/etc/batch-drive-sync/sa.json');
});

test('api_endpoint loses its trailing slash', (t) => {
  const cfg = loadConfig(writeConfig(t, MINIMAL.replace('root_folder_id: "root-123"', 'root_folder_id: r, api_endpoint: "http://127.0.0.1:4555/"')), {});
  t.is(cfg.drive.api_endpoint, 'http://127.0.0.1:4555');
});

test('the returned config is frozen, all the way down', (t) => {
  const cfg = loadConfig(writeConfig(t, MINIMAL), {});
  t.true(Object.isFrozen(cfg));
  for (const section of Object.values(cfg)) t.true(Object.isFrozen(section));
  t.true(Object.isFrozen(cfg.watch.ignore));
  t.true(Object.isFrozen(cfg.database.final_job_statuses));
  t.throws(
    () => {
      (cfg.upload as { concurrency: number }).concurrency = 99;
    },
    { instanceOf: TypeError },
  );
  t.throws(
    () => {
      (cfg.watch.ignore as string[]).push('x');
    },
    { instanceOf: TypeError },
  );
  // A second load is independent and unaffected by the first one's freezing.
  const again = loadConfig(writeConfig(t, `${MINIMAL}\nupload: { concurrency: 3 }\n`), {});
  t.is(again.upload.concurrency, 3);
  t.is(cfg.upload.concurrency, 4);
});

test('parseConfig validates an object without a file: problems carry no file prefix', (t) => {
  const err = t.throws(() => parseConfig({ database: { path: 'x', bogus: 1 } }, '/base', {}), { instanceOf: ConfigError });
  t.true(err?.problems.some((p) => p.startsWith('database.bogus: unknown key')));
  const ok = parseConfig(
    { database: { path: 'db.sqlite' }, watch: { output_dir: 'out' }, drive: { root_folder_id: 'r' }, auth: { type: 'service_account', key_file: 'k.json' } },
    '/base',
    {},
  );
  t.is(ok.database.path, '/base/db.sqlite');
  t.is(ok.watch.output_dir, '/base/out');
});

test('config/batch-drive-sync.example.yaml is accepted by loadConfig', (t) => {
  const path = join(ROOT, 'config', 'batch-drive-sync.example.yaml');
  const cfg = loadConfig(path, {});
  t.is(cfg.auth.type, 'service_account');
  t.is(cfg.auth.type === 'service_account' ? cfg.auth.key_file : '', join(ROOT, 'config', 'gdrive-sa.json'));
  t.is(cfg.drive.folder_pattern, 'batch/{yyyy}-{mm}-{dd}/{job_id}');
  // With systemd credentials, the example's bare key_file name resolves there.
  const sd = loadConfig(path, { CREDENTIALS_DIRECTORY: '/run/credentials/batch-drive-sync.service' });
  t.is(sd.auth.type === 'service_account' ? sd.auth.key_file : '', '/run/credentials/batch-drive-sync.service/gdrive-sa.json');
});

test('loadConfig reads CREDENTIALS_DIRECTORY from process.env by default', (t) => {
  const dir = makeTempDir(t, 'bds-config-');
  mkdirSync(join(dir, 'etc'));
  const path = join(dir, 'etc', 'config.yaml');
  writeFileSync(path, MINIMAL.replace('key_file: /etc/batch-drive-sync/sa.json', 'key_file: sa.json'));
  const before = process.env.CREDENTIALS_DIRECTORY;
  process.env.CREDENTIALS_DIRECTORY = '/run/credentials/test';
  t.teardown(() => {
    if (before === undefined) delete process.env.CREDENTIALS_DIRECTORY;
    else process.env.CREDENTIALS_DIRECTORY = before;
  });
  const cfg = loadConfig(path);
  t.is(cfg.auth.type === 'service_account' ? cfg.auth.key_file : '', '/run/credentials/test/sa.json');
});
