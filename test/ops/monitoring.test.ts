// The shipped monitoring assets against a real daemon's /metrics: every metric the alert rules
// and the dashboard use is exposed, the gauges read the database when scraped, and the rules
// parse (promtool check + promtool's rule unit tests when promtool is available; a schema check always).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { REPO, setupE2E } from '../helpers/e2e.js';
import { waitUntil } from '../helpers/poll.js';
import { parsePromText, sampleValue } from './prom-text.js';

const RULES = join(REPO, 'monitoring', 'prometheus', 'batch-drive-sync.rules.yml');
const RULE_TESTS = join(REPO, 'monitoring', 'prometheus', 'batch-drive-sync.rules.test.yml');
const DASHBOARD = join(REPO, 'monitoring', 'grafana', 'batch-drive-sync.json');
// Series Prometheus makes itself, not the daemon.
const PROMETHEUS_OWN = new Set(['up']);

interface Rule {
  alert?: string;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

function ruleExprs(): { name: string; expr: string }[] {
  const doc = parseYaml(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
  return doc.groups.flatMap((g) => g.rules.map((r) => ({ name: r.alert ?? '?', expr: String(r.expr) })));
}

function dashboardExprs(): { name: string; expr: string }[] {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
    templating: { list: { query?: string }[] };
  };
  return [
    ...d.panels.flatMap((p) => p.targets.map((x) => ({ name: p.title, expr: x.expr }))),
    ...d.templating.list.filter((v) => v.query).map((v) => ({ name: 'variable', expr: v.query! })),
  ];
}

/** Metric names in a PromQL expression (identifiers followed by a selector, range or operator; not functions, labels or keywords). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]');
  const words = [...stripped.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((m) => m[1]!);
  const keywords = new Set([
    'sum',
    'min',
    'max',
    'avg',
    'count',
    'stddev',
    'stdvar',
    'topk',
    'bottomk',
    'quantile',
    'count_values',
    'group',
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'and',
    'or',
    'unless',
    'bool',
    'offset',
    'le',
    'instance',
    'job',
    'status',
    'kind',
    'reason',
    'version',
    'node',
    'outcome',
    'label_values',
  ]);
  return [...new Set(words.filter((w) => !keywords.has(w) && !/^\d/.test(w)))];
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('rules and dashboard: every metric they query is one /metrics exposes; gauges read the database when scraped', async (t) => {
  const port = await freePort();
  const e = await setupE2E(t, { extraYaml: `metrics: { listen: "127.0.0.1:${port}" }` });
  await e.addJob('mon');
  e.writeFile('mon', 'a.txt', 'a');
  const d = await e.startedDaemon();
  const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  await waitUntil(async () => sampleValue(parsePromText(await scrape()), 'bds_files_uploaded_total') === 1, 20_000, 'one upload');

  // Rows written by another program (a job that is not Drive-enabled: the daemon never uploads
  // them) show up at the next scrape, with no upload pass in between.
  await e.addJob('other', { enabled: false });
  await e.sql(
    `INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename, upload_status, local_size, next_attempt_at, created_at)
     VALUES ('other', 'x1', 'pending', 1000, 0, datetime('now', '-600 seconds')), ('other', 'x2', 'pending', 2000, 0, CURRENT_TIMESTAMP), ('other', 'x3', 'failed', 5, 0, CURRENT_TIMESTAMP)`,
  );
  const text = await scrape();
  const s = parsePromText(text);
  t.is(sampleValue(s, 'bds_rows', { status: 'pending' }), 2);
  t.is(sampleValue(s, 'bds_rows', { status: 'failed' }), 1);
  t.is(sampleValue(s, 'bds_rows', { status: 'uploaded' }), 1);
  t.is(sampleValue(s, 'bds_pending_bytes'), 3000);
  const age = sampleValue(s, 'bds_oldest_pending_age_seconds');
  t.true(age >= 599 && age < 3600, `oldest pending age ${age}`);
  t.is(sampleValue(s, 'bds_uploads_paused', { reason: 'auth' }), 0);
  t.is(sampleValue(s, 'bds_database_up'), 1);
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
  t.is(sampleValue(s, 'bds_build_info', { version: pkg.version, node: process.versions.node }), 1);
  t.is(sampleValue(s, 'bds_files_failed_total', { kind: 'auth' }), 0, 'counters are there at 0');

  const families = new Set(
    [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap((m) => (m[2] === 'histogram' ? [m[1]!, `${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]!])),
  );
  const used = [...ruleExprs(), ...dashboardExprs()];
  t.true(used.length >= 15, `${used.length} queries`);
  const unknown = used.flatMap((u) =>
    metricNames(u.expr)
      .filter((n) => !families.has(n) && !PROMETHEUS_OWN.has(n))
      .map((n) => `${u.name}: ${n}`),
  );
  t.deepEqual(unknown, [], 'metrics used by rules or dashboard but not exposed');
  t.true(
    used.some((u) => metricNames(u.expr).includes('bds_upload_duration_seconds_bucket')),
    'the name extraction sees histogram buckets',
  );
  d.kill('SIGTERM');
  t.is((await d.exited).code, 0);
});

test('alert rules: the alerts the docs describe, each with severity, summary and description; promtool checks and unit-tests them when available', (t) => {
  const doc = parseYaml(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
  const rules = doc.groups.flatMap((g) => g.rules);
  t.deepEqual(
    rules.map((r) => r.alert),
    [
      'BatchDriveSyncDown',
      'BatchDriveSyncFilesFailed',
      'BatchDriveSyncAuthPaused',
      'BatchDriveSyncDailyCap',
      'BatchDriveSyncQueueNotDraining',
      'BatchDriveSyncScanStale',
      'BatchDriveSyncDatabaseUnreadable',
    ],
  );
  for (const r of rules) {
    t.true(typeof r.expr === 'string' && r.expr.length > 0, `${r.alert}: expr`);
    t.regex(String(r.for), /^\d+[smh]$/, `${r.alert}: for`);
    t.true(['warning', 'critical'].includes(String(r.labels?.severity)), `${r.alert}: severity`);
    t.true(typeof r.annotations?.summary === 'string' && typeof r.annotations.description === 'string', `${r.alert}: annotations`);
    t.is(String(r.expr).split('(').length, String(r.expr).split(')').length, `${r.alert}: balanced parentheses`);
  }
  const docs = readFileSync(join(REPO, 'docs', 'operations.md'), 'utf8');
  for (const r of rules) t.true(docs.includes(r.alert!), `docs/operations.md describes ${r.alert}`);

  const promtool = process.env.PROMTOOL || spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim() || null;
  if (promtool) {
    const check = spawnSync(promtool, ['check', 'rules', RULES], { encoding: 'utf8' });
    t.is(check.status, 0, check.stdout + check.stderr);
    t.regex(check.stdout, /SUCCESS: 7 rules found/);
    const unit = spawnSync(promtool, ['test', 'rules', RULE_TESTS], { encoding: 'utf8', cwd: join(REPO, 'monitoring', 'prometheus') });
    t.is(unit.status, 0, unit.stdout + unit.stderr);
  } else t.log("promtool not found (set PROMTOOL or install Debian's prometheus package): schema check only");
});

test('dashboard: Grafana JSON with an importable Prometheus datasource input, unique panel ids, a query per panel', (t) => {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    __inputs: { name: string; pluginId: string }[];
    uid: string;
    schemaVersion: number;
    panels: { id: number; title: string; type: string; gridPos: { x: number; y: number; w: number; h: number }; targets: { expr: string; refId: string }[] }[];
  };
  t.deepEqual(
    d.__inputs.map((i) => [i.name, i.pluginId]),
    [['DS_PROMETHEUS', 'prometheus']],
  );
  t.is(d.uid, 'batch-drive-sync');
  t.true(d.schemaVersion >= 36);
  t.is(new Set(d.panels.map((p) => p.id)).size, d.panels.length);
  for (const p of d.panels) {
    t.true(p.targets.length > 0 && p.targets.every((x) => x.expr.length > 0), p.title);
    t.true(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the 24-column grid`);
  }
  t.deepEqual(metricNames('sum by (le) (rate(bds_upload_duration_seconds_bucket{job="x", le="0.5"}[5m]))'), ['bds_upload_duration_seconds_bucket']);
  t.deepEqual(metricNames('time() - bds_last_scan_timestamp_seconds > 600'), ['bds_last_scan_timestamp_seconds']);
});
