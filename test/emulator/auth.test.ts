import { Readable } from 'node:stream';
import test from 'ava';
import { api, driveClient, oauthClient, serviceAccountClient, userToken, withEmulator } from '../helpers/emulator.js';

const noRetry = { retry: false } as const;

test('refresh_token grant answers a Bearer token like Google', async (t) => {
  const emu = await withEmulator(t);
  const res = await api(emu, null, 'POST', '/token', 'grant_type=refresh_token&refresh_token=abc&client_id=c&client_secret=s', {
    'content-type': 'application/x-www-form-urlencoded',
  });
  t.is(res.status, 200);
  t.is(res.json.token_type, 'Bearer');
  t.is(res.json.expires_in, 3599);
  t.regex(res.json.access_token, /^ya29\./);
  t.deepEqual(emu.stats().requests['POST /token'], { '200': 1 });
  t.is(emu.stats().driveRequests, 0);
});

test('unknown grant type and missing client id are refused', async (t) => {
  const emu = await withEmulator(t);
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const bad = await api(emu, null, 'POST', '/token', 'grant_type=password', form);
  t.is(bad.status, 400);
  t.is(bad.json.error, 'unsupported_grant_type');
  const noClient = await api(emu, null, 'POST', '/token', 'grant_type=refresh_token&refresh_token=x', form);
  t.is(noClient.status, 400);
  t.is(noClient.json.error, 'invalid_request');
});

test('revoked refresh token -> 400 invalid_grant, seen by the auth library', async (t) => {
  const emu = await withEmulator(t);
  const r = await api(emu, null, 'POST', '/__emulator/revoke-refresh-token', { refresh_token: 'gone' });
  t.is(r.status, 200);
  const res = await api(emu, null, 'POST', '/token', 'grant_type=refresh_token&refresh_token=gone&client_id=c', {
    'content-type': 'application/x-www-form-urlencoded',
  });
  t.is(res.status, 400);
  t.deepEqual(res.json, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });

  const d = driveClient(oauthClient(emu, 'gone'));
  const err = await t.throwsAsync(d.files.list({}, noRetry));
  t.regex(String(err?.message), /invalid_grant/);
});

test('missing or unknown bearer -> 401 authError with Google shape', async (t) => {
  const emu = await withEmulator(t);
  for (const token of [null, 'not-a-token']) {
    const res = await api(emu, token, 'GET', '/drive/v3/files');
    t.is(res.status, 401);
    t.deepEqual(res.json, {
      error: {
        code: 401,
        message: 'Invalid Credentials',
        errors: [{ domain: 'global', reason: 'authError', message: 'Invalid Credentials', location: 'Authorization', locationType: 'header' }],
        status: 'UNAUTHENTICATED',
      },
    });
  }
  t.is((await api(emu, null, 'POST', '/upload/drive/v3/files?uploadType=media', 'x')).status, 401);
});

test('expireTokens invalidates issued tokens; the client refreshes and goes on', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  t.is((await api(emu, token, 'GET', '/drive/v3/files')).status, 200);
  emu.expireTokens();
  t.is((await api(emu, token, 'GET', '/drive/v3/files')).status, 401);
  // Same through the admin route.
  const token2 = await userToken(emu);
  t.is((await api(emu, null, 'POST', '/__emulator/expire-tokens')).status, 200);
  t.is((await api(emu, token2, 'GET', '/drive/v3/files')).status, 401);

  const d = driveClient(oauthClient(emu));
  await d.files.list({}, noRetry);
  emu.expireTokens();
  // A cached token with an expiry date is not refreshed on 401 by default: the caller sees it.
  const err = await t.throwsAsync(d.files.list({}, noRetry));
  t.is((err as unknown as { status: number }).status, 401);
  // With forceRefreshOnFailure the library refreshes once on 401 and goes on.
  const d2 = driveClient(oauthClient(emu, 'rt-force', true));
  await d2.files.list({}, noRetry);
  emu.expireTokens();
  const res = await d2.files.list({}, noRetry);
  t.is(res.status, 200);
  t.is(emu.stats().requests['GET /drive/v3/files']?.['401'], 4);
});

test('token expiry follows the injected clock', async (t) => {
  let now = Date.UTC(2025, 0, 1);
  const emu = await withEmulator(t, { clock: () => now });
  const token = await userToken(emu);
  t.is((await api(emu, token, 'GET', '/drive/v3/files')).status, 200);
  now += 3600 * 1000;
  t.is((await api(emu, token, 'GET', '/drive/v3/files')).status, 401);
});

test('service account without subject: no storage quota in My Drive, fine in a shared drive', async (t) => {
  const emu = await withEmulator(t, { sharedDriveId: '0AsharedDrive0001' });
  const sa = driveClient(serviceAccountClient(emu));
  const err = await t.throwsAsync(
    sa.files.create({ requestBody: { name: 'a.txt' }, media: { mimeType: 'text/plain', body: Readable.from(Buffer.from('a')) } }, noRetry),
  );
  const body = (err as unknown as { response: { data: any } }).response.data;
  t.is(body.error.code, 403);
  t.is(body.error.errors[0].reason, 'storageQuotaExceeded');
  t.is(body.error.errors[0].domain, 'usageLimits');
  t.regex(body.error.message, /^Service Accounts do not have storage quota/);

  // Folders are allowed (they hold no bytes).
  const folder = await sa.files.create({ requestBody: { name: 'f', mimeType: 'application/vnd.google-apps.folder' } }, noRetry);
  t.is(folder.status, 200);

  const ok = await sa.files.create(
    {
      requestBody: { name: 'b.txt', parents: ['0AsharedDrive0001'] },
      media: { mimeType: 'text/plain', body: Readable.from(Buffer.from('b')) },
      supportsAllDrives: true,
      fields: 'id,driveId,size',
    },
    noRetry,
  );
  t.is(ok.data.driveId, '0AsharedDrive0001');
  t.is(ok.data.size, '1');
});

test('service account with subject (domain-wide delegation) acts as a user with quota', async (t) => {
  const emu = await withEmulator(t);
  const sa = driveClient(serviceAccountClient(emu, 'person@example.com'));
  const ok = await sa.files.create(
    { requestBody: { name: 'a.txt' }, media: { mimeType: 'text/plain', body: Readable.from(Buffer.from('abc')) }, fields: 'id,size' },
    noRetry,
  );
  t.is(ok.data.size, '3');
  t.is(emu.stats().requests['POST /token']?.['200'], 1);
});
