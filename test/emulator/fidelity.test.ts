// The emulator behaves as Drive does where real clients (rclone, Google's Python client) found it
// did not: one test per finding.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { api, md5, userToken, withEmulator } from '../helpers/emulator.js';
import type { Emulator } from '../../src/emulator/index.js';

const FOLDER = 'application/vnd.google-apps.folder';
const KIB256 = 256 * 1024;
const qs = (o: Record<string, string>) => new URLSearchParams(o).toString();

async function ids(emu: Emulator, token: string, n = 1): Promise<string[]> {
  return (await api(emu, token, 'GET', `/drive/v3/files/generateIds?count=${n}`)).json.ids;
}

async function startSession(emu: Emulator, token: string, query: string, meta: Record<string, unknown>, total?: number): Promise<string> {
  const headers: Record<string, string> = {};
  if (total !== undefined) headers['x-upload-content-length'] = String(total);
  const res = await api(emu, token, 'POST', `/upload/drive/v3/files?uploadType=resumable${query}`, meta, headers);
  if (res.status !== 200) throw new Error(`start failed: ${res.status} ${JSON.stringify(res.json)}`);
  return res.headers.get('location') as string;
}

test('a file id the client made up is refused with 400 fileIdNotUsable; ids from generateIds work once', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-ids-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const emu = await withEmulator(t, { dataDir: dir });
  const token = await userToken(emu);
  const madeUp = '1AbCdEfGhIjKlMnOpQrStUvWxYz0123456';
  const expected = {
    error: {
      code: 400,
      message: 'The provided file ID is not usable.',
      errors: [{ domain: 'global', reason: 'fileIdNotUsable', message: 'The provided file ID is not usable.', location: 'file.id', locationType: 'other' }],
      status: 'INVALID_ARGUMENT',
    },
  };
  const meta = await api(emu, token, 'POST', '/drive/v3/files', { id: madeUp, name: 'f', mimeType: FOLDER });
  t.is(meta.status, 400);
  t.deepEqual(meta.json, expected);
  const mp = await api(
    emu,
    token,
    'POST',
    '/upload/drive/v3/files?uploadType=multipart',
    `--b\r\n\r\n{"id":"${madeUp}","name":"x"}\r\n--b\r\n\r\nabc\r\n--b--`,
    {
      'content-type': 'multipart/related; boundary=b',
    },
  );
  t.deepEqual(mp.json, expected);
  const rs = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=resumable', { id: madeUp, name: 'r' });
  t.deepEqual(rs.json, expected);
  t.is(emu.listFiles().length, 0);

  const [a, b] = await ids(emu, token, 2);
  t.is((await api(emu, token, 'POST', '/drive/v3/files', { id: a, name: 'a', mimeType: FOLDER })).status, 200);
  // Issued ids survive a reset (a client's id pool stays usable) and a restart with dataDir.
  t.is((await api(emu, null, 'POST', '/__emulator/reset')).status, 200);
  await emu.close();
  const again = await withEmulator(t, { dataDir: dir });
  const token2 = await userToken(again);
  const made = await api(again, token2, 'POST', '/drive/v3/files?fields=id', { id: b, name: 'b', mimeType: FOLDER });
  t.deepEqual([made.status, made.json], [200, { id: b }]);
  // Used once: a second create with it is a duplicate; once deleted, the id is spent.
  t.is((await api(again, token2, 'POST', '/drive/v3/files', { id: b, name: 'b2', mimeType: FOLDER })).status, 409);
  t.is((await api(again, token2, 'DELETE', `/drive/v3/files/${b}`)).status, 204);
  t.deepEqual((await api(again, token2, 'POST', '/drive/v3/files', { id: b, name: 'b3', mimeType: FOLDER })).json, expected);
});

test('modifiedTime is honoured on create (metadata, multipart, resumable) and on PATCH; absent -> server time', async (t) => {
  const now = Date.UTC(2026, 0, 15, 12, 0, 0);
  const emu = await withEmulator(t, { clock: () => now });
  const token = await userToken(emu);
  const mt = '2021-03-04T05:06:07.089Z';
  const f = 'id,modifiedTime,createdTime';
  const folder = await api(emu, token, 'POST', `/drive/v3/files?fields=${f}`, { name: 'd', mimeType: FOLDER, modifiedTime: mt });
  t.is(folder.json.modifiedTime, mt);
  t.is(folder.json.createdTime, new Date(now).toISOString());
  const mp = await api(
    emu,
    token,
    'POST',
    `/upload/drive/v3/files?uploadType=multipart&fields=${f}`,
    `--b\r\n\r\n{"name":"m","modifiedTime":"2020-01-02T03:04:05+02:00"}\r\n--b\r\n\r\nabc\r\n--b--`,
    {
      'content-type': 'multipart/related; boundary=b',
    },
  );
  t.is(mp.json.modifiedTime, '2020-01-02T01:04:05.000Z');
  const loc = await startSession(emu, token, `&fields=${f}`, { name: 'r', modifiedTime: mt }, 3);
  const done = await api(emu, null, 'PUT', loc, 'xyz', { 'content-range': 'bytes 0-2/3' });
  t.is(done.json.modifiedTime, mt);
  // `touch`: a metadata PATCH with only modifiedTime changes it; an upload PATCH honours it too.
  const touched = await api(emu, token, 'PATCH', `/drive/v3/files/${mp.json.id}?fields=modifiedTime,version`, { modifiedTime: '2022-02-02T02:02:02Z' });
  t.deepEqual(touched.json, { modifiedTime: '2022-02-02T02:02:02.000Z', version: '2' });
  const upd = await api(
    emu,
    token,
    'PATCH',
    `/upload/drive/v3/files/${mp.json.id}?uploadType=multipart&fields=modifiedTime`,
    `--b\r\n\r\n{"modifiedTime":"2023-03-03T03:03:03.5Z"}\r\n--b\r\n\r\nnew\r\n--b--`,
    {
      'content-type': 'multipart/related; boundary=b',
    },
  );
  t.is(upd.json.modifiedTime, '2023-03-03T03:03:03.500Z');
  t.is(emu.listFiles().find((x) => x.id === mp.json.id)?.modifiedTime, '2023-03-03T03:03:03.500Z');
  const plain = await api(emu, token, 'PATCH', `/drive/v3/files/${mp.json.id}?fields=modifiedTime`, { name: 'renamed' });
  t.is(plain.json.modifiedTime, new Date(now).toISOString(), 'no modifiedTime: the server time');
  const bad = await api(emu, token, 'POST', '/drive/v3/files', { name: 'x', modifiedTime: 'yesterday' });
  t.is(bad.status, 400);
  t.is(bad.json.error.errors[0].reason, 'invalid');
  t.regex(bad.json.error.message, /modifiedTime/);
});

test("name contains is Drive's prefix match on words, case-insensitive; 'root' in parents is My Drive's root", async (t) => {
  const emu = await withEmulator(t, { rootFolderId: 'rootFolder000001' });
  const token = await userToken(emu);
  const names = ['HelloWorld', 'report final.pdf', 'Final-Report_2024.csv', 'unrelated'];
  const made: Record<string, string> = {};
  for (const name of names) made[name] = (await api(emu, token, 'POST', '/drive/v3/files', { name, mimeType: FOLDER })).json.id;
  const inFolder = await api(emu, token, 'POST', '/drive/v3/files', { name: 'nested hello', mimeType: FOLDER, parents: ['rootFolder000001'] });
  const list = async (q: string): Promise<string[]> =>
    (await api(emu, token, 'GET', `/drive/v3/files?${qs({ q, fields: 'files(name)' })}`)).json.files.map((f: { name: string }) => f.name).sort();
  t.deepEqual(await list("name contains 'Hello'"), ['HelloWorld', 'nested hello']);
  t.deepEqual(await list("name contains 'World'"), [], 'not a substring match');
  t.deepEqual(await list("name contains 'hellow'"), ['HelloWorld'], 'case-insensitive prefix');
  t.deepEqual(await list("name contains 'rep fin'"), ['Final-Report_2024.csv', 'report final.pdf'], 'every word must begin some word');
  t.deepEqual(await list("name contains '2024'"), ['Final-Report_2024.csv']);
  t.deepEqual(await list("name contains 'port'"), []);
  // 'root' stands for My Drive's root folder in parents, as in files.get.
  t.deepEqual(await list("'root' in parents"), [...names, 'batch-drive-sync root'].sort());
  t.deepEqual(await list("'root' in parents and name contains 'hello'"), ['HelloWorld']);
  t.deepEqual(await list("'rootFolder000001' in parents"), [inFolder.json.name]);
});

test('files.list honours orderBy, pages through the sorted list, rejects unknown keys with 400', async (t) => {
  let now = Date.UTC(2025, 5, 1);
  const emu = await withEmulator(t, { clock: () => now });
  const token = await userToken(emu);
  const specs: Array<[string, boolean]> = [
    ['b10', false],
    ['B2', false],
    ['a', true],
    ['c1', false],
    ['b1', true],
  ];
  for (const [name, folder] of specs) {
    now += 1000;
    if (folder) await api(emu, token, 'POST', '/drive/v3/files', { name, mimeType: FOLDER });
    else
      await api(
        emu,
        token,
        'POST',
        '/upload/drive/v3/files?uploadType=multipart',
        `--b\r\n\r\n{"name":"${name}"}\r\n--b\r\n\r\n${'x'.repeat(name.length)}\r\n--b--`,
        { 'content-type': 'multipart/related; boundary=b' },
      );
  }
  const names = async (orderBy: string, pageSize = '100'): Promise<string[]> => {
    const out: string[] = [];
    let pageToken: string | undefined;
    do {
      const p: Record<string, string> = { orderBy, pageSize, fields: 'nextPageToken,files(name)' };
      if (pageToken) p.pageToken = pageToken;
      const res = await api(emu, token, 'GET', `/drive/v3/files?${qs(p)}`);
      t.is(res.status, 200, JSON.stringify(res.json));
      out.push(...res.json.files.map((f: { name: string }) => f.name));
      pageToken = res.json.nextPageToken;
    } while (pageToken);
    return out;
  };
  t.deepEqual(await names('name'), ['a', 'b1', 'b10', 'B2', 'c1']);
  t.deepEqual(await names('name_natural'), ['a', 'b1', 'B2', 'b10', 'c1']);
  t.deepEqual(await names('name desc'), ['c1', 'B2', 'b10', 'b1', 'a']);
  t.deepEqual(await names('modifiedTime desc'), ['b1', 'c1', 'a', 'B2', 'b10']);
  t.deepEqual(await names('folder,name'), ['a', 'b1', 'b10', 'B2', 'c1']);
  t.deepEqual(await names('folder, quotaBytesUsed desc, name'), ['a', 'b1', 'b10', 'B2', 'c1']);
  t.deepEqual(await names('createdTime', '2'), ['b10', 'B2', 'a', 'c1', 'b1'], 'paging follows the sorted order');
  const wanted = {
    error: {
      code: 400,
      message: 'Invalid Value',
      errors: [{ domain: 'global', reason: 'invalid', message: 'Invalid Value', location: 'orderBy', locationType: 'parameter' }],
      status: 'INVALID_ARGUMENT',
    },
  };
  for (const orderBy of ['size', 'name sideways', 'name,,modifiedTime', 'constructor', 'toString']) {
    const res = await api(emu, token, 'GET', `/drive/v3/files?${qs({ orderBy })}`);
    t.is(res.status, 400, orderBy);
    t.deepEqual(res.json, wanted, orderBy);
  }
  // A token from one order is not valid for another.
  const first = await api(emu, token, 'GET', `/drive/v3/files?${qs({ orderBy: 'name', pageSize: '2' })}`);
  t.is((await api(emu, token, 'GET', `/drive/v3/files?${qs({ orderBy: 'name desc', pageToken: first.json.nextPageToken })}`)).status, 400);
});

test('short-page fault: pages shorter than pageSize (even empty) with a token; following it yields every item once', async (t) => {
  const emu = await withEmulator(t, { faults: { shortPageRate: 1, seed: 5 } });
  const token = await userToken(emu);
  const made: string[] = [];
  for (let i = 0; i < 23; i++) made.push((await api(emu, token, 'POST', '/drive/v3/files', { name: `f${i}`, mimeType: FOLDER })).json.id);
  for (const orderBy of [null, 'name_natural desc']) {
    const seen: string[] = [];
    const sizes: number[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const p: Record<string, string> = { pageSize: '5', fields: 'nextPageToken,files(id)' };
      if (orderBy) p.orderBy = orderBy;
      if (pageToken) p.pageToken = pageToken;
      const res = await api(emu, token, 'GET', `/drive/v3/files?${qs(p)}`);
      sizes.push(res.json.files.length);
      seen.push(...res.json.files.map((f: { id: string }) => f.id));
      pageToken = res.json.nextPageToken;
      t.true(++pages < 200, 'the listing ends');
    } while (pageToken);
    t.deepEqual(seen, orderBy ? [...made].reverse() : made, `every item once, in order (${orderBy ?? 'default'})`);
    t.true(
      sizes.every((n) => n < 5),
      `every page short: ${sizes.join(',')}`,
    );
  }
  t.true(emu.stats().shortPages > 0);
  emu.setFaults({ shortPageRate: 0 });
  t.is((await api(emu, token, 'GET', '/drive/v3/files?pageSize=5')).json.files.length, 5);
});

test('multipart bodies with LF line ends (as Python email generators write them) are accepted', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const content = 'line one\nline two\n';
  const body = `--===============42==\nContent-Type: application/json\nMIME-Version: 1.0\n\n{"name": "lf.txt"}\n--===============42==\nContent-Type: text/plain\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\n\n${content}\n--===============42==--\n`;
  const res = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=multipart&fields=name,size,md5Checksum,mimeType', body, {
    'content-type': 'multipart/related; boundary="===============42=="',
  });
  t.is(res.status, 200, JSON.stringify(res.json));
  t.deepEqual(res.json, { name: 'lf.txt', size: String(content.length), md5Checksum: md5(content), mimeType: 'text/plain' });
  // A part without headers, LF style.
  const bare = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=multipart&fields=name,size', '--b\n\n{"name":"bare"}\n--b\n\nabc\n--b--', {
    'content-type': 'multipart/related; boundary=b',
  });
  t.deepEqual(bare.json, { name: 'bare', size: '3' });
});

test('an empty resumable PUT without Content-Range finishes an empty upload; with bytes received it only reports', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const loc = await startSession(emu, token, '&fields=id,size,md5Checksum', { name: 'empty' });
  const res = await api(emu, null, 'PUT', loc, '');
  t.is(res.status, 200);
  t.deepEqual(res.json, { id: res.json.id, size: '0', md5Checksum: md5('') });
  t.is(emu.listFiles().length, 1);
  // Bytes already received: a bare PUT cannot mean "empty"; it answers where the session stands.
  const loc2 = await startSession(emu, token, '', { name: 'half' }, 2 * KIB256);
  t.is((await api(emu, null, 'PUT', loc2, new Uint8Array(KIB256), { 'content-range': `bytes 0-${KIB256 - 1}/${2 * KIB256}` })).status, 308);
  const bare = await api(emu, null, 'PUT', loc2, '');
  t.is(bare.status, 308);
  t.is(bare.headers.get('range'), `bytes=0-${KIB256 - 1}`);
  // Google's answer to the old Python client's "bytes 0--1/0" for an empty file: 400.
  const loc3 = await startSession(emu, token, '', { name: 'e' });
  t.is((await api(emu, null, 'PUT', loc3, '', { 'content-range': 'bytes 0--1/0' })).status, 400);
});

test('a ranged download of an empty file answers 416 with bytes */0; without Range it is 200', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const up = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=media', '', { 'content-type': 'text/plain' });
  const url = `${emu.url}/drive/v3/files/${up.json.id}?alt=media`;
  const ranged = await fetch(url, { headers: { authorization: `Bearer ${token}`, range: 'bytes=0-1023' } });
  t.is(ranged.status, 416);
  t.is(ranged.headers.get('content-range'), 'bytes */0');
  const whole = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  t.is(whole.status, 200);
  t.is(await whole.text(), '');
  const full = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=media', '0123', { 'content-type': 'text/plain' });
  const past = await fetch(`${emu.url}/drive/v3/files/${full.json.id}?alt=media`, { headers: { authorization: `Bearer ${token}`, range: 'bytes=4-' } });
  t.is(past.status, 416);
  t.is(past.headers.get('content-range'), 'bytes */4');
});

test('308 says "Resume Incomplete"; prettyPrint=false answers compact JSON, the default is indented', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const loc = await startSession(emu, token, '', { name: 'p' }, 2 * KIB256);
  const res = await fetch(loc, { method: 'PUT', headers: { 'content-range': `bytes 0-${KIB256 - 1}/${2 * KIB256}` }, body: new Uint8Array(KIB256) });
  t.is(res.status, 308);
  t.is(res.statusText, 'Resume Incomplete');
  const pretty = await (await fetch(`${emu.url}/drive/v3/files?pageSize=1`, { headers: { authorization: `Bearer ${token}` } })).text();
  t.true(pretty.startsWith('{\n  "kind": "drive#fileList"'), pretty);
  const compact = await (await fetch(`${emu.url}/drive/v3/files?pageSize=1&prettyPrint=false`, { headers: { authorization: `Bearer ${token}` } })).text();
  t.false(compact.includes('\n'));
  t.deepEqual(JSON.parse(compact), JSON.parse(pretty));
  const err = await (await fetch(`${emu.url}/drive/v3/files/nope12345678?prettyPrint=false`, { headers: { authorization: `Bearer ${token}` } })).text();
  t.false(err.includes('\n'));
  t.is(JSON.parse(err).error.code, 404);
});

test('the resumable session Location keeps fields and supportsAllDrives', async (t) => {
  const SD = '0AsharedDriveLoc';
  const emu = await withEmulator(t, { sharedDriveId: SD });
  const token = await userToken(emu);
  const loc = await startSession(emu, token, '&supportsAllDrives=true&fields=id,name,driveId', { name: 'in-shared', parents: [SD] }, 3);
  const u = new URL(loc);
  t.is(u.searchParams.get('fields'), 'id,name,driveId');
  t.is(u.searchParams.get('supportsAllDrives'), 'true');
  t.is(u.searchParams.get('uploadType'), 'resumable');
  t.regex(u.searchParams.get('upload_id') ?? '', /^[A-Za-z0-9_-]+$/);
  const done = await api(emu, null, 'PUT', loc, 'abc', { 'content-range': 'bytes 0-2/3' });
  t.deepEqual(done.json, { id: done.json.id, name: 'in-shared', driveId: SD });
});

test('about.get needs fields and tells the user and storage quota', async (t) => {
  const emu = await withEmulator(t, { faults: { storageQuotaBytes: 1000 } });
  const token = await userToken(emu, 'rt-about');
  await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=media', 'x'.repeat(10), { 'content-type': 'text/plain' });
  const trashed = await api(emu, token, 'POST', '/upload/drive/v3/files?uploadType=media', 'y'.repeat(5), { 'content-type': 'text/plain' });
  await api(emu, token, 'PATCH', `/drive/v3/files/${trashed.json.id}`, { trashed: true });
  const none = await api(emu, token, 'GET', '/drive/v3/about');
  t.is(none.status, 400);
  t.deepEqual(none.json.error.errors[0], {
    domain: 'global',
    reason: 'required',
    message: "The 'fields' parameter is required for this method.",
    location: 'fields',
    locationType: 'parameter',
  });
  const about = await api(emu, token, 'GET', '/drive/v3/about?fields=user(emailAddress,me),storageQuota,kind');
  t.is(about.status, 200);
  t.is(about.json.kind, 'drive#about');
  t.true(about.json.user.me);
  t.regex(about.json.user.emailAddress, /^user-[0-9a-f]{10}@emulator\.local$/);
  t.deepEqual(about.json.storageQuota, { limit: '1000', usage: '15', usageInDrive: '10', usageInDriveTrash: '5' });
  t.deepEqual(emu.stats().requests['GET /drive/v3/about'], { '200': 1, '400': 1 });
});

test('files.copy: same content, "Copy of" name, the source parents, patched metadata; folders refused', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu);
  const dir = await api(emu, token, 'POST', '/drive/v3/files', { name: 'dir', mimeType: FOLDER });
  const other = await api(emu, token, 'POST', '/drive/v3/files', { name: 'other', mimeType: FOLDER });
  const src = await api(
    emu,
    token,
    'POST',
    '/upload/drive/v3/files?uploadType=multipart',
    `--b\r\n\r\n{"name":"src.txt","parents":["${dir.json.id}"],"appProperties":{"a":"1","b":"2"}}\r\n--b\r\n\r\nhello copy\r\n--b--`,
    {
      'content-type': 'multipart/related; boundary=b',
    },
  );
  const f = 'id,name,parents,size,md5Checksum,appProperties,mimeType';
  const c1 = await api(emu, token, 'POST', `/drive/v3/files/${src.json.id}/copy?fields=${f}`, {});
  t.is(c1.status, 200);
  t.not(c1.json.id, src.json.id);
  t.deepEqual(c1.json, {
    id: c1.json.id,
    name: 'Copy of src.txt',
    parents: [dir.json.id],
    size: '10',
    md5Checksum: md5('hello copy'),
    appProperties: { a: '1', b: '2' },
    mimeType: 'application/octet-stream',
  });
  const [id] = await ids(emu, token);
  const c2 = await api(emu, token, 'POST', `/drive/v3/files/${src.json.id}/copy?fields=${f},modifiedTime`, {
    id,
    name: 'renamed.txt',
    parents: [other.json.id],
    appProperties: { b: null, c: '3' },
    modifiedTime: '2020-01-01T00:00:00Z',
  });
  t.deepEqual(c2.json, {
    id,
    name: 'renamed.txt',
    parents: [other.json.id],
    size: '10',
    md5Checksum: md5('hello copy'),
    appProperties: { a: '1', c: '3' },
    mimeType: 'application/octet-stream',
    modifiedTime: '2020-01-01T00:00:00.000Z',
  });
  const media = await fetch(`${emu.url}/drive/v3/files/${id}?alt=media`, { headers: { authorization: `Bearer ${token}` } });
  t.is(await media.text(), 'hello copy');
  // Deleting the source leaves the copy's content alone.
  t.is((await api(emu, token, 'DELETE', `/drive/v3/files/${src.json.id}`)).status, 204);
  t.is(await (await fetch(`${emu.url}/drive/v3/files/${c1.json.id}?alt=media`, { headers: { authorization: `Bearer ${token}` } })).text(), 'hello copy');
  const folderCopy = await api(emu, token, 'POST', `/drive/v3/files/${dir.json.id}/copy`, {});
  t.is(folderCopy.status, 403);
  t.is(folderCopy.json.error.errors[0].reason, 'cannotCopyFile');
  t.is((await api(emu, token, 'POST', '/drive/v3/files/nope12345678/copy', {})).status, 404);
  t.is(emu.stats().storedBytes, 20);
  t.is(emu.stats().writeRequests, 3 + 2 + 1 + 2, 'copies are writes (3 creates, 2 copies, 1 delete, 2 refused copies)');
});

test('files.emptyTrash deletes trashed items and what is under them, in My Drive or one shared drive', async (t) => {
  const SD = '0AsharedDriveTrash';
  const emu = await withEmulator(t, { sharedDriveId: SD });
  const token = await userToken(emu);
  const keep = await api(emu, token, 'POST', '/drive/v3/files', { name: 'keep', mimeType: FOLDER });
  const gone = await api(emu, token, 'POST', '/drive/v3/files', { name: 'gone', mimeType: FOLDER });
  await api(
    emu,
    token,
    'POST',
    '/upload/drive/v3/files?uploadType=multipart',
    `--b\r\n\r\n{"name":"inside","parents":["${gone.json.id}"]}\r\n--b\r\n\r\nabc\r\n--b--`,
    { 'content-type': 'multipart/related; boundary=b' },
  );
  const sharedTrash = await api(emu, token, 'POST', '/drive/v3/files?supportsAllDrives=true', { name: 'shared-trashed', mimeType: FOLDER, parents: [SD] });
  await api(emu, token, 'PATCH', `/drive/v3/files/${gone.json.id}`, { trashed: true });
  await api(emu, token, 'PATCH', `/drive/v3/files/${sharedTrash.json.id}?supportsAllDrives=true`, { trashed: true });
  const res = await api(emu, token, 'DELETE', '/drive/v3/files/trash');
  t.is(res.status, 204);
  t.deepEqual(
    emu
      .listFiles()
      .map((f) => f.name)
      .sort(),
    ['keep', 'shared-trashed'],
  );
  t.is(emu.stats().storedBytes, 0);
  t.is((await api(emu, token, 'DELETE', `/drive/v3/files/trash?driveId=${SD}&supportsAllDrives=true`)).status, 204);
  t.deepEqual(
    emu.listFiles().map((f) => f.id),
    [keep.json.id],
  );
  t.is((await api(emu, token, 'DELETE', '/drive/v3/files/trash?driveId=0Anope&supportsAllDrives=true')).status, 404);
});

test('drives.list pages through the shared drives', async (t) => {
  const emu = await withEmulator(t, { sharedDriveId: '0AsharedDriveList' });
  const token = await userToken(emu);
  const res = await api(emu, token, 'GET', '/drive/v3/drives');
  t.is(res.status, 200);
  t.deepEqual(res.json, { kind: 'drive#driveList', drives: [{ kind: 'drive#drive', id: '0AsharedDriveList', name: 'Emulator shared drive' }] });
  t.is((await api(emu, token, 'GET', '/drive/v3/drives?pageSize=101')).status, 400);
  const none = await withEmulator(t);
  t.deepEqual((await api(none, await userToken(none), 'GET', '/drive/v3/drives?fields=drives(id)')).json, { drives: [] });
});

test('permissions.create and permissions.list: owner implied, grants replace, owner role needs transferOwnership', async (t) => {
  const emu = await withEmulator(t);
  const token = await userToken(emu, 'rt-perm');
  const f = await api(emu, token, 'POST', '/drive/v3/files', { name: 'shared', mimeType: FOLDER });
  const perm = (body: unknown, query = '') => api(emu, token, 'POST', `/drive/v3/files/${f.json.id}/permissions${query}`, body);
  const reader = await perm({ role: 'reader', type: 'user', emailAddress: 'Someone@Example.com' });
  t.is(reader.status, 200);
  t.deepEqual(Object.keys(reader.json).sort(), ['id', 'kind', 'role', 'type']);
  t.regex(reader.json.id, /^\d{20}$/);
  const writer = await perm({ role: 'writer', type: 'user', emailAddress: 'someone@example.com' }, '?fields=id,role,emailAddress');
  t.deepEqual(writer.json, { id: reader.json.id, role: 'writer', emailAddress: 'someone@example.com' });
  const anyone = await perm({ role: 'reader', type: 'anyone' });
  t.is(anyone.json.id, 'anyoneWithLink');
  const list = await api(emu, token, 'GET', `/drive/v3/files/${f.json.id}/permissions`);
  t.is(list.status, 200);
  t.is(list.json.kind, 'drive#permissionList');
  t.deepEqual(
    list.json.permissions.map((p: { role: string; type: string }) => `${p.type}:${p.role}`),
    ['user:owner', 'user:writer', 'anyone:reader'],
  );
  t.regex(list.json.permissions[0].emailAddress, /@emulator\.local$/);
  const owner = await perm({ role: 'owner', type: 'user', emailAddress: 'new@example.com' });
  t.is(owner.status, 403);
  t.regex(owner.json.error.message, /transferOwnership/);
  t.is((await perm({ role: 'boss', type: 'user', emailAddress: 'x@example.com' })).status, 400);
  t.is((await perm({ role: 'reader', type: 'user' })).status, 400);
  t.is((await perm({ type: 'anyone' })).status, 400);
  t.is((await api(emu, token, 'GET', '/drive/v3/files/nope12345678/permissions')).status, 404);
});
