import test from 'ava';
import { api, driveClient, oauthClient, userToken, withEmulator } from '../helpers/emulator.js';

const noRetry = { retry: false } as const;
const FOLDER = 'application/vnd.google-apps.folder';
const qs = (o: Record<string, string>) => new URLSearchParams(o).toString();

test("q: name with quotes and backslashes, 'id' in parents, trashed, mimeType, appProperties", async (t) => {
  const emu = await withEmulator(t);
  const d = driveClient(oauthClient(emu));
  const parent = await d.files.create({ requestBody: { name: 'p', mimeType: FOLDER } }, noRetry);
  const pid = parent.data.id!;
  const tricky = "it's a \\ back'slash";
  const a = await d.files.create({ requestBody: { name: tricky, parents: [pid], appProperties: { job: 'j1' } }, media: { body: 'a' } }, noRetry);
  const b = await d.files.create({ requestBody: { name: 'b', parents: [pid], appProperties: { job: 'j2' } }, media: { body: 'b' } }, noRetry);
  const sub = await d.files.create({ requestBody: { name: 'b', parents: [pid], mimeType: FOLDER } }, noRetry);
  await d.files.create({ requestBody: { name: tricky }, media: { body: 'elsewhere' } }, noRetry);
  await d.files.update({ fileId: b.data.id!, requestBody: { trashed: true } }, noRetry);

  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  const list = async (q: string) => (await d.files.list({ q, fields: 'nextPageToken, files(id, name)' }, noRetry)).data.files?.map((f) => f.id) ?? [];

  t.deepEqual(await list(`name = '${esc(tricky)}' and '${pid}' in parents`), [a.data.id]);
  // Without a trashed clause trashed items are included, as in Drive.
  t.deepEqual(await list(`'${pid}' in parents`), [a.data.id, b.data.id, sub.data.id]);
  t.deepEqual(await list(`'${pid}' in parents and trashed = false`), [a.data.id, sub.data.id]);
  t.deepEqual(await list(`'${pid}' in parents and trashed = true`), [b.data.id]);
  t.deepEqual(await list(`name = 'b' and mimeType = '${FOLDER}'`), [sub.data.id]);
  t.deepEqual(await list(`name = 'b' and mimeType != '${FOLDER}'`), [b.data.id]);
  t.deepEqual(await list(`appProperties has { key='job' and value='j1' } and trashed = false`), [a.data.id]);
  t.deepEqual(await list(`('${pid}' in parents) and (trashed = false) and not mimeType = '${FOLDER}'`), [a.data.id]);
});

test('q syntax Drive would not understand -> 400 invalid "Invalid Value" at q', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  for (const q of ["name = 'unterminated", 'name = foo', "size > '3'", "name = 'a' and", "name = 'bad \\escape'", "fullText contains 'x'"]) {
    const res = await api(emu, token, 'GET', `/drive/v3/files?${qs({ q })}`);
    t.is(res.status, 400, q);
    t.deepEqual(res.json, {
      error: {
        code: 400,
        message: 'Invalid Value',
        errors: [{ domain: 'global', reason: 'invalid', message: 'Invalid Value', location: 'q', locationType: 'parameter' }],
        status: 'INVALID_ARGUMENT',
      },
    });
  }
});

test('paging: pageSize, nextPageToken, stable order; default fields; bad token', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const ids: string[] = [];
  for (let i = 0; i < 25; i++) ids.push((await api(emu, token, 'POST', '/drive/v3/files', { name: `f${i}`, mimeType: FOLDER })).json.id);
  const seen: string[] = [];
  let pageToken: string | undefined;
  let pages = 0;
  do {
    const params: Record<string, string> = { pageSize: '10', fields: 'nextPageToken, files(id)' };
    if (pageToken) params.pageToken = pageToken;
    const res = await api(emu, token, 'GET', `/drive/v3/files?${qs(params)}`);
    t.is(res.status, 200);
    seen.push(...res.json.files.map((f: { id: string }) => f.id));
    pageToken = res.json.nextPageToken;
    pages++;
  } while (pageToken);
  t.is(pages, 3);
  t.deepEqual(seen, ids);
  const def = await api(emu, token, 'GET', '/drive/v3/files?pageSize=1');
  t.deepEqual(Object.keys(def.json).sort(), ['files', 'incompleteSearch', 'kind', 'nextPageToken']);
  t.deepEqual(Object.keys(def.json.files[0]).sort(), ['id', 'kind', 'mimeType', 'name']);
  // files(id) alone drops nextPageToken, as in Drive.
  const only = await api(emu, token, 'GET', '/drive/v3/files?pageSize=1&fields=files(id)');
  t.is(only.json.nextPageToken, undefined);
  t.is((await api(emu, token, 'GET', '/drive/v3/files?pageToken=garbage')).json.error.errors[0].location, 'pageToken');
  t.is((await api(emu, token, 'GET', '/drive/v3/files?pageSize=1001')).status, 400);
  t.is(emu.stats().requests['GET /drive/v3/files']?.['200'], 5);
});

test('shared drive: items invisible without supportsAllDrives / includeItemsFromAllDrives', async (t) => {
  const SD = '0AsharedDriveAAA';
  const emu = await withEmulator(t, { sharedDriveId: SD, rootFolderId: 'rootInShared0001' });
  const d = driveClient(oauthClient(emu));
  const token = await userToken(emu);

  const denied = await t.throwsAsync(d.files.create({ requestBody: { name: 'x', parents: ['rootInShared0001'] }, media: { body: 'x' } }, noRetry));
  t.is((denied as unknown as { status: number }).status, 404);
  t.is((denied as unknown as { response: { data: any } }).response.data.error.message, 'File not found: rootInShared0001.');

  const f = await d.files.create(
    { requestBody: { name: 'x', parents: ['rootInShared0001'] }, media: { body: 'x' }, supportsAllDrives: true, fields: 'id,driveId' },
    noRetry,
  );
  t.is(f.data.driveId, SD);
  const id = f.data.id!;
  t.is((await api(emu, token, 'GET', `/drive/v3/files/${id}`)).status, 404);
  t.is((await api(emu, token, 'GET', `/drive/v3/files/${id}?supportsAllDrives=true`)).status, 200);
  t.is((await api(emu, token, 'PATCH', `/drive/v3/files/${id}`, { name: 'y' })).status, 404);
  t.is((await api(emu, token, 'DELETE', `/drive/v3/files/${id}`)).status, 404);

  const q = "name = 'x'";
  const plain = await d.files.list({ q }, noRetry);
  t.deepEqual(plain.data.files, []);
  const half = await d.files.list({ q, supportsAllDrives: true }, noRetry);
  t.deepEqual(half.data.files, []);
  const all = await d.files.list({ q, supportsAllDrives: true, includeItemsFromAllDrives: true, fields: 'files(id,driveId)' }, noRetry);
  t.deepEqual(all.data.files, [{ id, driveId: SD }]);
  const inDrive = await d.files.list(
    { q, corpora: 'drive', driveId: SD, supportsAllDrives: true, includeItemsFromAllDrives: true, fields: 'files(id)' },
    noRetry,
  );
  t.deepEqual(inDrive.data.files, [{ id }]);
  const noInclude = await api(emu, token, 'GET', `/drive/v3/files?corpora=drive&driveId=${SD}&supportsAllDrives=true`);
  t.is(noInclude.status, 400);
  const unknown = await api(emu, token, 'GET', '/drive/v3/files?corpora=drive&driveId=0Anope&supportsAllDrives=true&includeItemsFromAllDrives=true');
  t.is(unknown.status, 404);
  const drv = await d.drives.get({ driveId: SD }, noRetry);
  t.is(drv.data.id, SD);
  // The drive's root folder has the drive's id, as in Drive.
  const root = await d.files.get({ fileId: SD, supportsAllDrives: true, fields: 'id,mimeType,driveId' }, noRetry);
  t.deepEqual(root.data, { id: SD, mimeType: FOLDER, driveId: SD });
});
