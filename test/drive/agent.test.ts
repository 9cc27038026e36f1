// The Drive client's sockets: kept alive across requests, and drive.ca_file checked at start.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '../../src/config/index.js';
import { RetryableDriveError } from '../../src/drive/index.js';
import { createEmulator } from '../../src/emulator/index.js';
import { ROOT_ID, setup, tempDir, writeRandomFile } from '../helpers/drive.js';

test('requests reuse kept-alive connections: 30 metadata calls and 10 uploads over at most a few sockets', async (t) => {
  const { server, listen } = createEmulator({ rootFolderId: ROOT_ID });
  let connections = 0;
  server.on('connection', () => connections++);
  const emu = await listen();
  t.teardown(() => emu.close());
  const s = await setup(t);
  const drive = await s.make({ endpoint: emu.url });
  t.teardown(() => drive.close());
  t.deepEqual(await drive.checkAccess(), []);
  const folder = await drive.ensureFolderPath(ROOT_ID, ['keep-alive']);
  for (let i = 0; i < 30; i++) t.truthy(await drive.getFile(folder));
  const ids = await drive.reserveIds(10);
  for (const [i, id] of ids.entries()) {
    const p = await writeRandomFile(s.dir, `f${i}.bin`, 2000);
    const r = await drive.upload({ fileId: id, name: `f${i}.bin`, parentId: folder, file: await s.open(p), appProperties: {}, mode: 'create' });
    t.is(r.file.id, id);
  }
  // Sequential calls: one socket serves them all (a second one may open for the token request).
  t.true(connections <= 2, `${connections} connections for ~45 sequential requests`);
});

test('drive.ca_file that cannot be read, or holds no certificate, is a ConfigError naming the key and file', async (t) => {
  const s = await setup(t);
  const dir = await tempDir(t);
  const missing = join(dir, 'nope.pem');
  const e1 = await t.throwsAsync(s.make({ caFile: missing }), { instanceOf: ConfigError });
  t.regex(e1.message, /drive\.ca_file .*nope\.pem: cannot read \(ENOENT\); expected a PEM file/);
  const junk = join(dir, 'junk.pem');
  await writeFile(junk, 'not a certificate\n');
  const e2 = await t.throwsAsync(s.make({ caFile: junk }), { instanceOf: ConfigError });
  t.regex(e2.message, /drive\.ca_file .*junk\.pem: no "-----BEGIN CERTIFICATE-----" block/);
});

test("over TLS: the emulator's own CA in drive.ca_file is trusted (requests share kept-alive sockets); without it the certificate is refused", async (t) => {
  const tlsDir = await tempDir(t);
  const { server, listen } = createEmulator({ rootFolderId: ROOT_ID, tls: { selfSignedDir: tlsDir } });
  let connections = 0;
  server.on('secureConnection', () => connections++);
  const emu = await listen();
  t.teardown(() => emu.close());
  t.truthy(emu.caFile);
  t.true(emu.url.startsWith('https://'));
  const s = await setup(t);
  const trusted = await s.make({ endpoint: emu.url, caFile: emu.caFile });
  t.teardown(() => trusted.close());
  t.deepEqual(await trusted.checkAccess(), []);
  const folder = await trusted.ensureFolderPath(ROOT_ID, ['over-tls']);
  const [id] = await trusted.reserveIds(1);
  const p = await writeRandomFile(s.dir, 'tls.bin', 3000);
  const r = await trusted.upload({ fileId: id!, name: 'tls.bin', parentId: folder, file: await s.open(p), appProperties: {}, mode: 'create' });
  t.is(r.size, 3000);
  for (let i = 0; i < 10; i++) t.truthy(await trusted.getFile(folder));
  t.true(connections <= 2, `${connections} TLS connections for ~16 sequential requests`);

  const untrusted = await s.make({ endpoint: emu.url });
  t.teardown(() => untrusted.close());
  const problems = await untrusted.checkAccess();
  t.is(problems.length, 1);
  t.regex(problems[0] ?? '', /TLS certificate .* not trusted \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\).*drive\.ca_file/);
  // An upload says the same: what is wrong (the code) and what fixes it.
  const p2 = await writeRandomFile(s.dir, 'refused.bin', 3000);
  const e = await t.throwsAsync(
    untrusted.upload({ fileId: id!, name: 'refused.bin', parentId: folder, file: await s.open(p2), appProperties: {}, mode: 'create' }),
  );
  t.regex(e.message, /TLS certificate .* not trusted \(\w+\): set drive\.ca_file/);
  t.true(e instanceof RetryableDriveError, 'retried with backoff: the operator may fix the trust store while the rows wait');
});
