// createDriveClient: the one object the rest of the daemon uses to talk to Google Drive.
import { drive_v3 } from '@googleapis/drive';
import { createDriveAgents, readCaFile } from './agent.js';
import { createDriveAuth } from './auth.js';
import { FILE_FIELDS, makeCall, makeWrite, toInfo, type DriveCore } from './core.js';
import { createDailyCapGuard } from './daily-cap.js';
import { DriveError, PermanentDriveError } from './errors.js';
import { createFolderResolver } from './folders.js';
import { createIdPool } from './id-pool.js';
import { createMediaSender } from './media.js';
import { createPacer, defaultSleep } from './pacer.js';
import type { DriveClient, DriveClientOptions, DriveFileInfo } from './types.js';
import { createUploader } from './upload.js';
import { errorMessage } from '../log/index.js';

/**
 * Reads the credentials (ConfigError naming the file when they are unusable) and returns a
 * DriveClient whose every request, token requests included, goes to `opts.endpoint`.
 */
export async function createDriveClient(opts: DriveClientOptions): Promise<DriveClient> {
  const endpoint = opts.endpoint.replace(/\/+$/, '');
  const now = opts.now ?? (() => Date.now());
  const sleep = opts.sleep ?? defaultSleep;
  const log = opts.log.child({ module: 'drive' });
  const agents = createDriveAgents({
    extraCa: opts.caFile ? await readCaFile(opts.caFile) : null,
    ...(opts.maxSockets ? { maxSockets: opts.maxSockets } : {}),
  });
  const auth = await createDriveAuth(opts.auth, endpoint, agents);
  const media = createMediaSender({ agents, authHeaders: (url) => auth.client.getRequestHeaders(url), ...(opts.env ? { env: opts.env } : {}) });
  // googleapis-common bundles its own google-auth-library copy: same runtime shape, other types.
  type ApiAuth = NonNullable<ConstructorParameters<typeof drive_v3.Drive>[0]['auth']>;
  const api = new drive_v3.Drive({ auth: auth.client as unknown as ApiAuth, rootUrl: endpoint + '/' });
  const pacer = createPacer({
    now,
    sleep,
    onCut: (c) =>
      log.debug(`Drive write rate limited: pacing writes at ${c.ratePerSec.toFixed(2)}/s`, {
        estimatePerSec: c.estimatePerSec === null ? null : Number(c.estimatePerSec.toFixed(2)),
      }),
    ...opts.pacer,
  });
  const cap = createDailyCapGuard({ pacer, now, log, ...(opts.dailyCap ? { options: opts.dailyCap } : {}) });
  const call = makeCall(auth);
  const write = makeWrite({
    call,
    pacer,
    cap,
    now,
    maxRateLimitRetries: opts.maxRateLimitRetries ?? 5,
    ...(opts.onPacerWait ? { onWait: opts.onPacerWait } : {}),
  });

  async function getFile(id: string, signal?: AbortSignal): Promise<DriveFileInfo | null> {
    try {
      const res = await call(() =>
        api.files.get({ fileId: id, fields: FILE_FIELDS, supportsAllDrives: true }, { retry: false, ...(signal ? { signal } : {}) }),
      );
      return toInfo(res.data);
    } catch (e) {
      if (e instanceof DriveError && e.status === 404) return null;
      throw e;
    }
  }

  const core: DriveCore = {
    endpoint,
    api,
    auth,
    pacer,
    cap,
    log,
    media,
    sharedDriveId: opts.sharedDriveId,
    rootFolderId: opts.rootFolderId,
    resumableThresholdBytes: opts.resumableThresholdBytes,
    chunkSizeBytes: opts.chunkSizeBytes,
    maxRateLimitRetries: opts.maxRateLimitRetries ?? 5,
    now,
    call,
    write,
    getFile,
  };
  const ids = createIdPool(core, { batchSize: opts.idBatchSize ?? 1000 });
  const folders = createFolderResolver(core, {
    registry: opts.folderRegistry,
    sleep: (ms) => sleep(ms),
    ...(opts.folderCreatorLeaseMs ? { creatorLeaseMs: opts.folderCreatorLeaseMs } : {}),
    reserveId: async () => {
      const [id] = await ids.take(1);
      if (!id) throw new PermanentDriveError('files.generateIds returned no id');
      return id;
    },
  });
  const upload = createUploader(core);

  async function checkAccess(): Promise<string[]> {
    const problems: string[] = [];
    const who = auth.accountEmail ?? 'this account';
    if (opts.auth.type === 'service_account' && !opts.auth.subject && !opts.sharedDriveId) {
      problems.push('service accounts have no storage quota: set drive.shared_drive_id or auth.subject');
    }
    try {
      await auth.ensureToken();
    } catch (e) {
      // ensureToken's message already reads "auth: cannot get a token: <reason>".
      problems.push(errorMessage(e));
      return problems;
    }
    try {
      const root = await getFile(opts.rootFolderId);
      if (!root) problems.push(`drive.root_folder_id ${opts.rootFolderId}: not found or not shared with ${who}`);
      else if (root.mimeType !== 'application/vnd.google-apps.folder') {
        problems.push(`drive.root_folder_id ${opts.rootFolderId}: is a ${root.mimeType}, not a folder`);
      } else if (root.trashed) problems.push(`drive.root_folder_id ${opts.rootFolderId}: is in the trash`);
    } catch (e) {
      problems.push(`drive.root_folder_id ${opts.rootFolderId}: ${errorMessage(e)}`);
    }
    if (opts.sharedDriveId) {
      const id = opts.sharedDriveId;
      try {
        await call(() => api.drives.get({ driveId: id, fields: 'id,name' }, { retry: false }));
      } catch (e) {
        if (e instanceof DriveError && e.status === 404) problems.push(`drive.shared_drive_id ${id}: not found or ${who} is not a member`);
        else problems.push(`drive.shared_drive_id ${id}: ${errorMessage(e)}`);
      }
    }
    return problems;
  }

  return {
    endpoint,
    reserveIds: (n) => ids.take(n),
    takeFetchedIds: (n) => ids.takeFetched(n),
    returnIds: (list) => ids.giveBack(list),
    ensureFolderPath: (parentId, names) => folders.ensureFolderPath(parentId, names),
    assertInsideRoot: (folderId) => folders.assertInsideRoot(folderId),
    getFile: (id) => getFile(id),
    upload,
    uploadsPausedUntil: () => cap.pausedUntil(),
    checkAccess,
    pacerSnapshot: () => pacer.snapshot(),
    close: () => agents.destroy(),
  };
}
