import { readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '../../src/config/index.js';
import { createDriveClient, DriveAuthError, PermanentDriveError } from '../../src/drive/index.js';
import { createSilentLogger } from '../../src/log/index.js';
import { ROOT_ID, SA_EMAIL, SHARED_DRIVE_ID, setup, startEmu, tempDir, writeRandomFile, writeServiceAccountKey } from '../helpers/drive.js';

const scopes = ['https://www.googleapis.com/auth/drive'];

function deepText(e: unknown): string {
  // Everything a logger could print of an error: message, stack, own props and the cause chain.
  const parts: string[] = [];
  let c: unknown = e;
  for (let i = 0; i < 8 && c; i++) {
    if (c instanceof Error) parts.push(c.message, c.stack ?? '');
    try {
      parts.push(JSON.stringify(c));
    } catch {
      parts.push(String(c));
    }
    c = (c as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

async function uploadOne(s: Awaited<ReturnType<typeof setup>>, parentId = ROOT_ID) {
  const [id] = await s.drive.reserveIds(1);
  const p = await writeRandomFile(s.dir, `f-${id}.bin`, 2000);
  return s.drive.upload({ fileId: id!, name: 'f.bin', parentId, file: await s.open(p), appProperties: { k: 'v' }, mode: 'create' });
}

test('service account with subject: token, root folder, upload into My Drive', async (t) => {
  const s = await setup(t, { auth: 'sa-subject' });
  t.deepEqual(await s.drive.checkAccess(), []);
  const r = await uploadOne(s);
  t.is(r.file.md5Checksum, r.md5);
  t.is(s.emu.stats().tokensIssued, 1);
});

test('service account without subject: quota error in My Drive, works in a shared drive, checkAccess warns', async (t) => {
  const plain = await setup(t, { auth: 'sa' });
  const problems = await plain.drive.checkAccess();
  t.deepEqual(problems, ['service accounts have no storage quota: set drive.shared_drive_id or auth.subject']);
  const e = await t.throwsAsync(uploadOne(plain));
  t.true(e instanceof PermanentDriveError);
  t.like(e, { kind: 'permanent', status: 403, reason: 'storageQuotaExceeded', retryable: false });
  t.regex(e?.message ?? '', /^Drive 403 storageQuotaExceeded: Service Accounts do not have storage quota\./);

  const s = await setup(t, { auth: 'sa', emulator: { sharedDriveId: SHARED_DRIVE_ID } });

  const shared = await s.make({ sharedDriveId: SHARED_DRIVE_ID, rootFolderId: SHARED_DRIVE_ID });
  t.deepEqual(await shared.checkAccess(), []);
  const folder = await shared.ensureFolderPath(SHARED_DRIVE_ID, ['jobs', 'j1']);
  const [id] = await shared.reserveIds(1);
  const p = await writeRandomFile(s.dir, 'shared.bin', 5000);
  const r = await shared.upload({ fileId: id!, name: 'shared.bin', parentId: folder, file: await s.open(p), appProperties: {}, mode: 'create' });
  t.is(r.file.parents[0], folder);
  t.is(s.emu.listFiles().filter((f) => f.name === 'shared.bin').length, 1);
  // Found again (not re-created) through the shared-drive corpus.
  t.is(await shared.ensureFolderPath(SHARED_DRIVE_ID, ['jobs', 'j1']), folder);
  const again = await s.make({ sharedDriveId: SHARED_DRIVE_ID, rootFolderId: SHARED_DRIVE_ID });
  t.is(await again.ensureFolderPath(SHARED_DRIVE_ID, ['jobs', 'j1']), folder);
});

test('oauth: refresh token file (trimmed) gets a token and uploads', async (t) => {
  const s = await setup(t, { auth: 'oauth' });
  t.deepEqual(await s.drive.checkAccess(), []);
  const r = await uploadOne(s);
  t.is(r.size, 2000);
  t.is(s.emu.stats().tokensIssued, 1);
});

test('401 (tokens expired on the server) -> one forced refresh, the call succeeds', async (t) => {
  for (const mode of ['sa-subject', 'oauth'] as const) {
    const s = await setup(t, { auth: mode });
    await uploadOne(s);
    s.emu.expireTokens();
    const r = await uploadOne(s);
    t.is(r.file.md5Checksum, r.md5, mode);
    t.is(s.emu.stats().tokensIssued, 2, mode);
    // Resumable PUTs go through the same path.
    s.emu.expireTokens();
    const [id] = await s.drive.reserveIds(1);
    const big = await writeRandomFile(s.dir, `big-${mode}.bin`, 1024 * 1024 + 3);
    const rb = await s.drive.upload({ fileId: id!, name: 'big', parentId: ROOT_ID, file: await s.open(big), appProperties: {}, mode: 'create' });
    t.is(rb.file.size, 1024 * 1024 + 3, mode);
  }
});

test('revoked refresh token -> DriveAuthError (invalid_grant), no secret anywhere', async (t) => {
  const s = await setup(t, { auth: 'oauth' });
  await uploadOne(s);
  const auth = s.auth;
  if (auth.type !== 'oauth') throw new Error('unreachable');
  const refreshToken = (await readFile(auth.refresh_token_file, 'utf8')).trim();
  s.emu.revokeRefreshToken(refreshToken);
  s.emu.expireTokens();
  const e = await t.throwsAsync<DriveAuthError>(uploadOne(s));
  t.true(e instanceof DriveAuthError, String(e));
  t.is(e?.kind, 'auth');
  t.false(e?.retryable);
  const text = deepText(e) + s.log.text();
  t.false(text.includes(refreshToken));
  t.false(text.includes(auth.client_secret));
  t.false(/ya29\./.test(text));
  t.false(/Bearer /.test(text));
  const problems = await s.drive.checkAccess();
  t.is(problems.length, 1);
  t.regex(problems[0]!, /^auth: cannot get a token: .*invalid_grant/);
});

test('unreadable / invalid key file and missing token file -> ConfigError naming the file, no key material', async (t) => {
  const dir = await tempDir(t);
  const emu = await startEmu(t);
  const base = {
    endpoint: emu.url,
    rootFolderId: ROOT_ID,
    sharedDriveId: null,
    resumableThresholdBytes: 1 << 20,
    chunkSizeBytes: 1 << 18,
    log: createSilentLogger(),
    folderRegistry: null,
  };
  const { path: good, privateKey } = await writeServiceAccountKey(dir);
  const keyText = await readFile(good, 'utf8');
  const sa = (key_file: string) => ({ type: 'service_account' as const, key_file, subject: null, scopes });

  const missing = join(dir, 'nope.json');
  let e = await t.throwsAsync(createDriveClient({ ...base, auth: sa(missing) }));
  t.true(e instanceof ConfigError);
  t.is(e?.message, `auth.key_file ${missing}: cannot read (ENOENT); expected a service-account JSON key`);

  const broken = join(dir, 'broken.json');
  await writeFile(broken, keyText.slice(0, keyText.length - 40)); // truncated: invalid JSON holding key bytes
  e = await t.throwsAsync(createDriveClient({ ...base, auth: sa(broken) }));
  t.true(e instanceof ConfigError);
  t.is(e?.message, `auth.key_file ${broken}: not valid JSON with client_email and private_key (expected a service-account key file)`);
  t.false(deepText(e).includes(privateKey.split('\n')[1]!));

  const noEmail = join(dir, 'noemail.json');
  await writeFile(noEmail, JSON.stringify({ private_key: privateKey }));
  e = await t.throwsAsync(createDriveClient({ ...base, auth: sa(noEmail) }));
  t.regex(e?.message ?? '', /noemail\.json: not valid JSON with client_email and private_key/);
  t.false(deepText(e).includes('PRIVATE KEY'));

  if (process.getuid?.() !== 0) {
    const locked = join(dir, 'locked.json');
    await writeFile(locked, keyText);
    await chmod(locked, 0o000);
    e = await t.throwsAsync(createDriveClient({ ...base, auth: sa(locked) }));
    t.regex(e?.message ?? '', /locked\.json: cannot read \(EACCES\)/);
  }

  const tokenFile = join(dir, 'no-token');
  const oauth = { type: 'oauth' as const, client_id: 'cid', client_secret: 'GOCSPX-very-secret', refresh_token_file: tokenFile, scopes };
  e = await t.throwsAsync(createDriveClient({ ...base, auth: oauth }));
  t.true(e instanceof ConfigError);
  t.is(e?.message, `auth.refresh_token_file ${tokenFile}: cannot read (ENOENT); expected a file holding the refresh token`);
  await writeFile(tokenFile, '  \n');
  e = await t.throwsAsync(createDriveClient({ ...base, auth: oauth }));
  t.regex(e?.message ?? '', /no-token: expected exactly one refresh token/);
  t.false(deepText(e).includes('GOCSPX'));
});

test('checkAccess reports a root folder that is not there, naming the account', async (t) => {
  const s = await setup(t, { auth: 'sa-subject' });
  const c = await s.make({ rootFolderId: 'missing-root' });
  t.deepEqual(await c.checkAccess(), [`drive.root_folder_id missing-root: not found or not shared with ${SA_EMAIL}`]);
  const c2 = await s.make({ sharedDriveId: 'no-such-drive' });
  t.deepEqual(await c2.checkAccess(), [`drive.shared_drive_id no-such-drive: not found or ${SA_EMAIL} is not a member`]);
});
