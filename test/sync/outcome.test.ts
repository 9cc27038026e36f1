// decide(): the only place that turns an error into retry / fail / pause.
import test from 'ava';
import { PatternError } from '../../src/config/index.js';
import { DailyCapError, DriveAuthError, PermanentDriveError, RateLimitError, RetryableDriveError } from '../../src/drive/index.js';
import { LocalFileError, refused } from '../../src/local/index.js';
import { decide } from '../../src/sync/index.js';

test('a refused local file (link, outside, .., absolute) fails the row for good as local:refused', (t) => {
  const d = decide(refused('file x resolves to /etc/passwd, outside the job directory /o/j'));
  t.like(d, { action: 'fail', reason: 'local:refused' });
  t.regex(d.message, /outside the job directory/);
});

test('LocalFileError: one rule from its code: ENOENT retries, EACCES and ENAMETOOLONG fail; the code is the reason', (t) => {
  t.like(decide(new LocalFileError('file a.txt: not found', 'ENOENT')), { action: 'retry', reason: 'local:ENOENT', message: 'file a.txt: not found' });
  t.like(decide(new LocalFileError('file a.txt: permission denied (EACCES)', 'EACCES')), { action: 'fail', reason: 'local:EACCES' });
  t.like(decide(new LocalFileError('file nnn…: name too long', 'ENAMETOOLONG')), { action: 'fail', reason: 'local:ENAMETOOLONG' });
  t.like(decide(new LocalFileError('file a.txt shrank while it was being read', 'changed')), { action: 'retry', reason: 'local:changed' });
});

test("PatternError (unknown token in a job's own pattern) fails as config:folder_pattern", (t) => {
  t.like(decide(new PatternError('unknown token {bogus}')), { action: 'fail', reason: 'config:folder_pattern', message: 'unknown token {bogus}' });
});

test('Drive errors: retryable retries; permanent fails; rate limit, daily cap and auth pause without burning an attempt', (t) => {
  t.like(decide(new RetryableDriveError('Drive 503 backendError', { status: 503, reason: 'backendError' })), {
    action: 'retry',
    reason: 'retryable:backendError',
  });
  t.like(decide(new RetryableDriveError('Drive 502', { status: 502 })), { action: 'retry', reason: 'retryable:502' });

  const rl = decide(new RateLimitError('Drive 429 rateLimitExceeded', { status: 429, reason: 'rateLimitExceeded', retryAfterMs: 7000 }));
  t.like(rl, { action: 'pause', reason: 'rate_limit:rateLimitExceeded', retryAfterMs: 7000 });

  t.like(decide(new DailyCapError('daily upload cap', { status: 403, reason: 'dailyLimitExceeded' })), {
    action: 'pause',
    reason: 'daily_cap:dailyLimitExceeded',
  });
  t.like(decide(new DriveAuthError('auth: cannot get a token: invalid_grant', { status: 400, reason: 'invalid_grant' })), {
    action: 'pause',
    reason: 'auth:invalid_grant',
  });

  const quota = decide(
    new PermanentDriveError("Drive 403 storageQuotaExceeded: The user's Drive storage quota has been exceeded.", {
      status: 403,
      reason: 'storageQuotaExceeded',
    }),
  );
  t.like(quota, { action: 'fail', reason: 'permanent:storageQuotaExceeded' });
  t.regex(quota.message, /storageQuotaExceeded/);
  t.like(decide(new PermanentDriveError('Drive 400', { status: 400 })), { action: 'fail', reason: 'permanent:400' });
});

test("anything else is ours (internal), never reported as Drive's: retried (bounded by max_attempts), flagged for a stack trace", (t) => {
  const bug = decide(new TypeError("Cannot read properties of undefined (reading 'id')"));
  t.like(bug, { action: 'retry', reason: 'internal:TypeError', internal: true });
  t.regex(bug.message, /^internal error \(TypeError: Cannot read properties/);
  t.notRegex(bug.message, /Drive/);
  // Shapes that only the Drive layer may classify are not Drive's when they reach sync unclassified.
  const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  t.like(decide(reset), { action: 'retry', reason: 'internal:Error', internal: true });
  const notFound = {
    message: 'File not found',
    response: { status: 404, data: { error: { errors: [{ reason: 'notFound' }], message: 'File not found: abc.' } } },
  };
  t.like(decide(notFound), { action: 'retry', reason: 'internal:object' });
  t.like(decide('a string'), { action: 'retry', reason: 'internal:string' });
  // Known kinds are not internal.
  t.falsy(decide(new RetryableDriveError('Drive 503', { status: 503 })).internal);
  t.falsy(decide(new LocalFileError('x', 'ENOENT')).internal);
});
