import { Writable } from 'node:stream';
import test from 'ava';
import { createLogger, type LogLevel } from '../../src/log/index.js';
import { waitUntil } from '../helpers/poll.js';

function capture() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  const lines = () => text.split('\n').filter((l) => l !== '');
  // winston hands records to the transport asynchronously: poll until they are all there.
  const waitForLines = (n: number) => waitUntil(() => (lines().length >= n ? lines() : null), 5000, `${n} log lines`, 5);
  return { stream, waitForLines };
}

const PRIORITY: Record<LogLevel, number> = { error: 3, warning: 4, notice: 5, info: 6, debug: 7 };

test('journald mode prefixes every line with the syslog priority of its level', async (t) => {
  const { stream, waitForLines } = capture();
  const log = createLogger({ level: 'debug', format: 'text', journald: true, stream });
  for (const level of Object.keys(PRIORITY) as LogLevel[]) log[level](`a ${level} record`, { job: 'j-1' });
  const lines = await waitForLines(5);
  t.deepEqual(lines, [
    '<3>a error record {"job":"j-1"}',
    '<4>a warning record {"job":"j-1"}',
    '<5>a notice record {"job":"j-1"}',
    '<6>a info record {"job":"j-1"}',
    '<7>a debug record {"job":"j-1"}',
  ]);
});

test('multi-line messages and stacks carry the prefix on every line', async (t) => {
  const { stream, waitForLines } = capture();
  const log = createLogger({ level: 'debug', format: 'text', journald: true, stream });
  const err = new Error('upload failed');
  const stackLines = (err.stack ?? '').split('\n').length;
  t.true(stackLines > 2, 'the error has a multi-line stack');
  log.error('upload failed', { stack: err.stack });
  log.warning('first line\nsecond line\nthird line');
  log.debug('dbg one\ndbg two');
  const lines = await waitForLines(stackLines + 5);
  const stackPart = lines.slice(0, stackLines);
  t.is(stackPart[0], '<3>Error: upload failed');
  for (const l of stackPart) t.regex(l, /^<3>/, l);
  t.true(
    stackPart.slice(1).every((l) => /^<3>\s+at /.test(l)),
    'stack frames are error records too',
  );
  t.deepEqual(lines.slice(stackLines), ['<4>first line', '<4>second line', '<4>third line', '<7>dbg one', '<7>dbg two']);
});

test('the level threshold still applies in journald mode', async (t) => {
  const { stream, waitForLines } = capture();
  const log = createLogger({ level: 'warning', format: 'text', journald: true, stream });
  log.debug('hidden');
  log.info('hidden too');
  log.notice('hidden three');
  log.warning('shown');
  log.error('shown too');
  t.deepEqual(await waitForLines(2), ['<4>shown', '<3>shown too']);
});

test('without journald the text format has timestamps and no <N> prefix', async (t) => {
  const { stream, waitForLines } = capture();
  const log = createLogger({ level: 'info', format: 'text', journald: false, stream });
  log.info('plain\nsecond');
  const lines = await waitForLines(2);
  for (const l of lines) {
    t.notRegex(l, /^<\d>/);
    t.regex(l, /^\d{4}-\d\d-\d\dT\S+ info {4}(plain|second)$/);
  }
});

test('JSON lines begin with timestamp, level and message, then the fields; cycles do not throw', (t) => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const log = createLogger({ level: 'info', format: 'json', stream });
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  log.info('uploaded', { job: 'j1', file: 'a.txt', bytes: 3 });
  log.warning('odd', { cyclic, big: 10n });
  t.deepEqual(Object.keys(JSON.parse(lines[0]!) as object), ['timestamp', 'level', 'message', 'job', 'file', 'bytes']);
  t.regex(lines[0]!, /^\{"timestamp":"\d{4}-\d\d-\d\dT[^"]+","level":"info","message":"uploaded",/);
  t.like(JSON.parse(lines[1]!), { level: 'warning', message: 'odd', cyclic: { a: 1, self: '[circular]' }, big: '10' });
});
