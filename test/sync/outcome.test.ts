// decide(): the only place that turns an error into retry / fail / pause.
import test from 'ava';
import { PatternError } from '../../src/config/index.js';
import {
  DailyCapError,
  DriveAuthError,
  LocalFileError as DriveLocalFileError,
  PermanentDriveError,
  RateLimitError,
  RetryableDriveError,
} from '../../src/drive/index.js';
import { decide } from '../../src/sync/index.js';
import { LocalFileError, LocalPathError } from '../../src/watch/index.js';

test('LocalPathError (symlink out, .., absolute) fails the row for good as local:refused', (t) => {
  const d = decide(new LocalPathError('file x resolves outside the job directory /o/j; refused, never read'));
  t.like(d, { action: 'fail', reason: 'local:refused' });
  t.regex(d.message, /outside the job directory/);
});

test('LocalFileError: retryable (deleted, not written yet) retries; not retryable (EACCES) fails; the code is the reason', (t) => {
  t.like(decide(new LocalFileError('file a.txt not found', { retryable: true, code: 'ENOENT' })), { action: 'retry', reason: 'local:ENOENT', message: 'file a.txt not found' });
  t.like(decide(new LocalFileError('file a.txt: cannot read it (EACCES)', { retryable: false, code: 'EACCES' })), { action: 'fail', reason: 'local:EACCES' });
  t.like(decide(new LocalFileError('odd', { retryable: true })), { action: 'retry', reason: 'local:io' });
});

test('PatternError (unknown token in a job\'s own pattern) fails as config:folder_pattern', (t) => {
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

  const quota = decide(new PermanentDriveError('Drive 403 storageQuotaExceeded: The user\'s Drive storage quota has been exceeded.', { status: 403, reason: 'storageQuotaExceeded' }));
  t.like(quota, { action: 'fail', reason: 'permanent:storageQuotaExceeded' });
  t.regex(quota.message, /storageQuotaExceeded/);
  t.like(decide(new PermanentDriveError('Drive 400', { status: 400 })), { action: 'fail', reason: 'permanent:400' });

  t.like(decide(new DriveLocalFileError('local file unreadable: ENOENT', '/x', { reason: 'ENOENT' })), { action: 'fail', reason: 'local:ENOENT' });
});

test('anything else is classified like a Drive failure: network codes and unknown errors retry', (t) => {
  const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  t.like(decide(reset), { action: 'retry', reason: 'retryable:ECONNRESET' });
  t.like(decide(new Error('something odd')), { action: 'retry', reason: 'retryable:unknown' });
  t.like(decide('a string'), { action: 'retry' });
  // A gaxios-shaped 404 on the parent folder is permanent.
  const notFound = { message: 'File not found', response: { status: 404, data: { error: { errors: [{ reason: 'notFound' }], message: 'File not found: abc.' } } } };
  t.like(decide(notFound), { action: 'fail', reason: 'permanent:notFound' });
});
