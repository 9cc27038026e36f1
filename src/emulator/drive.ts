import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  DriveApiError, badRequest, duplicateId, invalidParam, notFound, rateLimited, serviceAccountNoQuota, storageQuotaExceeded,
} from './errors.js';
import type { ContentDigest } from './ingest.js';
import { compileQuery, parseFields, project } from './query.js';
import { FOLDER_MIME, type Identity, type Item, type Store } from './store.js';
import type { EmulatorFaults, EmulatorFile, EmulatorStateDump, EmulatorStateNode } from './types.js';

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const ID_PATTERN = /^[A-Za-z0-9_-]{10,120}$/;

/** A 33-character id shaped like the ones Drive hands out. */
export function newDriveId(): string {
  const bytes = crypto.randomBytes(32);
  let s = '1';
  for (const b of bytes) s += ID_ALPHABET[b & 63];
  return s;
}

export interface Content {
  digest: ContentDigest;
  /** A finished file under the upload dir; it is moved into the blob dir on commit. */
  tmpPath: string;
}

/** A validated create request, waiting for its content. */
export interface CreateDraft {
  id: string | null;
  name: string;
  mimeType: string;
  parent: Item;
  appProperties: Record<string, string>;
}

export interface ListParams {
  q: string | null;
  pageSize: string | null;
  pageToken: string | null;
  corpora: string | null;
  driveId: string | null;
  includeItemsFromAllDrives: boolean;
  supportsAllDrives: boolean;
  fields: string | null;
}

export interface DriveModel {
  readonly myDriveRootId: string;
  generateIds(count: string | null, space: string | null, type: string | null): unknown;
  /** Item visible to the caller, else 404 (shared-drive items need supportsAllDrives). */
  getVisible(id: string, supportsAllDrives: boolean): Item;
  prepareCreate(meta: Record<string, unknown>, identity: Identity, supportsAllDrives: boolean, contentType: string | null, hasContent: boolean): CreateDraft;
  commitCreate(draft: CreateDraft, content: Content | null): Item;
  /** Checks and applies a metadata patch (+ optional new content) to an item; returns the new version. */
  checkPatch(item: Item, meta: Record<string, unknown>, addParents: string | null, removeParents: string | null, supportsAllDrives: boolean): void;
  commitUpdate(id: string, meta: Record<string, unknown>, addParents: string | null, removeParents: string | null, supportsAllDrives: boolean, content: Content | null): Item;
  remove(id: string, supportsAllDrives: boolean): void;
  list(p: ListParams): unknown;
  /** Daily cap and storage quota before content arrives (declared = announced size, if any). */
  checkAllowance(declared: number | null, replacing: number): void;
  resource(item: Item, fields: string | null): unknown;
  blobPath(item: Item): string | null;
  getDrive(id: string): unknown;
  ensureRoots(): void;
  dump(sessions: number): EmulatorStateDump;
  files(): EmulatorFile[];
  uploadedToday(): number;
}

export interface DriveModelDeps {
  store: Store;
  clock: () => number;
  faults: EmulatorFaults;
  rootFolderId: string | undefined;
  sharedDriveId: string | undefined;
  onRateLimited: () => void;
}

const str = (v: unknown, field: string): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidParam(field, `Invalid value for ${field}`);
  return v;
};

function appPropsOf(v: unknown, base: Record<string, string>): Record<string, string> {
  if (v === undefined) return base;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalidParam('appProperties', 'Invalid value for appProperties');
  const out = { ...base };
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (val === null) {
      delete out[k];
      continue;
    }
    if (typeof val !== 'string') throw invalidParam('appProperties', `Invalid value for appProperties.${k}`);
    // Drive: key + value must fit in 124 bytes (UTF-8).
    if (Buffer.byteLength(k) + Buffer.byteLength(val) > 124) {
      throw new DriveApiError(400, { domain: 'global', reason: 'invalidProperty', message: `The property ${k} exceeds the maximum size of 124 bytes for a key and value.` });
    }
    out[k] = val;
  }
  return out;
}

const DAY_MS = 86_400_000;

export function createDriveModel(deps: DriveModelDeps): DriveModel {
  const { store, clock, faults } = deps;
  const items = store.items;
  let myDriveRootId = [...items.values()].find((i) => i.root && i.driveId === null)?.id ?? newDriveId();

  const ensureRoots = (): void => {
    const now = clock();
    const base = { trashed: false, appProperties: {}, createdTime: now, modifiedTime: now, version: 1, size: null, md5: null, sha256: null, blob: null, mimeType: FOLDER_MIME };
    if (!items.has(myDriveRootId)) {
      store.putItem({ ...base, id: myDriveRootId, name: 'My Drive', parents: [], driveId: null, root: true, seq: store.nextSeq() });
    }
    const sd = deps.sharedDriveId;
    if (sd && !items.has(sd)) {
      store.putItem({ ...base, id: sd, name: 'Emulator shared drive', parents: [], driveId: sd, root: true, seq: store.nextSeq() });
    }
    const rf = deps.rootFolderId;
    if (rf && !items.has(rf)) {
      const parent = sd ?? myDriveRootId;
      store.putItem({ ...base, id: rf, name: 'batch-drive-sync root', parents: [parent], driveId: sd ?? null, root: false, seq: store.nextSeq() });
    }
  };

  const todayBytes = (): number => {
    const day = Math.floor(clock() / DAY_MS);
    return store.day.day === day ? store.day.bytes : 0;
  };

  const addUploaded = (n: number): void => {
    const day = Math.floor(clock() / DAY_MS);
    store.setDay(day, (store.day.day === day ? store.day.bytes : 0) + n);
  };

  const getVisible = (id: string, supportsAllDrives: boolean): Item => {
    const realId = id === 'root' ? myDriveRootId : id;
    const it = items.get(realId);
    if (!it || (it.driveId !== null && !supportsAllDrives)) throw notFound(id);
    return it;
  };

  const parentFolder = (id: string, supportsAllDrives: boolean): Item => {
    const p = getVisible(id, supportsAllDrives);
    if (p.mimeType !== FOLDER_MIME) {
      throw new DriveApiError(403, { domain: 'global', reason: 'invalidParent', message: 'The specified parent is not a folder.' });
    }
    return p;
  };

  const checkAllowance = (declared: number | null, replacing: number): void => {
    const cap = faults.dailyUploadCapBytes;
    if (cap !== null) {
      const used = todayBytes();
      if (used >= cap || (declared !== null && declared > 0 && used + declared > cap)) {
        deps.onRateLimited();
        throw rateLimited(403);
      }
    }
    const quota = faults.storageQuotaBytes;
    if (quota !== null && declared !== null && store.storedBytes() - replacing + declared > quota) throw storageQuotaExceeded();
  };

  // After the content arrived: the exact size is known now.
  const checkFinal = (size: number, replacing: number): void => {
    const cap = faults.dailyUploadCapBytes;
    if (cap !== null && size > 0 && todayBytes() + size > cap) {
      deps.onRateLimited();
      throw rateLimited(403);
    }
    const quota = faults.storageQuotaBytes;
    if (quota !== null && store.storedBytes() - replacing + size > quota) throw storageQuotaExceeded();
  };

  const placeBlob = (content: Content): string => {
    const blob = `${crypto.randomUUID()}.bin`;
    fs.renameSync(content.tmpPath, path.join(store.blobDir, blob));
    return blob;
  };

  const dropBlob = (blob: string | null): void => {
    if (blob) fs.rmSync(path.join(store.blobDir, blob), { force: true });
  };

  const setDriveRecursive = (it: Item, driveId: string | null): void => {
    for (const child of items.values()) {
      if (child.parents[0] === it.id && child.driveId !== driveId) {
        store.putItem({ ...child, driveId });
        setDriveRecursive(child, driveId);
      }
    }
  };

  const applyParents = (it: Item, addParents: string | null, removeParents: string | null, supportsAllDrives: boolean): { parents: string[]; driveId: string | null } => {
    const add = (addParents ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
    const rem = (removeParents ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (add.length === 0 && rem.length === 0) return { parents: it.parents, driveId: it.driveId };
    let parents = it.parents.filter((p) => !rem.includes(p) && !rem.includes(p === myDriveRootId ? 'root' : p));
    let driveId = it.driveId;
    for (const a of add) {
      const p = parentFolder(a, supportsAllDrives);
      if (!parents.includes(p.id)) parents = [...parents, p.id];
      driveId = p.driveId;
    }
    if (parents.length > 1) {
      throw new DriveApiError(403, { domain: 'global', reason: 'cannotAddParent', message: 'Increasing the number of parents is not allowed. A file can have only one parent.' });
    }
    if (parents.length === 0) {
      throw new DriveApiError(403, { domain: 'global', reason: 'cannotRemoveParent', message: 'An item must have exactly one parent.' });
    }
    return { parents, driveId };
  };

  const resource = (it: Item): Record<string, unknown> => {
    const folder = it.mimeType === FOLDER_MIME;
    const r: Record<string, unknown> = {
      kind: 'drive#file',
      id: it.id,
      name: it.name,
      mimeType: it.mimeType,
      parents: it.parents.length > 0 ? it.parents : undefined,
      trashed: it.trashed,
      explicitlyTrashed: it.trashed,
      appProperties: Object.keys(it.appProperties).length > 0 ? it.appProperties : undefined,
      createdTime: new Date(it.createdTime).toISOString(),
      modifiedTime: new Date(it.modifiedTime).toISOString(),
      version: String(it.version),
      webViewLink: folder ? `https://drive.google.com/drive/folders/${it.id}` : `https://drive.google.com/file/d/${it.id}/view?usp=drivesdk`,
      spaces: ['drive'],
      driveId: it.driveId ?? undefined,
      ownedByMe: it.driveId === null,
      quotaBytesUsed: String(it.size ?? 0),
    };
    if (!folder) {
      r.size = String(it.size ?? 0);
      r.md5Checksum = it.md5 ?? undefined;
      r.sha256Checksum = it.sha256 ?? undefined;
      r.webContentLink = `https://drive.google.com/uc?id=${it.id}&export=download`;
      r.originalFilename = it.name;
      const dot = it.name.lastIndexOf('.');
      if (dot > 0) r.fileExtension = it.name.slice(dot + 1);
    }
    return r;
  };

  const project1 = (it: Item, fields: string | null): unknown =>
    project(resource(it), parseFields(fields && fields.trim() !== '' ? fields : 'kind,id,name,mimeType'));

  const node = (it: Item, children: Map<string, Item[]>): EmulatorStateNode => {
    const n: EmulatorStateNode = { id: it.id, name: it.name, mimeType: it.mimeType, trashed: it.trashed, appProperties: it.appProperties };
    if (it.mimeType === FOLDER_MIME) {
      n.children = (children.get(it.id) ?? []).map((c) => node(c, children));
    } else {
      n.size = it.size ?? 0;
      if (it.md5) n.md5Checksum = it.md5;
    }
    return n;
  };

  const ordered = (): Item[] => [...items.values()].sort((a, b) => a.seq - b.seq);

  return {
    get myDriveRootId() {
      return myDriveRootId;
    },
    generateIds: (countRaw, space, type) => {
      const count = countRaw === null ? 10 : Number(countRaw);
      if (!Number.isInteger(count) || count < 1 || count > 1000) {
        throw invalidParam('count', `Invalid value '${countRaw ?? ''}'. Values must be within the range: [1, 1000]`);
      }
      const sp = space ?? 'drive';
      if (sp !== 'drive' && sp !== 'appDataFolder') throw invalidParam('space');
      if (type !== null && type !== 'files' && type !== 'shortcuts') throw invalidParam('type');
      return { kind: 'drive#generatedIds', space: sp, ids: Array.from({ length: count }, newDriveId) };
    },
    getVisible,
    prepareCreate: (meta, identity, supportsAllDrives, contentType, hasContent) => {
      const id = str(meta.id, 'id') ?? null;
      if (id !== null) {
        if (!ID_PATTERN.test(id)) {
          throw new DriveApiError(400, { domain: 'global', reason: 'fileIdNotUsable', message: 'The provided file ID is not usable.', location: 'file.id', locationType: 'other' });
        }
        if (items.has(id)) throw duplicateId();
      }
      if (meta.parents !== undefined && (!Array.isArray(meta.parents) || meta.parents.some((p) => typeof p !== 'string'))) {
        throw invalidParam('parents', 'Invalid value for parents');
      }
      const parents = (meta.parents as string[] | undefined) ?? [];
      if (parents.length > 1) {
        throw new DriveApiError(403, { domain: 'global', reason: 'cannotAddParent', message: 'Increasing the number of parents is not allowed. A file can have only one parent.' });
      }
      const parent = parentFolder(parents[0] ?? myDriveRootId, supportsAllDrives);
      const mimeType = str(meta.mimeType, 'mimeType') ?? (hasContent ? contentType ?? 'application/octet-stream' : 'application/octet-stream');
      const name = str(meta.name, 'name') ?? 'Untitled';
      const appProperties = appPropsOf(meta.appProperties, {});
      // A service account without delegation owns nothing in My Drive; folders are allowed.
      if (!identity.hasQuota && parent.driveId === null && mimeType !== FOLDER_MIME) throw serviceAccountNoQuota();
      return { id, name, mimeType, parent, appProperties };
    },
    commitCreate: (draft, content) => {
      if (draft.id !== null && items.has(draft.id)) throw duplicateId();
      if (!items.has(draft.parent.id)) throw notFound(draft.parent.id);
      const folder = draft.mimeType === FOLDER_MIME;
      if (content) checkFinal(content.digest.size, 0);
      const now = clock();
      const item: Item = {
        id: draft.id ?? newDriveId(),
        name: draft.name,
        mimeType: draft.mimeType,
        parents: [draft.parent.id],
        driveId: draft.parent.driveId,
        trashed: false,
        appProperties: draft.appProperties,
        createdTime: now,
        modifiedTime: now,
        version: 1,
        size: folder ? null : content?.digest.size ?? 0,
        md5: folder ? null : content?.digest.md5 ?? 'd41d8cd98f00b204e9800998ecf8427e',
        sha256: folder ? null : content?.digest.sha256 ?? 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        blob: content && !folder ? placeBlob(content) : null,
        root: false,
        seq: store.nextSeq(),
      };
      if (content) addUploaded(content.digest.size);
      store.putItem(item);
      return item;
    },
    checkPatch: (item, meta, addParents, removeParents, supportsAllDrives) => {
      if (meta.parents !== undefined) {
        throw new DriveApiError(403, { domain: 'global', reason: 'fieldNotWritable', message: 'The resource body includes fields which are not directly writable.' });
      }
      if (meta.id !== undefined && meta.id !== item.id) {
        throw new DriveApiError(403, { domain: 'global', reason: 'fieldNotWritable', message: 'The resource body includes fields which are not directly writable.' });
      }
      str(meta.name, 'name');
      str(meta.mimeType, 'mimeType');
      if (meta.trashed !== undefined && typeof meta.trashed !== 'boolean') throw invalidParam('trashed', 'Invalid value for trashed');
      appPropsOf(meta.appProperties, item.appProperties);
      applyParents(item, addParents, removeParents, supportsAllDrives);
    },
    commitUpdate: (id, meta, addParents, removeParents, supportsAllDrives, content) => {
      const it = getVisible(id, supportsAllDrives);
      if (it.root) throw new DriveApiError(403, { domain: 'global', reason: 'insufficientFilePermissions', message: 'The user does not have sufficient permissions for this file.' });
      const { parents, driveId } = applyParents(it, addParents, removeParents, supportsAllDrives);
      const folder = it.mimeType === FOLDER_MIME;
      if (content && folder) throw badRequest('Folders cannot have content.');
      if (content) checkFinal(content.digest.size, it.size ?? 0);
      const next: Item = {
        ...it,
        name: str(meta.name, 'name') ?? it.name,
        mimeType: str(meta.mimeType, 'mimeType') ?? it.mimeType,
        trashed: typeof meta.trashed === 'boolean' ? meta.trashed : it.trashed,
        appProperties: appPropsOf(meta.appProperties, it.appProperties),
        parents,
        driveId,
        version: it.version + 1,
        modifiedTime: clock(),
      };
      if (content) {
        next.size = content.digest.size;
        next.md5 = content.digest.md5;
        next.sha256 = content.digest.sha256;
        next.blob = placeBlob(content);
        addUploaded(content.digest.size);
      }
      store.putItem(next);
      if (content) dropBlob(it.blob);
      if (driveId !== it.driveId) setDriveRecursive(next, driveId);
      return next;
    },
    remove: (id, supportsAllDrives) => {
      const it = getVisible(id, supportsAllDrives);
      if (it.root) throw new DriveApiError(403, { domain: 'global', reason: 'insufficientFilePermissions', message: 'The user does not have sufficient permissions for this file.' });
      // Deleting a folder deletes everything under it, as in Drive.
      const doomed = [it];
      for (let i = 0; i < doomed.length; i++) {
        const cur = doomed[i] as Item;
        for (const c of items.values()) if (c.parents[0] === cur.id) doomed.push(c);
      }
      for (const d of doomed) {
        store.deleteItem(d.id);
        dropBlob(d.blob);
      }
    },
    list: (p) => {
      const corpora = p.corpora ?? 'user';
      if (!['user', 'drive', 'allDrives', 'domain'].includes(corpora)) throw invalidParam('corpora');
      if ((corpora === 'drive') !== (p.driveId !== null)) {
        throw invalidParam('driveId', 'The driveId parameter must be specified if and only if corpora is set to drive.');
      }
      const allDrives = p.includeItemsFromAllDrives && p.supportsAllDrives;
      if (corpora === 'drive' && !allDrives) {
        throw invalidParam('includeItemsFromAllDrives', 'The includeItemsFromAllDrives parameter must be set to true when corpora is set to drive.');
      }
      if (p.driveId !== null) {
        const d = items.get(p.driveId);
        if (!d || !d.root || d.driveId !== p.driveId) {
          throw new DriveApiError(404, { domain: 'global', reason: 'notFound', message: `Shared drive not found: ${p.driveId}`, location: 'driveId', locationType: 'parameter' });
        }
      }
      const pageSize = p.pageSize === null ? 100 : Number(p.pageSize);
      if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
        throw invalidParam('pageSize', `Invalid value '${p.pageSize ?? ''}'. Values must be within the range: [1, 1000]`);
      }
      const pred = compileQuery(p.q ?? '');
      const qKey = crypto.createHash('sha1').update(`${p.q ?? ''}|${corpora}|${p.driveId ?? ''}|${String(allDrives)}`).digest('base64url').slice(0, 10);
      // Page tokens carry the seq of the last item returned, so items created meanwhile don't shift pages.
      let afterSeq = 0;
      if (p.pageToken !== null) {
        const m = /^([A-Za-z0-9_-]{10})~(\d+)$/.exec(p.pageToken);
        if (!m || m[1] !== qKey) throw invalidParam('pageToken');
        afterSeq = Number(m[2]);
      }
      const visible = (it: Item): boolean => {
        if (it.root) return false;
        if (corpora === 'drive') return it.driveId === p.driveId;
        return it.driveId === null || allDrives;
      };
      const page: Item[] = [];
      let more = false;
      for (const it of ordered()) {
        if (it.seq <= afterSeq || !visible(it) || !pred(it)) continue;
        if (page.length === pageSize) {
          more = true;
          break;
        }
        page.push(it);
      }
      const last = page[page.length - 1];
      const body = {
        kind: 'drive#fileList',
        incompleteSearch: false,
        nextPageToken: more && last ? `${qKey}~${last.seq}` : undefined,
        files: page.map(resource),
      };
      const fields = p.fields && p.fields.trim() !== '' ? p.fields : 'kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)';
      return project(body, parseFields(fields));
    },
    checkAllowance,
    resource: project1,
    blobPath: (it) => (it.blob ? path.join(store.blobDir, it.blob) : null),
    getDrive: (id) => {
      const d = items.get(id);
      if (!d || !d.root || d.driveId !== id) {
        throw new DriveApiError(404, { domain: 'global', reason: 'notFound', message: `Shared drive not found: ${id}`, location: 'driveId', locationType: 'parameter' });
      }
      return { kind: 'drive#drive', id: d.id, name: d.name, createdTime: new Date(d.createdTime).toISOString() };
    },
    ensureRoots: () => {
      myDriveRootId = [...items.values()].find((i) => i.root && i.driveId === null)?.id ?? myDriveRootId;
      ensureRoots();
    },
    dump: (sessions) => {
      const children = new Map<string, Item[]>();
      let fileCount = 0;
      let folderCount = 0;
      for (const it of ordered()) {
        if (it.root) continue;
        if (it.mimeType === FOLDER_MIME) folderCount++;
        else fileCount++;
        const p = it.parents[0];
        if (p === undefined) continue;
        const list = children.get(p);
        if (list) list.push(it);
        else children.set(p, [it]);
      }
      const roots = ordered().filter((i) => i.root);
      const my = roots.find((r) => r.driveId === null) as Item;
      return {
        myDrive: node(my, children),
        sharedDrives: roots.filter((r) => r.driveId !== null).map((r) => node(r, children)),
        fileCount,
        folderCount,
        uploadSessions: sessions,
      };
    },
    files: () =>
      ordered()
        .filter((i) => !i.root)
        .map((i) => ({
          id: i.id,
          name: i.name,
          mimeType: i.mimeType,
          parents: [...i.parents],
          size: i.size,
          md5Checksum: i.md5,
          sha256Checksum: i.sha256,
          appProperties: { ...i.appProperties },
          trashed: i.trashed,
          driveId: i.driveId,
          version: i.version,
          createdTime: new Date(i.createdTime).toISOString(),
          modifiedTime: new Date(i.modifiedTime).toISOString(),
        })),
    uploadedToday: todayBytes,
  };
}
