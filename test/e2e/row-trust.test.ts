// Database rows are input: a session URI or a Drive id written there by someone else is checked
// before use. The token never goes to a foreign URL; a file the row did not make is never touched.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { api, driveClient, oauthClient, userToken } from '../helpers/emulator.js';
import { md5, ROOT_FOLDER_ID, setupE2E, type E2E } from '../helpers/e2e.js';

/** A local HTTP server that records every request it gets (and answers 404). */
async function listener(t: ExecutionContext): Promise<{ port: number; seen: { method: string; url: string; auth: string }[] }> {
  const seen: { method: string; url: string; auth: string }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization ?? '' });
    req.resume();
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, seen };
}

async function insertRow(e: E2E, job: string, name: string, cols: Record<string, unknown>): Promise<void> {
  const row: Record<string, unknown> = { batch_job_id: job, original_filename: name, upload_status: 'pending', ...cols };
  const keys = Object.keys(row);
  await e.sql(`INSERT INTO batch_file_drive_metadata (${keys.join(', ')}) VALUES (${keys.map(() => '?').join(', ')})`, ...Object.values(row));
}

test("a resumable_session_uri off the configured endpoint (or not Drive's shape) is discarded: the foreign listener sees no request, the file still uploads", async (t) => {
  const e = await setupE2E(t, { logFormat: 'json' });
  const l = await listener(t);
  const foreign = `http://127.0.0.1:${l.port}`;
  const uris = [
    `${foreign}/upload/drive/v3/files?uploadType=resumable&upload_id=stolen`,
    `http://localhost:${l.port}/upload/drive/v3/files?uploadType=resumable&upload_id=stolen`,
    `${foreign}/collect?upload_id=1`,
    `${e.emu.url}/drive/v3/files?upload_id=abc`,
    `${e.emu.url}/upload/drive/v3/files?uploadType=resumable`,
    `${e.emu.url}/upload/drive/v3/files/someone-elses-file?uploadType=resumable&upload_id=abc`,
    `${e.emu.url.replace('http://', 'http://user:pw@')}/upload/drive/v3/files?upload_id=abc`,
    'not a url at all',
  ];
  await e.addJob('sess');
  const expected: { job: string; rel: string; content: string }[] = [];
  for (const [i, uri] of uris.entries()) {
    const rel = `s${i}.txt`;
    const content = `content of ${rel}`;
    e.writeFile('sess', rel, content);
    await insertRow(e, 'sess', rel, { resumable_session_uri: uri, resumable_offset: 5 });
    expected.push({ job: 'sess', rel, content });
  }
  const r = await e.cli(['sync', '--once'], { timeoutMs: 60_000 });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(l.seen, [], 'the URL from the database got no request (and so no token)');
  const refused = r.stderr
    .split('\n')
    .filter((x) => x.startsWith('{'))
    .map((x) => JSON.parse(x) as Record<string, unknown>)
    .filter((x) => x.message === 'stored resumable session URI refused; starting a new session');
  t.deepEqual(refused.map((x) => x.file).sort(), expected.map((x) => x.rel).sort(), r.stderr);
  t.true(refused.every((x) => x.level === 'warning' && typeof x.reason === 'string'));
  t.regex(String(refused.find((x) => x.file === 's0.txt')?.reason), /not on the configured drive\.api_endpoint/);
  t.regex(String(refused.find((x) => x.file === 's4.txt')?.reason), /no upload_id/);
  const rows = await e.rows('sess');
  t.true(
    rows.every((x) => x.upload_status === 'uploaded'),
    JSON.stringify(rows.map((x) => [x.original_filename, x.upload_status, x.upload_error])),
  );
  const files = e.driveFiles();
  t.is(files.length, uris.length);
  for (const x of expected) t.is(files.find((f) => f.name === x.rel)?.md5Checksum, md5(x.content), x.rel);
  const after = await e.sql<{ n: number }>('SELECT count(*) AS n FROM batch_file_drive_metadata WHERE resumable_session_uri IS NOT NULL');
  t.is(after[0]?.n, 0, 'no refused URI is left in the rows');
});

test("a drive_file_id or reserved_drive_id naming another job's file or a stranger's file fails the row; those files keep content, name and revision", async (t) => {
  const e = await setupE2E(t);
  // Another job's file, made by the daemon.
  await e.addJob('job-a');
  e.writeFile('job-a', 'a.txt', 'A content');
  t.is((await e.cli(['sync', '--once'])).code, 0);
  const xId = (await e.rows('job-a'))[0]?.drive_file_id ?? '';
  t.truthy(xId);
  // A stranger's file, made directly in Drive (no appProperties of ours).
  const stranger = await driveClient(oauthClient(e.emu, 'rt-stranger')).files.create({
    requestBody: { name: 'strangers-report.pdf', parents: [ROOT_FOLDER_ID] },
    media: { mimeType: 'application/pdf', body: Readable.from([Buffer.from("the stranger's own bytes")]) },
    fields: 'id',
  });
  const sId = stranger.data.id ?? '';
  t.truthy(sId);
  const snapshot = () =>
    e.emu
      .listFiles()
      .filter((f) => f.id === xId || f.id === sId)
      .map(({ id, name, md5Checksum, size, version, modifiedTime, parents, appProperties, trashed }) => ({
        id,
        name,
        md5Checksum,
        size,
        version,
        modifiedTime,
        parents,
        appProperties,
        trashed,
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
  const before = snapshot();
  t.is(before.length, 2);

  await e.addJob('job-b');
  const cases: [string, string, Record<string, unknown>][] = [
    ['b-update-other-job.txt', 'B overwrites?', { drive_file_id: xId }],
    ['b-update-stranger.txt', 'B overwrites the stranger?', { drive_file_id: sId }],
    ['b-reserved-other-job.txt', 'A content', { reserved_drive_id: xId }], // same bytes: would be "already there"
    ['b-reserved-stranger.txt', 'B into the stranger?', { reserved_drive_id: sId }],
  ];
  for (const [name, content, cols] of cases) {
    e.writeFile('job-b', name, content);
    await insertRow(e, 'job-b', name, cols);
  }
  e.writeFile('job-b', 'b-normal.txt', 'normal');

  const r = await e.cli(['sync', '--once'], { timeoutMs: 60_000 });
  t.is(r.code, 1, `rows failed: ${r.stdout}${r.stderr}`);
  const rows = await e.rows('job-b');
  const by = (n: string) => rows.find((x) => x.original_filename === n);
  for (const [name, , cols] of cases) {
    const row = by(name);
    const column = 'drive_file_id' in cols ? 'drive_file_id' : 'reserved_drive_id';
    t.is(row?.upload_status, 'failed', name);
    t.regex(
      row?.upload_error ?? '',
      new RegExp(
        `^${column} \\S+ names a Drive file this row did not make \\(.*expected bdsJob="job-b" bdsRow="${row?.id}"\\); refused, nothing on Drive was changed$`,
      ),
      `${name}: ${row?.upload_error}`,
    );
  }
  t.regex(by('b-update-stranger.txt')?.upload_error ?? '', /no bdsJob\/bdsRow appProperties/);
  t.regex(by('b-update-other-job.txt')?.upload_error ?? '', /bdsJob="job-a" bdsRow="1"/);
  t.is(by('b-normal.txt')?.upload_status, 'uploaded');
  t.deepEqual(snapshot(), before, "the other job's file and the stranger's file are untouched");
  t.is((await e.jobRow('job-b'))?.drive_upload_status, 'failed');
  t.is((await e.rows('job-a'))[0]?.upload_status, 'uploaded');
});

test('a session URI on our endpoint that belongs to another file is caught when it finishes: the row keeps its own id and uploads again', async (t) => {
  const e = await setupE2E(t, { logFormat: 'json' });
  // Another upload's session on the same endpoint (as if copied from another row).
  const token = await userToken(e.emu, 'rt-other-row');
  const start = await api(
    e.emu,
    token,
    'POST',
    '/upload/drive/v3/files?uploadType=resumable',
    { name: 'another-rows-file.bin', parents: [ROOT_FOLDER_ID] },
    { 'x-upload-content-length': '4' },
  );
  const foreignSession = start.headers.get('location') ?? '';
  t.regex(foreignSession, /upload_id=/);
  await e.addJob('copied');
  e.writeFile('copied', 'mine.txt', 'mine');
  await insertRow(e, 'copied', 'mine.txt', { resumable_session_uri: foreignSession, resumable_offset: 0 });

  const r = await e.cli(['sync', '--once'], { timeoutMs: 60_000 });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /foreignSession/);
  const [row] = await e.rows('copied');
  t.is(row?.upload_status, 'uploaded');
  t.truthy(row?.reserved_drive_id);
  t.is(row?.drive_file_id, row?.reserved_drive_id, 'the row records its own reserved id, not the file the foreign session made');
  const mine = e.driveFiles().find((f) => f.id === row?.drive_file_id);
  t.like(mine, { name: 'mine.txt', md5Checksum: md5('mine'), appProperties: { bdsJob: 'copied', bdsRow: String(row?.id) } });
});

test('a job folder id in batch_drive_metadata outside drive.root_folder_id fails the rows; a folder registry entry outside its parent is passed over; nothing lands outside', async (t) => {
  const e = await setupE2E(t, { logFormat: 'json' });
  // Folders outside the root, shared with the account (here: made by another user in their own My Drive).
  const stranger = driveClient(oauthClient(e.emu, 'rt-stranger'));
  const outside = async (name: string) =>
    (await stranger.files.create({ requestBody: { name, mimeType: 'application/vnd.google-apps.folder' }, fields: 'id' })).data.id ?? '';
  const exfil = await outside('collect-here');
  const exfil2 = await outside('collect-here-too');
  t.truthy(exfil && exfil2);

  // 1. The stored job folder of a job already under way is rewritten.
  await e.addJob('job-f');
  e.writeFile('job-f', 'first.txt', 'first');
  t.is((await e.cli(['sync', '--once'])).code, 0);
  await e.sql('UPDATE batch_drive_metadata SET drive_folder_id = ? WHERE batch_job_id = ?', exfil, 'job-f');
  e.writeFile('job-f', 'second.txt', 'second');
  // 2. The registry entry of the first level of every job's folder path points outside.
  t.is((await e.sql('SELECT 1 FROM batch_drive_folders WHERE parent_id = ? AND name = ?', ROOT_FOLDER_ID, 'batch')).length, 1);
  await e.sql('UPDATE batch_drive_folders SET drive_folder_id = ? WHERE parent_id = ? AND name = ?', exfil2, ROOT_FOLDER_ID, 'batch');
  await e.addJob('job-g');
  e.writeFile('job-g', 'g.txt', 'g');

  const r = await e.cli(['sync', '--once'], { timeoutMs: 60_000 });
  t.is(r.code, 1, `a row failed: ${r.stdout}${r.stderr}`);
  const second = (await e.rows('job-f')).find((x) => x.original_filename === 'second.txt');
  t.is(second?.upload_status, 'failed');
  t.regex(
    second?.upload_error ?? '',
    new RegExp(`^Drive folder ${exfil} is not inside drive\\.root_folder_id ${ROOT_FOLDER_ID} \\(.+\\); refused, nothing was uploaded$`),
    second?.upload_error ?? '',
  );
  t.is((await e.rows('job-f')).find((x) => x.original_filename === 'first.txt')?.upload_status, 'uploaded');
  // The registry entry was passed over with a warning; job-g's folder is under the root.
  const g = (await e.rows('job-g'))[0];
  t.is(g?.upload_status, 'uploaded', g?.upload_error ?? '');
  t.true(
    r.stderr.split('\n').some((l) => l.includes('folder registry entry names a folder that is not in its parent') && l.includes(exfil2)),
    r.stderr,
  );
  const byId = new Map(e.emu.listFiles().map((f) => [f.id, f]));
  let at = byId.get(g?.drive_file_id ?? '');
  for (let i = 0; at && at.id !== ROOT_FOLDER_ID && i < 10; i++) at = byId.get(at.parents[0] ?? '');
  t.is(at?.id, ROOT_FOLDER_ID, "job-g's file is under the root folder");
  const landed = e.emu.listFiles().filter((f) => f.parents.some((p) => p === exfil || p === exfil2));
  t.deepEqual(landed, [], 'nothing made or uploaded in the folders outside the root');
});
