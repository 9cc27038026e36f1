import test from 'ava';
import { parseFolderPattern, patternColumns, PatternError, renderFolderPattern, sanitizeFolderName } from '../../src/config/index.js';

const AT = new Date('2025-09-12T07:05:09.000Z');
const JOB = { job_id: 'job-42', status: 'completed', total_files: 3, created_at: '2025-09-12 06:00:00', note: null };
const render = (pattern: string, jobId = 'job-42', job: Record<string, unknown> = JOB, now = AT) =>
  renderFolderPattern(parseFolderPattern(pattern), jobId, job, now);

test('every token renders', (t) => {
  t.deepEqual(render('{job_id}/{date}/{yyyy}/{mm}/{dd}/{hh}'), ['job-42', '2025-09-12', '2025', '09', '12', '07']);
  t.deepEqual(render('b-{job.status}-{job.total_files}/{job.created_at}'), ['b-completed-3', '2025-09-12 06:00:00']);
  t.deepEqual(render('batch/{yyyy}-{mm}-{dd}/{job_id}'), ['batch', '2025-09-12', 'job-42']);
  t.deepEqual(render('{ job_id }'), ['job-42'], 'spaces inside braces are allowed');
  t.deepEqual(render('plain'), ['plain']);
});

test('time tokens are UTC whatever the local time zone', (t) => {
  const before = process.env.TZ;
  process.env.TZ = 'Pacific/Kiritimati'; // UTC+14: local date is already the next day
  t.teardown(() => {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  });
  const lateEvening = new Date('2025-12-31T23:30:00.000Z');
  t.is(lateEvening.getDate(), 1, 'the time zone switch took effect');
  t.deepEqual(render('{date}/{yyyy}/{mm}/{dd}/{hh}', 'j', {}, lateEvening), ['2025-12-31', '2025', '12', '31', '23']);
});

test("leading and trailing '/' are ignored, so the batch system's own patterns work unchanged", (t) => {
  t.deepEqual(render('SVG2PPTX-Batches/{date}/batch-{job_id}/'), ['SVG2PPTX-Batches', '2025-09-12', 'batch-job-42']);
  t.deepEqual(render('/SVG2PPTX-Batches/{date}/batch-{job_id}'), ['SVG2PPTX-Batches', '2025-09-12', 'batch-job-42']);
  t.deepEqual(render('//a//b///'), ['a', 'b'], 'empty levels are dropped');
  t.deepEqual(render(' a / b '), ['a', 'b']);
});

test('values are sanitised into one folder name each', (t) => {
  t.deepEqual(render('x/{job_id}', 'a/b'), ['x', 'a_b'], "a '/' in a value does not make a sub-folder");
  t.deepEqual(render('x/{job_id}', 'a\\b'), ['x', 'a_b']);
  t.deepEqual(render('x/{job_id}', 'a\u0000b\nc\u001fd\u007fe'), ['x', 'abcde']);
  t.deepEqual(render('x/{job_id}', '..'), ['x', '_']);
  t.deepEqual(render('x/{job_id}', '.'), ['x', '_']);
  t.deepEqual(render('x/{job.note}'), ['x', '_'], 'null column → empty → placeholder');
  t.deepEqual(render('x/{job_id}', '../../etc'), ['x', '.._.._etc']);
  const long = render('{job_id}', 'j'.repeat(500));
  t.is(long[0]?.length, 200);
});

test('sanitizeFolderName', (t) => {
  t.is(sanitizeFolderName('report 2025'), 'report 2025');
  t.is(sanitizeFolderName('a/b\\c'), 'a_b_c');
  t.is(sanitizeFolderName('\ttab\r\n'), 'tab');
  t.is(sanitizeFolderName(''), '_');
  t.is(sanitizeFolderName('   '), '_');
  t.is(sanitizeFolderName('..'), '_');
  t.is(sanitizeFolderName(' .. '), '_');
  t.is(sanitizeFolderName('a..b'), 'a..b');
  t.is(sanitizeFolderName('ünïcødé ✓'), 'ünïcødé ✓');
  t.is(sanitizeFolderName('x'.repeat(201)), 'x'.repeat(200));
});

test('a very long name is not cut inside a character (no lone surrogate)', (t) => {
  // 199 ASCII + emoji (2 UTF-16 units): a cut at 200 units would leave half of the emoji.
  const s = sanitizeFolderName('a'.repeat(199) + '😀😀');
  t.false(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s), 'well-formed UTF-16');
  t.true(s.length <= 200);
  t.true(s.startsWith('a'.repeat(199)));
});

test('unknown tokens are PatternErrors naming the token', (t) => {
  const e = t.throws(() => parseFolderPattern('batch/{foo}/{job_id}'), { instanceOf: PatternError });
  t.true(e?.message.includes('{foo}'));
  t.true(e?.message.includes('{job_id}'), 'lists what is allowed');
  t.throws(() => parseFolderPattern('{job.}'), { instanceOf: PatternError });
  t.throws(() => parseFolderPattern('{job.1abc}'), { instanceOf: PatternError });
  t.throws(() => parseFolderPattern('{job.a-b}'), { instanceOf: PatternError });
  t.throws(() => parseFolderPattern('{}'), { instanceOf: PatternError });
  t.throws(() => parseFolderPattern('{JOB_ID}'), { instanceOf: PatternError });
  t.throws(() => parseFolderPattern('{job_id'), { instanceOf: PatternError, message: /unbalanced/ });
  t.throws(() => parseFolderPattern('job_id}'), { instanceOf: PatternError, message: /unbalanced/ });
  t.throws(() => parseFolderPattern('/'), { instanceOf: PatternError });
  t.throws(() => parseFolderPattern(''), { instanceOf: PatternError });
});

test('{job.<column>} of a column batch_jobs does not have is a PatternError at render', (t) => {
  const p = parseFolderPattern('batch/{job.x}/{job_id}');
  t.deepEqual(patternColumns(p), ['x']);
  const e = t.throws(() => renderFolderPattern(p, 'job-42', JOB, AT), { instanceOf: PatternError });
  t.regex(e?.message ?? '', /job\.x/);
  t.regex(e?.message ?? '', /no column "x"/);
});

test('prototype names ({job.constructor}, {job.__proto__}, {job.toString} …) are not columns: own properties only', (t) => {
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
    const p = parseFolderPattern(`batch/{job.${name}}`);
    const e = t.throws(() => renderFolderPattern(p, 'job-42', JOB, AT), { instanceOf: PatternError }, name);
    t.regex(e?.message ?? '', new RegExp(`no column "${name}"`), name);
  }
});

test('patternColumns lists the batch_jobs columns a pattern reads, once each', (t) => {
  t.deepEqual(patternColumns(parseFolderPattern('{job.status}/{job.total_files}-{job.status}/{job_id}/{date}')), ['status', 'total_files']);
  t.deepEqual(patternColumns(parseFolderPattern('batch/{date}/{job_id}')), []);
});
