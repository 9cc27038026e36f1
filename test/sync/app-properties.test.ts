// appProperties that tie a Drive file to its job and row: Drive's 124-byte limit per key + value.
import test from 'ava';
import { fileAppProperties, fitAppProperty } from '../../src/sync/index.js';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

test('fitAppProperty keeps a value that fits, unchanged', (t) => {
  t.is(fitAppProperty('bdsJob', 'job-1'), 'job-1');
  const exact = 'x'.repeat(124 - bytes('bdsJob'));
  t.is(fitAppProperty('bdsJob', exact), exact, 'exactly 124 bytes of key + value is allowed');
});

test('fitAppProperty shortens a long value to ≤ 124 bytes of key + value, with a stable hash suffix', (t) => {
  const long = 'j'.repeat(300);
  const v = fitAppProperty('bdsJob', long);
  t.true(bytes('bdsJob') + bytes(v) <= 124, `${bytes(v)} bytes`);
  t.regex(v, /^j+~[0-9a-f]{16}$/);
  t.is(fitAppProperty('bdsJob', long), v, 'stable');
  t.not(fitAppProperty('bdsJob', 'j'.repeat(299) + 'k'), v, 'different values, different results');
  const over = 'x'.repeat(124 - bytes('bdsJob') + 1);
  const v2 = fitAppProperty('bdsJob', over);
  t.true(bytes('bdsJob') + bytes(v2) <= 124);
  t.not(v2, over);
});

test('fitAppProperty counts UTF-8 bytes, not characters, and never splits a multibyte character', (t) => {
  for (const ch of ['é', '日', '😀']) {
    const long = ch.repeat(100);
    const v = fitAppProperty('bdsJob', long);
    t.true(bytes('bdsJob') + bytes(v) <= 124, `${ch}: ${bytes(v)} bytes`);
    t.false(v.includes('\uFFFD'), 'no replacement character');
    t.is(Buffer.from(v, 'utf8').toString('utf8'), v, 'valid UTF-8 round trip');
    t.false(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(v), 'no lone high surrogate');
    t.regex(v, /~[0-9a-f]{16}$/);
  }
  // Where the byte budget ends right after a high surrogate (the production key, and a 4-byte key).
  for (const [key, value] of [
    ['bdsJob', 'ab' + '😀'.repeat(40)],
    ['abcd', '😀'.repeat(100)],
  ] as const) {
    const v = fitAppProperty(key, value);
    t.true(bytes(key) + bytes(v) <= 124, `${key}: ${bytes(v)} bytes`);
    t.false(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(v), `${key}: no lone high surrogate in ${JSON.stringify(v)}`);
    t.is(Buffer.from(v, 'utf8').toString('utf8'), v, `${key}: what Drive stores is what we sent`);
  }
  // 60 characters, but 180 bytes: must be shortened although .length looks small.
  const cjk = '日'.repeat(60);
  t.not(fitAppProperty('bdsJob', cjk), cjk);
});

test('fileAppProperties: job (fitted) and row id', (t) => {
  t.deepEqual(fileAppProperties('job-7', 42), { bdsJob: 'job-7', bdsRow: '42' });
  const p = fileAppProperties('日'.repeat(80), 1);
  t.true(bytes('bdsJob') + bytes(p.bdsJob ?? '') <= 124);
});
