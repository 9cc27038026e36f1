import test from 'ava';
import { escapeQueryValue, FOLDER_MIME } from '../../src/drive/index.js';
import type { EmulatorFile } from '../../src/emulator/index.js';
import { ROOT_ID, setup } from '../helpers/drive.js';
import { api, userToken } from '../helpers/emulator.js';

function folders(files: EmulatorFile[]): EmulatorFile[] {
  return files.filter((f) => f.mimeType === FOLDER_MIME && !f.trashed && f.id !== ROOT_ID);
}

test('10 concurrent ensureFolderPath of one 3-level path -> one folder per level, one lookup per level', async (t) => {
  const s = await setup(t);
  const ids = await Promise.all(Array.from({ length: 10 }, () => s.drive.ensureFolderPath(ROOT_ID, ['batch', '2025-09-12', 'job-1'])));
  t.is(new Set(ids).size, 1);
  const fs = folders(s.emu.listFiles());
  t.is(fs.length, 3);
  t.deepEqual(fs.map((f) => f.name).sort(), ['2025-09-12', 'batch', 'job-1']);
  const leaf = fs.find((f) => f.name === 'job-1');
  t.is(leaf?.id, ids[0]);
  t.is(fs.find((f) => f.name === '2025-09-12')?.parents[0], fs.find((f) => f.name === 'batch')?.id);
  const req = s.emu.stats().requests;
  t.is(req['POST /drive/v3/files']?.['200'], 3);
  // Cached: no further request.
  const before = s.emu.stats().driveRequests;
  t.is(await s.drive.ensureFolderPath(ROOT_ID, ['batch', '2025-09-12', 'job-1']), ids[0]!);
  t.is(s.emu.stats().driveRequests, before);
});

test('a second client (restart) finds the folders instead of creating them', async (t) => {
  const s = await setup(t);
  const a = await s.drive.ensureFolderPath(ROOT_ID, ['x', 'y', 'z']);
  const restarted = await s.make();
  const again = await Promise.all(Array.from({ length: 5 }, () => restarted.ensureFolderPath(ROOT_ID, ['x', 'y', 'z'])));
  t.deepEqual(new Set(again), new Set([a]));
  t.is(folders(s.emu.listFiles()).length, 3);
  // A sibling path shares the existing levels.
  await restarted.ensureFolderPath(ROOT_ID, ['x', 'y', 'other']);
  t.is(folders(s.emu.listFiles()).length, 4);
});

test('two clients racing on the same new path converge on one folder per level', async (t) => {
  const s = await setup(t);
  const c1 = await s.make();
  const c2 = await s.make();
  const [a, b] = await Promise.all([c1.ensureFolderPath(ROOT_ID, ['race', 'r1']), c2.ensureFolderPath(ROOT_ID, ['race', 'r1'])]);
  t.is(a, b);
  t.is(folders(s.emu.listFiles()).length, 2);
});

test('hostile folder names round-trip exactly and are found again', async (t) => {
  const s = await setup(t);
  const names = ["it's", 'back\\slash', "a\\'b", "' or name contains '", 'quote"d', 'ünïcødé 日本語 🚀', 'trailing\\', "''"];
  const ids = new Map<string, string>();
  for (const n of names) ids.set(n, await s.drive.ensureFolderPath(ROOT_ID, ['hostile', n]));
  const fresh = await s.make();
  for (const n of names) t.is(await fresh.ensureFolderPath(ROOT_ID, ['hostile', n]), ids.get(n)!, n);
  const fs = folders(s.emu.listFiles());
  t.deepEqual(fs.map((f) => f.name).sort(), ['hostile', ...names].sort());
  t.is(new Set(ids.values()).size, names.length);
});

test('escapeQueryValue escapes backslash then quote', (t) => {
  t.is(escapeQueryValue("a'b"), "a\\'b");
  t.is(escapeQueryValue('a\\b'), 'a\\\\b');
  t.is(escapeQueryValue("\\'"), "\\\\\\'");
});

test('two folders of the same name (made elsewhere) -> the oldest by createdTime is used, by every client', async (t) => {
  let offset = 0;
  const s = await setup(t, { emulator: { clock: () => Date.now() + offset } });
  const parent = await s.drive.ensureFolderPath(ROOT_ID, ['dups']);
  // Another tool made two folders named 'same'; the one made second has the older timestamp.
  const tok = (await (
    await fetch(`${s.emu.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=refresh_token&refresh_token=1//other-tool&client_id=other',
    })
  ).json()) as { access_token: string };
  const mk = async (): Promise<string> => {
    const r = await fetch(`${s.emu.url}/drive/v3/files?fields=id`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tok.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'same', mimeType: FOLDER_MIME, parents: [parent] }),
    });
    return ((await r.json()) as { id: string }).id;
  };
  offset = 60_000;
  const newer = await mk();
  offset = -60_000;
  const older = await mk();
  t.not(newer, older);
  t.is(await s.drive.ensureFolderPath(parent, ['same']), older);
  t.is(await (await s.make()).ensureFolderPath(parent, ['same']), older);
  t.is(folders(s.emu.listFiles()).filter((f) => f.name === 'same').length, 2); // nothing created, nothing trashed
});

test('with a shared folder registry, clients racing (as two daemons on one database) create each folder exactly once, none trashed', async (t) => {
  const s = await setup(t);
  const clients = await Promise.all(Array.from({ length: 4 }, () => s.make()));
  const ids = await Promise.all(
    clients.flatMap((c) => [c.ensureFolderPath(ROOT_ID, ['reg', 'job-1', 'pages']), c.ensureFolderPath(ROOT_ID, ['reg', 'job-1', 'pages'])]),
  );
  t.is(new Set(ids).size, 1);
  const all = s.emu.listFiles().filter((f) => f.mimeType === FOLDER_MIME && f.id !== ROOT_ID);
  t.deepEqual(all.map((f) => f.name).sort(), ['job-1', 'pages', 'reg'], 'no duplicate, nothing created and trashed');
  t.true(all.every((f) => !f.trashed));
});

test('clients racing on one database send one create per folder: the first recorder creates, the others wait for it (no 409)', async (t) => {
  const s = await setup(t);
  const clients = await Promise.all(Array.from({ length: 3 }, () => s.make()));
  const before = s.emu.stats().requests['POST /drive/v3/files'] ?? {};
  const listsBefore = s.emu.stats().requests['GET /drive/v3/files']?.['200'] ?? 0;
  const ids = await Promise.all(clients.map((c) => c.ensureFolderPath(ROOT_ID, ['race', 'job-9'])));
  t.is(new Set(ids).size, 1);
  const creates = s.emu.stats().requests['POST /drive/v3/files'] ?? {};
  t.is((creates['200'] ?? 0) - (before['200'] ?? 0), 2, 'one create per level');
  t.is((s.emu.stats().requests['GET /drive/v3/files']?.['200'] ?? 0) - listsBefore, 2, 'one look for a folder made elsewhere per level: by the lease holder');
  t.is((creates['409'] ?? 0) - (before['409'] ?? 0), 0, 'no create lost to another client');
  t.deepEqual(
    folders(s.emu.listFiles())
      .map((f) => f.name)
      .sort(),
    ['job-9', 'race'],
  );
  t.deepEqual(await s.registry.entry(ROOT_ID, 'race'), { id: folders(s.emu.listFiles()).find((f) => f.name === 'race')?.id, creatingUntil: null });
});

test('a creator that crashed mid-creation: its lease runs out, another client makes the folder with the recorded id, once', async (t) => {
  const s = await setup(t);
  const [never, made] = await s.drive.reserveIds(2);
  // Crashed before its create: the lease is live for a moment longer, then taken over.
  t.is(await s.registry.claim(ROOT_ID, 'never-made', never!, Date.now() + 300), never!);
  // Crashed after its create, before recording it as made: the take-over's create gets 409.
  t.is(await s.registry.claim(ROOT_ID, 'made-unrecorded', made!, Date.now() - 1), made!);
  await api(s.emu, await userToken(s.emu), 'POST', '/drive/v3/files', { id: made, name: 'made-unrecorded', mimeType: FOLDER_MIME, parents: [ROOT_ID] });
  const c = await s.make();
  t.deepEqual(await Promise.all([c.ensureFolderPath(ROOT_ID, ['never-made']), c.ensureFolderPath(ROOT_ID, ['made-unrecorded'])]), [never, made]);
  for (const [name, id] of [
    ['never-made', never],
    ['made-unrecorded', made],
  ] as const) {
    t.deepEqual(
      folders(s.emu.listFiles())
        .filter((f) => f.name === name)
        .map((f) => f.id),
      [id],
      name,
    );
    t.deepEqual(await s.registry.entry(ROOT_ID, name), { id, creatingUntil: null }, name);
  }
});

test('uploads starting together into a folder this client has not seen check it is inside the root once, not once each', async (t) => {
  const s = await setup(t);
  const id = (
    await api(s.emu, await userToken(s.emu), 'POST', '/drive/v3/files', { name: 'made-by-another-daemon', mimeType: FOLDER_MIME, parents: [ROOT_ID] })
  ).json.id as string;
  const gets = () => s.emu.stats().requests['GET /drive/v3/files/{id}']?.['200'] ?? 0;
  const before = gets();
  await Promise.all(Array.from({ length: 4 }, () => s.drive.assertInsideRoot(id)));
  t.is(gets() - before, 1);
  await s.drive.assertInsideRoot(id);
  t.is(gets() - before, 1, 'remembered');
});

test('a folder id recorded but never created (crash between the two) is created with that id on the next run', async (t) => {
  const s = await setup(t);
  const [reserved] = await s.drive.reserveIds(1);
  t.is(await s.registry.claim(ROOT_ID, 'half-made', reserved!), reserved!);
  const c = await s.make();
  t.is(await c.ensureFolderPath(ROOT_ID, ['half-made']), reserved!);
  const f = folders(s.emu.listFiles()).filter((x) => x.name === 'half-made');
  t.deepEqual(
    f.map((x) => x.id),
    [reserved],
  );
  // A folder made by another tool before us is found and recorded, not made again.
  const other = (await api(s.emu, await userToken(s.emu), 'POST', '/drive/v3/files', { name: 'made-elsewhere', mimeType: FOLDER_MIME, parents: [ROOT_ID] }))
    .json.id as string;
  t.is((await s.registry.entry(ROOT_ID, 'made-elsewhere'))?.id ?? null, null);
  t.is(await c.ensureFolderPath(ROOT_ID, ['made-elsewhere']), other);
  t.is((await s.registry.entry(ROOT_ID, 'made-elsewhere'))?.id, other);
  t.is(folders(s.emu.listFiles()).filter((x) => x.name === 'made-elsewhere').length, 1);
});
