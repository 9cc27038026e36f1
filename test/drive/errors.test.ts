import test from 'ava';
import { classifyDriveError, DriveAuthError, PermanentDriveError, RateLimitError, RetryableDriveError, retryDelayMs } from '../../src/drive/index.js';
import { ROOT_ID, setup, writeRandomFile, type Setup } from '../helpers/drive.js';

async function tryUpload(s: Setup, parentId = ROOT_ID, size = 3000) {
  const [id] = await s.drive.reserveIds(1);
  const p = await writeRandomFile(s.dir, `e-${id}.bin`, size);
  return s.drive.upload({ fileId: id!, name: 'e.bin', parentId, file: await s.open(p), appProperties: {}, mode: 'create' });
}

test('emulator 5xx -> RetryableDriveError with status and reason', async (t) => {
  const s = await setup(t);
  await s.drive.reserveIds(5);
  s.emu.setFaults({ error5xxRate: 1 });
  const e = await t.throwsAsync(tryUpload(s));
  t.true(e instanceof RetryableDriveError);
  t.like(e, { kind: 'retryable', retryable: true, reason: 'backendError' });
  t.true([500, 503].includes((e as RetryableDriveError).status ?? 0));
  t.regex(e?.message ?? '', /^Drive 50[03] backendError: /);
});

test('connection reset -> retryable', async (t) => {
  const s = await setup(t);
  await s.drive.reserveIds(5);
  s.emu.setFaults({ resetRate: 1, seed: 3 });
  const e = await t.throwsAsync<RetryableDriveError>(s.drive.ensureFolderPath(ROOT_ID, ['r']));
  t.true(e instanceof RetryableDriveError, String(e));
  t.is(e?.kind, 'retryable');
  t.is((e as RetryableDriveError).status, undefined);
});

test('403 / 429 rate limit -> RateLimitError (after bounded local retries)', async (t) => {
  for (const status of [403, 429] as const) {
    const s = await setup(t, { client: { maxRateLimitRetries: 1 } });
    const folder = await s.drive.ensureFolderPath(ROOT_ID, ['rl']); // uses the one-token bucket below
    await s.drive.reserveIds(5);
    s.emu.setFaults({ writeQuotaPerSec: 0.001, rateLimitStatus: status });
    await s.drive.ensureFolderPath(folder, ['takes-the-token']);
    const e = await t.throwsAsync(tryUpload(s, folder));
    t.true(e instanceof RateLimitError, String(e));
    t.like(e, { kind: 'rate_limit', retryable: true, status, reason: status === 403 ? 'userRateLimitExceeded' : 'rateLimitExceeded' });
    t.is(s.emu.stats().rejectedRateLimit, 2, 'first try + one local retry');
  }
});

test('storage quota -> permanent, readable message', async (t) => {
  const s = await setup(t, { emulator: { faults: { storageQuotaBytes: 100 } } });
  const e = await t.throwsAsync(tryUpload(s));
  t.true(e instanceof PermanentDriveError);
  t.is(e?.message, "Drive 403 storageQuotaExceeded: The user's Drive storage quota has been exceeded.");
  t.like(e, { kind: 'permanent', retryable: false, status: 403, reason: 'storageQuotaExceeded' });
});

test('missing parent -> permanent notFound', async (t) => {
  const s = await setup(t);
  const e = await t.throwsAsync(tryUpload(s, 'no-such-parent'));
  t.true(e instanceof PermanentDriveError);
  t.like(e, { kind: 'permanent', status: 404, reason: 'notFound' });
  const big = await t.throwsAsync(tryUpload(s, 'no-such-parent', 1024 * 1024 + 1));
  t.like(big, { kind: 'permanent', status: 404 });
});

test('classifyDriveError normalises gaxios-like, socket and abort errors; keeps no headers', (t) => {
  const gaxiosLike = Object.assign(new Error('Request failed'), {
    config: {
      method: 'POST',
      url: 'https://www.googleapis.com/upload/drive/v3/files?uploadType=multipart&access_token=ya29.SECRET',
      headers: { Authorization: 'Bearer ya29.SECRETTOKEN' },
    },
    response: {
      status: 403,
      headers: new Headers({ 'retry-after': '7' }),
      data: {
        error: {
          code: 403,
          message: 'User rate limit exceeded.',
          errors: [{ domain: 'usageLimits', reason: 'userRateLimitExceeded', message: 'User rate limit exceeded.' }],
        },
      },
    },
  });
  const c = classifyDriveError(gaxiosLike);
  t.true(c instanceof RateLimitError);
  t.is(c.message, 'Drive 403 userRateLimitExceeded: User rate limit exceeded.');
  t.is(c.retryAfterMs, 7000);
  const all = JSON.stringify(c) + String((c.cause as Error).message) + c.stack;
  t.false(all.includes('SECRET'));
  t.regex((c.cause as Error).message, /POST https:\/\/www\.googleapis\.com\/upload\/drive\/v3\/files\?uploadType=multipart/);

  const token = classifyDriveError({ response: { status: 400, data: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' } } });
  t.true(token instanceof DriveAuthError);
  t.is(token.message, 'Drive 400 invalid_grant: Token has been expired or revoked.');

  const sock = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  t.like(classifyDriveError(sock), { kind: 'retryable', reason: 'ECONNRESET' });
  t.like(classifyDriveError(new Error('socket hang up')), { kind: 'retryable', reason: 'socket hang up' });
  t.like(classifyDriveError(Object.assign(new Error('x'), { cause: Object.assign(new Error('y'), { code: 'ETIMEDOUT' }) })), {
    kind: 'retryable',
    reason: 'ETIMEDOUT',
  });
  t.like(classifyDriveError(new DOMException('This operation was aborted', 'AbortError')), { kind: 'retryable', reason: 'aborted' });
  t.like(classifyDriveError({ response: { status: 400, data: { error: { message: 'Bad', errors: [{ reason: 'badRequest' }] } } } }), {
    kind: 'permanent',
    reason: 'badRequest',
  });
  t.like(classifyDriveError({ response: { status: 503, data: '<html>oops</html>' } }), { kind: 'retryable', status: 503 });
  t.like(classifyDriveError({ response: { status: 401, data: {} } }), { kind: 'auth' });
  t.like(classifyDriveError({ response: { status: 403, data: { error: { errors: [{ reason: 'insufficientFilePermissions' }] } } } }), { kind: 'permanent' });
  t.like(classifyDriveError('weird'), { kind: 'retryable', reason: 'unknown' });
});

test('retryDelayMs: full jitter, capped, honours Retry-After', (t) => {
  const p = { baseMs: 1000, maxMs: 60_000 };
  t.is(
    retryDelayMs(1, p, () => 0.5),
    500,
  );
  t.is(
    retryDelayMs(3, p, () => 0.5),
    2000,
  );
  t.is(
    retryDelayMs(30, p, () => 0.999999),
    59_999,
  );
  t.is(
    retryDelayMs(1, p, () => 0),
    0,
  );
  t.is(
    retryDelayMs(2, p, () => 0.5, 12_000),
    12_000,
  );
  t.is(
    retryDelayMs(2, p, () => 0.5, 999_999),
    60_000,
  );
  for (let a = 1; a < 40; a++) t.true(retryDelayMs(a, p, Math.random) < 60_000);
});
