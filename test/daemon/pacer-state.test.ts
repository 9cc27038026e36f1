// The learned write rate in the state directory: real files in a temp dir.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { pacerStateStore, stateDirectory } from '../../src/daemon/pacer-state.js';
import { captureLogger } from '../helpers/drive.js';
import { makeClock, makeTempDir } from '../helpers/db.js';

const snap = { ratePerSec: 9.5, slowStart: false, recoverToPerSec: 9.7 };

test('saved and loaded back; unchanged snapshots are not rewritten', (t) => {
  const dir = makeTempDir(t);
  const clock = makeClock();
  const log = captureLogger();
  const a = pacerStateStore(dir, log.logger, clock.now);
  t.is(a.load(), null, 'nothing saved yet');
  a.save(snap);
  const file = join(dir, 'pacer.json');
  t.like(JSON.parse(readFileSync(file, 'utf8')), { ...snap, savedAt: clock.now() });
  clock.advance(5000);
  a.save(snap);
  t.is((JSON.parse(readFileSync(file, 'utf8')) as { savedAt: number }).savedAt, clock.now() - 5000, 'same rate: not written again');
  t.deepEqual(pacerStateStore(dir, log.logger, clock.now).load(), snap);
  t.regex(log.text(), /write rate restored/);
});

test('a rate saved more than a day ago, or in the future, is not used', (t) => {
  const dir = makeTempDir(t);
  const clock = makeClock();
  const log = captureLogger();
  pacerStateStore(dir, log.logger, clock.now).save(snap);
  clock.advance(24 * 3_600_000 + 1);
  t.is(pacerStateStore(dir, log.logger, clock.now).load(), null);
  clock.set(clock.now() - 2 * 24 * 3_600_000);
  t.is(pacerStateStore(dir, log.logger, clock.now).load(), null);
});

test('garbage in the file is ignored with a warning naming it; wrong types are ignored', (t) => {
  const dir = makeTempDir(t);
  const clock = makeClock();
  const log = captureLogger();
  writeFileSync(join(dir, 'pacer.json'), '{not json');
  t.is(pacerStateStore(dir, log.logger, clock.now).load(), null);
  const warned = log.lines().find((l) => l.level === 'warning' && /saved write rate unreadable/.test(l.message));
  t.truthy(warned, log.text());
  t.regex(JSON.stringify(warned), /pacer\.json/, 'the warning names the file');
  writeFileSync(join(dir, 'pacer.json'), JSON.stringify({ ratePerSec: '9', slowStart: false, recoverToPerSec: 1, savedAt: clock.now() }));
  t.is(pacerStateStore(dir, log.logger, clock.now).load(), null);
});

test('a state directory that cannot be written: one warning, no throw', (t) => {
  // A file where the directory should be: fails for root too (a read-only mode would not).
  const dir = join(makeTempDir(t), 'not-a-dir');
  writeFileSync(dir, '');
  const log = captureLogger();
  const s = pacerStateStore(dir, log.logger, makeClock().now);
  s.save(snap);
  s.save({ ...snap, ratePerSec: 8 });
  t.is(log.text().match(/cannot save the learned write rate/g)?.length, 1);
});

test('STATE_DIRECTORY: the first of a colon-separated list; unset means nothing is kept', (t) => {
  t.is(stateDirectory({ STATE_DIRECTORY: '/var/lib/a:/var/lib/b' }), '/var/lib/a');
  t.is(stateDirectory({}), null);
  const s = pacerStateStore(null, captureLogger().logger, Date.now);
  s.save(snap);
  t.is(s.load(), null);
});
