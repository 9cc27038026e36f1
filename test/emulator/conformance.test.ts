// Conformance: Google's own Python client (Debian's python3-googleapi), unchanged, runs a scripted
// Drive session against the emulator over HTTP and over TLS, with short pages and partial chunks
// injected. The client must get through the session, and what it saw must match the emulator's
// state. `.ci/run` installs the package; without it this test fails (it never skips).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { md5, withEmulator, withTlsEmulator } from '../helpers/emulator.js';
import { repoPath } from '../helpers/paths.js';
import type { Emulator, EmulatorOptions } from '../../src/emulator/index.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const script = repoPath('test', 'emulator', 'conformance', 'drive_session.py');
const FOLDER = 'application/vnd.google-apps.folder';

async function clientVersion(): Promise<string> {
  try {
    const { stdout } = await run(PYTHON, ['-c', 'import googleapiclient, google_auth_httplib2, httplib2; print(googleapiclient.__version__)']);
    return stdout.trim();
  } catch (e) {
    throw new Error(
      `Google's Python client is not installed for ${PYTHON} (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); ` +
        'install it with `apt-get install -y python3-googleapi` (.ci/run does)',
      { cause: e },
    );
  }
}

/** What drive_session.py prints: one JSON object, a field per step. */

type SessionOutput = any;

async function session(emu: Emulator, ca: string | null): Promise<SessionOutput> {
  try {
    const { stdout } = await run(PYTHON, [script, emu.url, ca ?? '-', 'rt-python-client'], {
      timeout: 120_000,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    return JSON.parse(stdout);
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`the Python client's session failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`, { cause: e });
  }
}

const faults: EmulatorOptions['faults'] = { shortPageRate: 0.5, partialChunkRate: 1, partialChunkAnswer: '308', seed: 4 };

for (const mode of ['http', 'tls'] as const) {
  test(`google-api-python-client session over ${mode}: every step as on Drive`, async (t) => {
    t.log(`google-api-python-client ${await clientVersion()}`);
    const emu = mode === 'tls' ? await withTlsEmulator(t, { faults }) : await withEmulator(t, { faults });
    const out = await session(emu, emu.caFile);

    t.deepEqual(out.about.user.me, true);
    t.regex(out.about.user.emailAddress, /@emulator\.local$/);
    t.is(out.ids.length, 4);
    t.deepEqual(out.madeUpId, { status: 400, reason: 'fileIdNotUsable', message: 'The provided file ID is not usable.' });

    // Multipart with LF line ends, id from generateIds, modifiedTime kept.
    t.deepEqual(out.small, {
      id: out.ids[1],
      name: 'small.txt',
      md5Checksum: md5('small file from the Python client\n'),
      size: '34',
      modifiedTime: '2020-05-06T07:08:09.000Z',
      mimeType: 'text/plain',
    });
    // Resumable: the client followed the mid-chunk Ranges the partial-chunk fault answered.
    t.deepEqual(out.big, { id: out.ids[2], md5Checksum: out.bigMd5, size: String(3 * 1024 * 1024 + 123) });
    t.true(
      out.bigProgress.some((p: number) => p % (1024 * 1024) !== 0),
      `progress ${out.bigProgress.join(',')}`,
    );
    t.true(emu.stats().partialChunks >= 1);

    t.deepEqual(out.listed, ['small.txt', 'big.bin'], 'orderBy name desc, every item once through short pages');
    t.deepEqual(out.contains, ['small.txt'], "name contains 'SMA' is a case-insensitive prefix match");
    t.deepEqual(out.rootChildren, ['py-folder']);
    t.deepEqual(out.badOrderBy, { status: 400, reason: 'invalid', message: 'Invalid Value' });
    t.is(out.downloadMd5, out.bigMd5);
    t.true(out.downloadPieces >= 6, 'ranged download in pieces');
    t.deepEqual(out.touched, { modifiedTime: '2021-01-02T03:04:05.000Z', version: '2' });
    t.deepEqual(out.copy, { id: out.copy.id, name: 'small-copy.txt', md5Checksum: out.small.md5Checksum, parents: [out.folder] });
    t.deepEqual(
      out.permissions.map((p: { role: string }) => p.role),
      ['owner', 'reader'],
    );
    t.deepEqual(out.drives, { kind: 'drive#driveList', drives: [] });
    // The old client's empty-file bugs meet Google's answers (400 and 416), not a friendlier emulator.
    t.deepEqual(out.emptyResumable, { status: 400, reason: 'badRequest', message: 'Failed to parse Content-Range header.' });
    t.deepEqual(out.empty.size, '0');
    t.deepEqual(out.emptyDownload, { status: 416 });
    t.deepEqual(out.afterEmptyTrash, ['big.bin', 'empty.txt', 'py-folder', 'small.txt']);

    // The emulator's own state agrees with what the client saw.
    const state = emu.listFiles();
    t.deepEqual(state.map((f) => f.name).sort(), ['big.bin', 'py-folder', 'small.txt']);
    t.is(state.find((f) => f.name === 'py-folder')?.mimeType, FOLDER);
    t.is(state.find((f) => f.name === 'small.txt')?.modifiedTime, '2021-01-02T03:04:05.000Z');
    t.is(state.find((f) => f.name === 'big.bin')?.md5Checksum, out.bigMd5);
    t.deepEqual(
      state.filter((f) => f.name !== 'py-folder').map((f) => f.parents),
      [[out.folder], [out.folder]],
    );
    const r = emu.stats().requests;
    t.deepEqual(r['GET /discovery/v1/apis/drive/v3/rest'], { '200': 1 });
    t.deepEqual(r['POST /token'], { '200': 1 });
    t.is(r['GET /drive/v3/files/{id}?alt=media']?.['416'], 1);
  });
}
