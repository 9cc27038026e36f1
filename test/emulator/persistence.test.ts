import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import test from 'ava';
import { api, md5, userToken, withEmulator } from '../helpers/emulator.js';
import type { Emulator } from '../../src/emulator/index.js';

const FOLDER = 'application/vnd.google-apps.folder';
const KIB256 = 256 * 1024;

function tempDir(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-persist-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function download(emu: Emulator, token: string, id: string): Promise<Buffer> {
  const res = await fetch(`${emu.url}/drive/v3/files/${id}?alt=media&supportsAllDrives=true`, { headers: { authorization: `Bearer ${token}` } });
  return Buffer.from(await res.arrayBuffer());
}

test('state and contents survive a clean restart with dataDir', async (t) => {
  const dir = tempDir(t);
  const opts = { dataDir: dir, sharedDriveId: '0AsharedPersist01', rootFolderId: 'rootPersist00001' };
  const first = await withEmulator(t, opts);
  let token = await userToken(first);
  const folder = await api(first, token, 'POST', '/drive/v3/files?supportsAllDrives=true', { name: 'job', mimeType: FOLDER, parents: ['rootPersist00001'] });
  const body = crypto.randomBytes(5000);
  const file = await api(first, token, 'POST', '/upload/drive/v3/files?uploadType=media&supportsAllDrives=true', new Uint8Array(body), {
    'content-type': 'application/octet-stream',
  });
  await api(
    first,
    token,
    'PATCH',
    `/drive/v3/files/${file.json.id}?supportsAllDrives=true&addParents=${folder.json.id}&removeParents=${encodeURIComponent('root')}`,
    {},
  );
  const renamed = await api(first, token, 'PATCH', `/drive/v3/files/${file.json.id}?supportsAllDrives=true&fields=name,parents,version,driveId`, {
    name: 'renamed.bin',
    appProperties: { k: 'v' },
  });
  t.is(renamed.status, 200);
  t.deepEqual(renamed.json, { name: 'renamed.bin', parents: [folder.json.id], version: '3', driveId: '0AsharedPersist01' });
  const before = first.listFiles();
  await first.close();

  const second = await withEmulator(t, opts);
  t.deepEqual(second.listFiles(), before);
  token = await userToken(second);
  t.is(md5(await download(second, token, file.json.id)), md5(body));
  // A reused id is still a duplicate after the restart.
  const dup = await api(second, token, 'POST', '/drive/v3/files', { id: file.json.id, name: 'again' });
  t.is(dup.status, 409);
  t.is(second.state().sharedDrives[0]?.children?.[0]?.id, 'rootPersist00001');
});

test('SIGKILLed emulator process: every answered mutation and the resumable session survive', async (t) => {
  const dir = tempDir(t);
  const fixture = fileURLToPath(new URL('./fixtures/run-emulator.js', import.meta.url));
  const child = spawn(process.execPath, [fixture, '--port', '0', '--data', dir, '--root-folder', 'rootKill00000001'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve(line.trim());
    });
    child.on('exit', (code) => reject(new Error(`emulator exited early (${String(code)})`)));
  });
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const remote = { url } as Emulator;
  const token = await userToken(remote);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await api(
      remote,
      token,
      'POST',
      `/upload/drive/v3/files?uploadType=multipart`,
      `--b\r\n\r\n{"name":"f${i}","parents":["rootKill00000001"]}\r\n--b\r\n\r\ncontent-${i}\r\n--b--`,
      {
        'content-type': 'multipart/related; boundary=b',
      },
    );
    t.is(r.status, 200);
    ids.push(r.json.id);
  }
  const data = crypto.randomBytes(KIB256 + 10);
  const start = await api(
    remote,
    token,
    'POST',
    '/upload/drive/v3/files?uploadType=resumable',
    { name: 'big' },
    { 'x-upload-content-length': String(data.length) },
  );
  const loc = start.headers.get('location') as string;
  const chunk = await api(remote, null, 'PUT', loc, new Uint8Array(data.subarray(0, KIB256)), { 'content-range': `bytes 0-${KIB256 - 1}/${data.length}` });
  t.is(chunk.status, 308);

  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;

  const port = Number(new URL(url).port);
  const again = await withEmulator(t, { dataDir: dir, rootFolderId: 'rootKill00000001', port });
  const names = again
    .listFiles()
    .filter((f) => f.mimeType !== FOLDER)
    .map((f) => f.name);
  t.deepEqual(names, ['f0', 'f1', 'f2', 'f3', 'f4']);
  const token2 = await userToken(again);
  t.is((await download(again, token2, ids[3] as string)).toString(), 'content-3');
  // The session URI still works after the restart: resume from the confirmed offset.
  const status = await api(again, null, 'PUT', loc, '', { 'content-range': `bytes */${data.length}` });
  t.is(status.status, 308);
  t.is(status.headers.get('range'), `bytes=0-${KIB256 - 1}`);
  const done = await api(again, null, 'PUT', `${loc}&fields=md5Checksum,size`, new Uint8Array(data.subarray(KIB256)), {
    'content-range': `bytes ${KIB256}-${data.length - 1}/${data.length}`,
  });
  t.deepEqual(done.json, { md5Checksum: md5(data), size: String(data.length) });
});
