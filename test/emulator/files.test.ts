import { Readable } from 'node:stream';
import test from 'ava';
import { api, driveClient, md5, oauthClient, userToken, withEmulator } from '../helpers/emulator.js';

const noRetry = { retry: false } as const;
const FOLDER = 'application/vnd.google-apps.folder';

test('generateIds: Drive-shaped ids, count bounds', async (t) => {
  const emu = await withEmulator(t);
  const d = driveClient(oauthClient(emu));
  const res = await d.files.generateIds({ count: 5, space: 'drive', type: 'files' }, noRetry);
  t.is(res.data.kind, 'drive#generatedIds');
  t.is(res.data.space, 'drive');
  t.is(res.data.ids?.length, 5);
  for (const id of res.data.ids ?? []) t.regex(id, /^[A-Za-z0-9_-]{33}$/);
  t.is(new Set(res.data.ids).size, 5);
  const token = await userToken(emu);
  const post = await api(emu, token, 'POST', '/drive/v3/files/generateIds?count=1000');
  t.is(post.status, 200);
  t.is(post.json.ids.length, 1000);
  const tooMany = await api(emu, token, 'POST', '/drive/v3/files/generateIds?count=1001');
  t.is(tooMany.status, 400);
  t.is(tooMany.json.error.errors[0].reason, 'invalid');
  t.is(tooMany.json.error.errors[0].location, 'count');
  t.is(emu.stats().writeRequests, 0, 'generateIds is not a write');
});

test('folder create, get with fields, default fields, webViewLink', async (t) => {
  const emu = await withEmulator(t);
  const d = driveClient(oauthClient(emu));
  const f = await d.files.create({ requestBody: { name: 'jobs', mimeType: FOLDER } }, noRetry);
  t.deepEqual(Object.keys(f.data).sort(), ['id', 'kind', 'mimeType', 'name']);
  t.is(f.data.kind, 'drive#file');
  const g = await d.files.get({ fileId: f.data.id!, fields: 'id,name,parents,webViewLink,size,trashed,version' }, noRetry);
  t.is(g.data.name, 'jobs');
  t.is(g.data.parents?.length, 1);
  t.is(g.data.webViewLink, `https://drive.google.com/drive/folders/${f.data.id}`);
  t.is(g.data.size, undefined, 'folders have no size');
  t.is(g.data.trashed, false);
  t.is(g.data.version, '1');
  // 'root' alias names My Drive.
  const root = await d.files.get({ fileId: 'root', fields: 'id' }, noRetry);
  t.is(root.data.id, g.data.parents?.[0]);
});

test('multipart upload through the client: size string, md5, sha256, appProperties, links', async (t) => {
  const emu = await withEmulator(t);
  const d = driveClient(oauthClient(emu));
  const folder = await d.files.create({ requestBody: { name: 'job-1', mimeType: FOLDER } }, noRetry);
  const content = Buffer.from('line\r\n--not-a-boundary\r\nmore bytes\u0000\u00ff');
  const [id] = (await d.files.generateIds({ count: 1 }, noRetry)).data.ids ?? [];
  const up = await d.files.create(
    {
      requestBody: { id, name: 'out.bin', parents: [folder.data.id!], appProperties: { job: 'job-1', row: '7' } },
      media: { mimeType: 'application/octet-stream', body: Readable.from(content) },
      fields: 'id,name,size,md5Checksum,sha256Checksum,parents,appProperties,webViewLink,mimeType,version',
    },
    noRetry,
  );
  t.is(up.data.id, id);
  t.is(up.data.size, String(content.length));
  t.is(up.data.md5Checksum, md5(content));
  t.regex(up.data.sha256Checksum ?? '', /^[0-9a-f]{64}$/);
  t.deepEqual(up.data.appProperties, { job: 'job-1', row: '7' });
  t.deepEqual(up.data.parents, [folder.data.id]);
  t.is(up.data.webViewLink, `https://drive.google.com/file/d/${id}/view?usp=drivesdk`);
  const media = await d.files.get({ fileId: id!, alt: 'media' }, { ...noRetry, responseType: 'arraybuffer' });
  t.true(Buffer.from(media.data as ArrayBuffer).equals(content));
  t.is(emu.stats().requests['POST /upload/drive/v3/files?uploadType=multipart']?.['200'], 1);
  t.is(emu.stats().bytesReceived, content.length);
  const [stored] = emu.listFiles().filter((f) => f.id === id);
  t.is(stored?.md5Checksum, md5(content));
  t.is(stored?.version, 1);
});

test('multipart with a string body and an empty media part', async (t) => {
  const emu = await withEmulator(t);
  const d = driveClient(oauthClient(emu));
  const up = await d.files.create(
    { requestBody: { name: 's.txt' }, media: { mimeType: 'text/plain', body: 'hello' }, fields: 'size,md5Checksum,mimeType' },
    noRetry,
  );
  t.deepEqual(up.data, { size: '5', md5Checksum: md5('hello'), mimeType: 'text/plain' });
  const token = await userToken(emu);
  const body = '--b1\r\ncontent-type: application/json\r\n\r\n{"name":"empty"}\r\n--b1\r\ncontent-type: text/plain\r\n\r\n\r\n--b1--';
  const res = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=multipart&fields=size,md5Checksum', body, {
    'content-type': 'multipart/related; boundary=b1',
  });
  t.is(res.status, 200);
  t.deepEqual(res.json, { size: '0', md5Checksum: md5('') });
});

test('malformed multipart, bad JSON and missing boundary -> 400', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const mp = { 'content-type': 'multipart/related; boundary=zz' };
  const truncated = await api(
    emu,
    token,
    'POST',
    '/upload/drive/v3/files?uploadType=multipart',
    '--zz\r\ncontent-type: application/json\r\n\r\n{}\r\n--zz\r\n\r\nabc',
    mp,
  );
  t.is(truncated.status, 400);
  t.is(truncated.json.error.errors[0].reason, 'badRequest');
  const badJson = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=multipart', '--zz\r\n\r\n{nope\r\n--zz\r\n\r\nabc\r\n--zz--', mp);
  t.is(badJson.status, 400);
  const noBoundary = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=multipart', 'abc', { 'content-type': 'text/plain' });
  t.is(noBoundary.status, 400);
  t.is(noBoundary.json.error.errors[0].reason, 'badRequest');
  const badMeta = await api(emu, token, 'POST', '/drive/v3/files', '{"name":', { 'content-type': 'application/json' });
  t.is(badMeta.status, 400);
  t.is(badMeta.json.error.code, 400);
  t.is(emu.listFiles().length, 0);
});

test('uploadType=media creates an Untitled file from the raw body', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const res = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=media&fields=name,size,mimeType,md5Checksum', 'raw bytes', {
    'content-type': 'text/csv',
  });
  t.is(res.status, 200);
  t.deepEqual(res.json, { name: 'Untitled', size: '9', mimeType: 'text/csv', md5Checksum: md5('raw bytes') });
  t.deepEqual(emu.stats().requests['POST /upload/drive/v3/files?uploadType=media'], { '200': 1 });
});

test('create with an existing id -> 409 duplicate; malformed id -> 400', async (t) => {
  const emu = await withEmulator(t);
  const d = driveClient(oauthClient(emu));
  const [id] = (await d.files.generateIds({ count: 1 }, noRetry)).data.ids ?? [];
  await d.files.create({ requestBody: { id, name: 'a' }, media: { body: Readable.from(Buffer.from('1')) } }, noRetry);
  const err = await t.throwsAsync(d.files.create({ requestBody: { id, name: 'a' }, media: { body: Readable.from(Buffer.from('1')) } }, noRetry));
  const body = (err as unknown as { response: { data: any } }).response.data;
  t.is((err as unknown as { status: number }).status, 409);
  t.deepEqual(body, {
    error: {
      code: 409,
      message: 'A file already exists with the provided ID.',
      errors: [{ domain: 'global', reason: 'duplicate', message: 'A file already exists with the provided ID.' }],
      status: 'ALREADY_EXISTS',
    },
  });
  const token = await userToken(emu);
  const meta = await api(emu, token, 'POST', '/drive/v3/files', { id, name: 'b', mimeType: FOLDER });
  t.is(meta.status, 409);
  const bad = await api(emu, token, 'POST', '/drive/v3/files', { id: 'bad id!', name: 'b' });
  t.is(bad.status, 400);
  t.is(bad.json.error.errors[0].reason, 'fileIdNotUsable');
  t.is(emu.listFiles().length, 1);
});

test('unknown file or parent -> 404 notFound "File not found: <id>."', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const get = await api(emu, token, 'GET', '/drive/v3/files/nope123456');
  t.is(get.status, 404);
  t.deepEqual(get.json, {
    error: {
      code: 404,
      message: 'File not found: nope123456.',
      errors: [{ domain: 'global', reason: 'notFound', message: 'File not found: nope123456.', location: 'fileId', locationType: 'parameter' }],
      status: 'NOT_FOUND',
    },
  });
  const create = await api(emu, token, 'POST', '/drive/v3/files', { name: 'x', parents: ['missingParent1'] });
  t.is(create.status, 404);
  t.is(create.json.error.message, 'File not found: missingParent1.');
  t.is((await api(emu, token, 'PATCH', '/drive/v3/files/nope123456', { name: 'y' })).status, 404);
  t.is((await api(emu, token, 'DELETE', '/drive/v3/files/nope123456')).status, 404);
  t.is((await api(emu, token, 'GET', '/drive/v3/files/nope123456?alt=media')).status, 404);
  t.is((await api(emu, token, 'GET', '/drive/v3/nothing')).status, 404);
});

test('metadata update: rename, appProperties merge/delete, trash, move; version bumps', async (t) => {
  const emu = await withEmulator(t);
  const d = driveClient(oauthClient(emu));
  const a = await d.files.create({ requestBody: { name: 'a', mimeType: FOLDER } }, noRetry);
  const b = await d.files.create({ requestBody: { name: 'b', mimeType: FOLDER } }, noRetry);
  const f = await d.files.create(
    { requestBody: { name: 'f.txt', parents: [a.data.id!], appProperties: { k1: 'v1', k2: 'v2' } }, media: { body: 'x' } },
    noRetry,
  );
  const u = await d.files.update(
    {
      fileId: f.data.id!,
      requestBody: { name: 'g.txt', appProperties: { k2: null, k3: 'v3' } as unknown as Record<string, string> },
      fields: 'name,appProperties,version',
    },
    noRetry,
  );
  t.deepEqual(u.data, { name: 'g.txt', appProperties: { k1: 'v1', k3: 'v3' }, version: '2' });
  const moved = await d.files.update({ fileId: f.data.id!, addParents: b.data.id!, removeParents: a.data.id!, fields: 'parents' }, noRetry);
  t.deepEqual(moved.data.parents, [b.data.id]);
  const two = await t.throwsAsync(d.files.update({ fileId: f.data.id!, addParents: a.data.id! }, noRetry));
  t.is((two as unknown as { status: number }).status, 403);
  const trashed = await d.files.update({ fileId: f.data.id!, requestBody: { trashed: true }, fields: 'trashed' }, noRetry);
  t.true(trashed.data.trashed);
  t.true(emu.listFiles().find((x) => x.id === f.data.id)?.trashed);
  const token = await userToken(emu);
  const parentsField = await api(emu, token, 'PATCH', `/drive/v3/files/${f.data.id}`, { parents: ['x'] });
  t.is(parentsField.status, 403);
  t.is(parentsField.json.error.errors[0].reason, 'fieldNotWritable');
});

test('content update (files.update with media) keeps the id, new md5, version+1', async (t) => {
  const emu = await withEmulator(t);
  const d = driveClient(oauthClient(emu));
  const f = await d.files.create(
    { requestBody: { name: 'v.txt' }, media: { body: Readable.from(Buffer.from('one')) }, fields: 'id,md5Checksum,version' },
    noRetry,
  );
  const u = await d.files.update(
    {
      fileId: f.data.id!,
      requestBody: { name: 'v2.txt' },
      media: { mimeType: 'text/plain', body: Readable.from(Buffer.from('second')) },
      fields: 'id,name,md5Checksum,size,version',
    },
    noRetry,
  );
  t.deepEqual(u.data, { id: f.data.id, name: 'v2.txt', md5Checksum: md5('second'), size: '6', version: '2' });
  t.is(emu.stats().requests['PATCH /upload/drive/v3/files/{id}?uploadType=multipart']?.['200'], 1);
  const token = await userToken(emu);
  const media = await api(emu, token, 'PATCH', `/upload/drive/v3/files/${f.data.id}?uploadType=media&fields=size,version`, 'third!!', {
    'content-type': 'text/plain',
  });
  t.deepEqual(media.json, { size: '7', version: '3' });
  t.is(emu.stats().storedBytes, 7);
});

test('delete: 204, folder removes descendants', async (t) => {
  const emu = await withEmulator(t);
  const d = driveClient(oauthClient(emu));
  const a = await d.files.create({ requestBody: { name: 'a', mimeType: FOLDER } }, noRetry);
  const sub = await d.files.create({ requestBody: { name: 'sub', mimeType: FOLDER, parents: [a.data.id!] } }, noRetry);
  await d.files.create({ requestBody: { name: 'x', parents: [sub.data.id!] }, media: { body: 'xx' } }, noRetry);
  t.is(emu.listFiles().length, 3);
  const del = await d.files.delete({ fileId: a.data.id! }, noRetry);
  t.is(del.status, 204);
  t.is(emu.listFiles().length, 0);
  t.is(emu.stats().storedBytes, 0);
});

test('alt=media honours Range and refuses folders', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const up = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=media', '0123456789', { 'content-type': 'text/plain' });
  const res = await fetch(`${emu.url}/drive/v3/files/${up.json.id}?alt=media`, { headers: { authorization: `Bearer ${token}`, range: 'bytes=2-4' } });
  t.is(res.status, 206);
  t.is(await res.text(), '234');
  const folder = await api(emu, token, 'POST', '/drive/v3/files', { name: 'f', mimeType: FOLDER });
  const dl = await api(emu, token, 'GET', `/drive/v3/files/${folder.json.id}?alt=media`);
  t.is(dl.status, 403);
  t.is(dl.json.error.errors[0].reason, 'fileNotDownloadable');
});

test('inspection routes: state tree, stats, reset keeps the start-up roots', async (t) => {
  const emu = await withEmulator(t, { rootFolderId: 'rootFolder000001' });
  const token = await userToken(emu);
  const sub = await api(emu, token, 'POST', '/drive/v3/files', { name: 'sub', mimeType: FOLDER, parents: ['rootFolder000001'] });
  await api(
    emu,
    token,
    'POST',
    `/upload/drive/v3/files?uploadType=multipart`,
    `--q\r\n\r\n{"name":"f","parents":["${sub.json.id}"],"appProperties":{"a":"b"}}\r\n--q\r\n\r\nabc\r\n--q--`,
    {
      'content-type': 'multipart/related; boundary=q',
    },
  );
  const state = await api(emu, null, 'GET', '/__emulator/state');
  t.is(state.status, 200);
  const root = state.json.myDrive.children.find((c: any) => c.id === 'rootFolder000001');
  t.is(root.children[0].name, 'sub');
  t.deepEqual(root.children[0].children[0], {
    id: root.children[0].children[0].id,
    name: 'f',
    mimeType: 'application/octet-stream',
    trashed: false,
    appProperties: { a: 'b' },
    size: 3,
    md5Checksum: md5('abc'),
  });
  t.deepEqual(state.json, emu.state());
  const stats = await api(emu, null, 'GET', '/__emulator/stats');
  t.is(stats.json.driveRequests, 2);
  t.is(stats.json.writeRequests, 2);
  t.true(stats.json.totalRequests >= 4);
  t.is((await api(emu, null, 'POST', '/__emulator/reset')).status, 200);
  t.deepEqual(
    emu.listFiles().map((f) => f.id),
    ['rootFolder000001'],
  );
  t.is(emu.stats().driveRequests, 0);
});

test('client aborts mid-upload: no file, no temp data left, emulator keeps serving', async (t) => {
  const { default: http } = await import('node:http');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-abort-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const emu = await withEmulator(t, { dataDir });
  const token = await userToken(emu);
  const abort = (path: string, headers: Record<string, string>, first: Buffer) =>
    new Promise<void>((resolve) => {
      const req = http.request(`${emu.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-length': '10000000', ...headers },
      });
      req.on('error', () => resolve());
      req.write(first, () => setImmediate(() => (req.destroy(), resolve())));
    });
  await abort('/upload/drive/v3/files?uploadType=media', { 'content-type': 'text/plain' }, Buffer.alloc(200_000, 1));
  await abort(
    '/upload/drive/v3/files?uploadType=multipart',
    { 'content-type': 'multipart/related; boundary=x' },
    Buffer.concat([Buffer.from('--x\r\n\r\n{"name":"a"}\r\n--x\r\n\r\n'), Buffer.alloc(200_000, 2)]),
  );
  const deadline = Date.now() + 5000;
  while (emu.stats().concurrentRequests > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.is(emu.stats().concurrentRequests, 0);
  t.is(emu.listFiles().length, 0);
  const ok = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=media', 'fine', { 'content-type': 'text/plain' });
  t.is(ok.status, 200);
  t.deepEqual(fs.readdirSync(path.join(dataDir, 'uploads')), [], 'partial bodies are discarded');
  t.is(fs.readdirSync(path.join(dataDir, 'blobs')).length, 1);
  t.is(emu.stats().requests['POST /upload/drive/v3/files?uploadType=media']?.reset, 1);
});
