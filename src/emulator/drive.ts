import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  DriveApiError,
  badRequest,
  cannotAddParent,
  duplicateId,
  fieldNotWritable,
  insufficientFilePermissions,
  invalidParam,
  notFound,
  rateLimited,
  required,
  serviceAccountNoQuota,
  sharedDriveNotFound,
  storageQuotaExceeded,
} from './errors.js';
import type { ContentDigest } from './ingest.js';
import { compileQuery, parseFields, project } from './query.js';
import { FOLDER_MIME, type Identity, type Item, type Permission, type Store } from './store.js';
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
  /** Set by the client (rclone and the daemon send the local file's mtime); else the commit time. */
  modifiedTime: number | undefined;
  owner: string;
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
  orderBy: string | null;
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
  commitUpdate(
    id: string,
    meta: Record<string, unknown>,
    addParents: string | null,
    removeParents: string | null,
    supportsAllDrives: boolean,
    content: Content | null,
  ): Item;
  remove(id: string, supportsAllDrives: boolean): void;
  list(p: ListParams): unknown;
  /** Daily cap and storage quota before content arrives (declared = announced size, if any). */
  checkAllowance(declared: number | null, replacing: number): void;
  resource(item: Item, fields: string | null): unknown;
  blobPath(item: Item): string | null;
  getDrive(id: string): unknown;
  /** files.copy: a new file with the source's content, metadata patched by `meta`. */
  copy(id: string, meta: Record<string, unknown>, identity: Identity, supportsAllDrives: boolean): Item;
  /** files.emptyTrash: deletes every trashed item of My Drive, or of the shared drive `driveId` (no supportsAllDrives needed, as in Drive). */
  emptyTrash(driveId: string | null): void;
  about(identity: Identity, fields: string | null): unknown;
  listDrives(pageSize: string | null, pageToken: string | null, q: string | null, fields: string | null): unknown;
  createPermission(id: string, body: Record<string, unknown>, supportsAllDrives: boolean, transferOwnership: boolean, fields: string | null): unknown;
  listPermissions(id: string, supportsAllDrives: boolean, fields: string | null): unknown;
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
  /** Short-page fault: how many of the `n` items of a page to answer, or null for all. */
  shortPage: (n: number) => number | null;
}

const str = (v: unknown, field: string): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidParam(field, `Invalid value for ${field}`);
  return v;
};

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/** `modifiedTime` a client set (RFC 3339), in epoch ms; undefined when absent. Drive keeps milliseconds. */
function modifiedTimeOf(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const t = typeof v === 'string' && RFC3339.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) {
    throw invalidParam('modifiedTime', `Invalid value for modifiedTime: ${JSON.stringify(v)} is not an RFC 3339 date-time.`);
  }
  return t;
}

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
      throw new DriveApiError(400, {
        domain: 'global',
        reason: 'invalidProperty',
        message: `The property ${k} exceeds the maximum size of 124 bytes for a key and value.`,
      });
    }
    out[k] = val;
  }
  return out;
}

const DAY_MS = 86_400_000;

/** Drive's permission ids for people are 20 digits, stable per email address. */
function permissionIdOf(email: string): string {
  const h = crypto.createHash('sha256').update(email.toLowerCase()).digest();
  let out = '';
  for (let i = 0; out.length < 20; i++) out += String((h[i % h.length] as number) % 10);
  return out;
}

/** files.list `orderBy` keys Drive accepts. Keys about per-user activity sort as modifiedTime here. */
const ORDER_KEYS: Record<string, (a: Item, b: Item) => number> = {
  createdTime: (a, b) => a.createdTime - b.createdTime,
  folder: (a, b) => Number(b.mimeType === FOLDER_MIME) - Number(a.mimeType === FOLDER_MIME),
  modifiedByMeTime: (a, b) => a.modifiedTime - b.modifiedTime,
  modifiedTime: (a, b) => a.modifiedTime - b.modifiedTime,
  name: (a, b) => {
    const x = a.name.toLowerCase();
    const y = b.name.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  },
  name_natural: (a, b) => a.name.localeCompare(b.name, 'en', { numeric: true, sensitivity: 'base' }),
  quotaBytesUsed: (a, b) => (a.size ?? 0) - (b.size ?? 0),
  recency: (a, b) => a.modifiedTime - b.modifiedTime,
  sharedWithMeTime: () => 0,
  starred: () => 0,
  viewedByMeTime: (a, b) => a.modifiedTime - b.modifiedTime,
};

/** `folder,modifiedTime desc,name` -> comparator; an unknown key or modifier is Drive's 400 invalid (orderBy). */
export function compileOrderBy(raw: string): (a: Item, b: Item) => number {
  const keys = raw.split(',').map((part) => {
    const m = /^\s*([A-Za-z_]+)(?:\s+(asc|desc))?\s*$/i.exec(part);
    const cmp = m ? ORDER_KEYS[m[1] as string] : undefined;
    if (!m || !cmp || !Object.hasOwn(ORDER_KEYS, m[1] as string)) throw invalidParam('orderBy');
    return m[2]?.toLowerCase() === 'desc' ? (a: Item, b: Item) => cmp(b, a) : cmp;
  });
  return (a, b) => {
    for (const k of keys) {
      const d = k(a, b);
      if (d !== 0) return d;
    }
    return a.seq - b.seq;
  };
}

const idNotUsable = (): DriveApiError =>
  new DriveApiError(400, {
    domain: 'global',
    reason: 'fileIdNotUsable',
    message: 'The provided file ID is not usable.',
    location: 'file.id',
    locationType: 'other',
  });

export function createDriveModel(deps: DriveModelDeps): DriveModel {
  const { store, clock, faults } = deps;
  const items = store.items;
  let myDriveRootId = [...items.values()].find((i) => i.root && i.driveId === null)?.id ?? newDriveId();

  const ensureRoots = (): void => {
    const now = clock();
    const base = {
      trashed: false,
      appProperties: {},
      createdTime: now,
      modifiedTime: now,
      version: 1,
      size: null,
      md5: null,
      sha256: null,
      blob: null,
      mimeType: FOLDER_MIME,
    };
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

  const applyParents = (
    it: Item,
    addParents: string | null,
    removeParents: string | null,
    supportsAllDrives: boolean,
  ): { parents: string[]; driveId: string | null } => {
    const add = (addParents ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const rem = (removeParents ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (add.length === 0 && rem.length === 0) return { parents: it.parents, driveId: it.driveId };
    let parents = it.parents.filter((p) => !rem.includes(p) && !rem.includes(p === myDriveRootId ? 'root' : p));
    let driveId = it.driveId;
    for (const a of add) {
      const p = parentFolder(a, supportsAllDrives);
      if (!parents.includes(p.id)) parents = [...parents, p.id];
      driveId = p.driveId;
    }
    if (parents.length > 1) {
      throw cannotAddParent();
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

  /** A new item from a checked draft, version 1, with the given content facts (a folder: all null). */
  const newItem = (draft: CreateDraft, content: Pick<Item, 'size' | 'md5' | 'sha256' | 'blob'>): Item => {
    const now = clock();
    return {
      id: draft.id ?? newDriveId(),
      name: draft.name,
      mimeType: draft.mimeType,
      parents: [draft.parent.id],
      driveId: draft.parent.driveId,
      trashed: false,
      appProperties: draft.appProperties,
      createdTime: now,
      modifiedTime: draft.modifiedTime ?? now,
      version: 1,
      ...content,
      root: false,
      seq: store.nextSeq(),
      owner: draft.owner,
    };
  };

  const prepareCreate: DriveModel['prepareCreate'] = (meta, identity, supportsAllDrives, contentType, hasContent) => {
    const id = str(meta.id, 'id') ?? null;
    if (id !== null) {
      if (!ID_PATTERN.test(id)) throw idNotUsable();
      if (items.has(id)) throw duplicateId();
      // Drive creates only with ids it handed out (generateIds); a made-up id is refused.
      if (!store.issuedIds.has(id)) throw idNotUsable();
    }
    if (meta.parents !== undefined && (!Array.isArray(meta.parents) || meta.parents.some((p) => typeof p !== 'string'))) {
      throw invalidParam('parents', 'Invalid value for parents');
    }
    const parents = (meta.parents as string[] | undefined) ?? [];
    if (parents.length > 1) {
      throw cannotAddParent();
    }
    const parent = parentFolder(parents[0] ?? myDriveRootId, supportsAllDrives);
    const mimeType = str(meta.mimeType, 'mimeType') ?? (hasContent ? (contentType ?? 'application/octet-stream') : 'application/octet-stream');
    const name = str(meta.name, 'name') ?? 'Untitled';
    const appProperties = appPropsOf(meta.appProperties, {});
    const modifiedTime = modifiedTimeOf(meta.modifiedTime);
    // A service account without delegation owns nothing in My Drive; folders are allowed.
    if (!identity.hasQuota && parent.driveId === null && mimeType !== FOLDER_MIME) throw serviceAccountNoQuota();
    return { id, name, mimeType, parent, appProperties, modifiedTime, owner: identity.email };
  };

  const ordered = (): Item[] => [...items.values()].sort((a, b) => a.seq - b.seq);

  // Deleting a folder deletes everything under it, as in Drive.
  const deleteTree = (tops: Item[]): void => {
    const doomed = [...tops];
    const seen = new Set(doomed.map((d) => d.id));
    for (let i = 0; i < doomed.length; i++) {
      const cur = doomed[i] as Item;
      for (const c of items.values()) {
        if (c.parents[0] === cur.id && !seen.has(c.id)) {
          seen.add(c.id);
          doomed.push(c);
        }
      }
    }
    for (const d of doomed) {
      store.deleteItem(d.id);
      dropBlob(d.blob);
    }
  };

  const sharedDrive = (id: string): Item => {
    const d = items.get(id);
    if (!d || !d.root || d.driveId !== id) {
      throw sharedDriveNotFound(id);
    }
    return d;
  };
  const driveResource = (d: Item): Record<string, unknown> => ({
    kind: 'drive#drive',
    id: d.id,
    name: d.name,
    createdTime: new Date(d.createdTime).toISOString(),
    hidden: false,
  });

  const permissionResource = (p: Permission): Record<string, unknown> => ({ kind: 'drive#permission', ...p });
  const ownerPermission = (it: Item): Permission[] =>
    it.owner !== undefined && it.driveId === null ? [{ id: permissionIdOf(it.owner), type: 'user', role: 'owner', emailAddress: it.owner }] : [];

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
      const ids = Array.from({ length: count }, newDriveId);
      store.issueIds(ids);
      return { kind: 'drive#generatedIds', space: sp, ids };
    },
    getVisible,
    prepareCreate,
    commitCreate: (draft, content) => {
      if (draft.id !== null && items.has(draft.id)) throw duplicateId();
      if (!items.has(draft.parent.id)) throw notFound(draft.parent.id);
      const folder = draft.mimeType === FOLDER_MIME;
      if (content) checkFinal(content.digest.size, 0);
      const item = newItem(draft, {
        size: folder ? null : (content?.digest.size ?? 0),
        md5: folder ? null : (content?.digest.md5 ?? 'd41d8cd98f00b204e9800998ecf8427e'),
        sha256: folder ? null : (content?.digest.sha256 ?? 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
        blob: content && !folder ? placeBlob(content) : null,
      });
      if (content) addUploaded(content.digest.size);
      store.putItem(item);
      return item;
    },
    checkPatch: (item, meta, addParents, removeParents, supportsAllDrives) => {
      if (meta.parents !== undefined) {
        throw fieldNotWritable();
      }
      if (meta.id !== undefined && meta.id !== item.id) {
        throw fieldNotWritable();
      }
      str(meta.name, 'name');
      str(meta.mimeType, 'mimeType');
      if (meta.trashed !== undefined && typeof meta.trashed !== 'boolean') throw invalidParam('trashed', 'Invalid value for trashed');
      modifiedTimeOf(meta.modifiedTime);
      appPropsOf(meta.appProperties, item.appProperties);
      applyParents(item, addParents, removeParents, supportsAllDrives);
    },
    commitUpdate: (id, meta, addParents, removeParents, supportsAllDrives, content) => {
      const it = getVisible(id, supportsAllDrives);
      if (it.root) throw insufficientFilePermissions();
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
        modifiedTime: modifiedTimeOf(meta.modifiedTime) ?? clock(),
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
      if (it.root) throw insufficientFilePermissions();
      deleteTree([it]);
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
          throw sharedDriveNotFound(p.driveId);
        }
      }
      const pageSize = p.pageSize === null ? 100 : Number(p.pageSize);
      if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
        throw invalidParam('pageSize', `Invalid value '${p.pageSize ?? ''}'. Values must be within the range: [1, 1000]`);
      }
      const pred = compileQuery(p.q ?? '', myDriveRootId);
      const orderBy = p.orderBy?.trim() ? p.orderBy.trim() : null;
      const cmp = orderBy === null ? null : compileOrderBy(orderBy);
      const qKey = crypto
        .createHash('sha1')
        .update(`${p.q ?? ''}|${corpora}|${p.driveId ?? ''}|${String(allDrives)}|${orderBy ?? ''}`)
        .digest('base64url')
        .slice(0, 10);
      // Without orderBy a token carries the seq of the last item returned, so items created
      // meanwhile don't shift pages; with orderBy it carries the position in the sorted list.
      let after = 0;
      if (p.pageToken !== null) {
        const m = /^([A-Za-z0-9_-]{10})~(\d+)$/.exec(p.pageToken);
        if (!m || m[1] !== qKey) throw invalidParam('pageToken');
        after = Number(m[2]);
      }
      const visible = (it: Item): boolean => {
        if (it.root) return false;
        if (corpora === 'drive') return it.driveId === p.driveId;
        return it.driveId === null || allDrives;
      };
      let page: Item[] = [];
      let more = false;
      if (cmp === null) {
        for (const it of ordered()) {
          if (it.seq <= after || !visible(it) || !pred(it)) continue;
          if (page.length === pageSize) {
            more = true;
            break;
          }
          page.push(it);
        }
      } else {
        const all = ordered()
          .filter((it) => visible(it) && pred(it))
          .sort(cmp);
        page = all.slice(after, after + pageSize);
        more = after + pageSize < all.length;
      }
      // Drive may answer fewer than pageSize (even none) and still give a token: a client must
      // follow nextPageToken, not stop at the first short page.
      const cut = page.length > 1 || (page.length === 1 && more) ? deps.shortPage(page.length) : null;
      if (cut !== null) {
        page = page.slice(0, cut);
        more = true;
      }
      const last = page[page.length - 1];
      const token = cmp === null ? `${qKey}~${last ? last.seq : after}` : `${qKey}~${after + page.length}`;
      const body = {
        kind: 'drive#fileList',
        incompleteSearch: false,
        nextPageToken: more ? token : undefined,
        files: page.map(resource),
      };
      const fields = p.fields && p.fields.trim() !== '' ? p.fields : 'kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)';
      return project(body, parseFields(fields));
    },
    checkAllowance,
    resource: project1,
    blobPath: (it) => (it.blob ? path.join(store.blobDir, it.blob) : null),
    getDrive: (id) => driveResource(sharedDrive(id)),
    copy: (id, meta, identity, supportsAllDrives) => {
      const src = getVisible(id, supportsAllDrives);
      if (src.mimeType === FOLDER_MIME || src.root) {
        throw new DriveApiError(403, { domain: 'global', reason: 'cannotCopyFile', message: 'This file cannot be copied by the user.' });
      }
      // Patch semantics over the source: what the body leaves out comes from the source, the
      // parents included ("inherits any discoverable parents of the source file").
      const draft = prepareCreate(
        { ...meta, name: meta.name ?? `Copy of ${src.name}`, mimeType: meta.mimeType ?? src.mimeType, parents: meta.parents ?? src.parents },
        identity,
        supportsAllDrives,
        null,
        true,
      );
      draft.appProperties = appPropsOf(meta.appProperties, src.appProperties);
      const size = src.size ?? 0;
      const quota = faults.storageQuotaBytes;
      if (quota !== null && store.storedBytes() + size > quota) throw storageQuotaExceeded();
      let blob: string | null = null;
      if (src.blob) {
        blob = `${crypto.randomUUID()}.bin`;
        fs.copyFileSync(path.join(store.blobDir, src.blob), path.join(store.blobDir, blob));
      }
      const item = newItem(draft, { size: src.size, md5: src.md5, sha256: src.sha256, blob });
      store.putItem(item);
      return item;
    },
    emptyTrash: (driveId) => {
      if (driveId !== null) sharedDrive(driveId);
      deleteTree([...items.values()].filter((it) => it.trashed && !it.root && it.driveId === driveId));
    },
    about: (identity, fields) => {
      // Drive refuses about.get without a field selection.
      if (fields === null || fields.trim() === '') {
        throw required('fields', "The 'fields' parameter is required for this method.", 'parameter');
      }
      let inDrive = 0;
      let inTrash = 0;
      for (const it of items.values()) {
        if (it.driveId !== null) continue;
        if (it.trashed) inTrash += it.size ?? 0;
        else inDrive += it.size ?? 0;
      }
      const quota = faults.storageQuotaBytes;
      const storageQuota: Record<string, string> = {
        usage: String(inDrive + inTrash),
        usageInDrive: String(inDrive),
        usageInDriveTrash: String(inTrash),
      };
      // No limit field means unlimited, as Drive answers for such accounts.
      if (quota !== null) storageQuota.limit = String(quota);
      else if (!identity.hasQuota) storageQuota.limit = '0';
      const body = {
        kind: 'drive#about',
        user: {
          kind: 'drive#user',
          displayName: identity.email.split('@')[0],
          me: true,
          permissionId: permissionIdOf(identity.email),
          emailAddress: identity.email,
        },
        storageQuota,
        maxUploadSize: '5497558138880',
        appInstalled: false,
        canCreateDrives: true,
        importFormats: {},
        exportFormats: {},
        maxImportSizes: {},
        folderColorPalette: [],
      };
      return project(body, parseFields(fields));
    },
    listDrives: (pageSizeRaw, pageToken, q, fields) => {
      const pageSize = pageSizeRaw === null ? 10 : Number(pageSizeRaw);
      if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
        throw invalidParam('pageSize', `Invalid value '${pageSizeRaw ?? ''}'. Values must be within the range: [1, 100]`);
      }
      let start = 0;
      if (pageToken !== null) {
        const m = /^d~(\d+)$/.exec(pageToken);
        if (!m) throw invalidParam('pageToken');
        start = Number(m[1]);
      }
      const pred = compileQuery(q ?? '', myDriveRootId);
      const all = ordered().filter((it) => it.root && it.driveId !== null && pred(it));
      const page = all.slice(start, start + pageSize);
      const body = {
        kind: 'drive#driveList',
        nextPageToken: start + pageSize < all.length ? `d~${start + pageSize}` : undefined,
        drives: page.map(driveResource),
      };
      return project(body, parseFields(fields && fields.trim() !== '' ? fields : 'kind,nextPageToken,drives(kind,id,name)'));
    },
    createPermission: (id, body, supportsAllDrives, transferOwnership, fields) => {
      const it = getVisible(id, supportsAllDrives);
      const role = body.role;
      const type = body.type;
      const roles: Permission['role'][] = ['owner', 'organizer', 'fileOrganizer', 'writer', 'commenter', 'reader'];
      const types: Permission['type'][] = ['user', 'group', 'domain', 'anyone'];
      if (role === undefined) throw required('permission.role', 'Required: permission.role');
      if (type === undefined) throw required('permission.type', 'Required: permission.type');
      if (!roles.includes(role as Permission['role'])) throw invalidParam('permission.role', `Invalid value for permission.role: ${String(role)}`);
      if (!types.includes(type as Permission['type'])) throw invalidParam('permission.type', `Invalid value for permission.type: ${String(type)}`);
      const p: Permission = { id: '', type: type as Permission['type'], role: role as Permission['role'] };
      if (p.type === 'user' || p.type === 'group') {
        const email = str(body.emailAddress, 'permission.emailAddress');
        if (!email || !/^[^@\s]+@[^@\s]+$/.test(email)) {
          throw new DriveApiError(400, {
            domain: 'global',
            reason: 'invalidSharingRequest',
            message: 'Bad Request. User message: "You are trying to invite an email address that is not valid."',
          });
        }
        p.emailAddress = email;
        p.id = permissionIdOf(email);
      } else if (p.type === 'domain') {
        const domain = str(body.domain, 'permission.domain');
        if (!domain) throw required('permission.domain', 'Required: permission.domain');
        p.domain = domain;
        p.id = permissionIdOf(domain) + 'k';
      } else {
        p.id = 'anyoneWithLink';
      }
      if (body.allowFileDiscovery !== undefined) p.allowFileDiscovery = body.allowFileDiscovery === true;
      if (p.role === 'owner' && !transferOwnership) {
        throw new DriveApiError(403, {
          domain: 'global',
          reason: 'forbidden',
          message: "The transferOwnership parameter must be enabled when the permission role is 'owner'.",
          location: 'transferOwnership',
          locationType: 'parameter',
        });
      }
      // A second grant to the same grantee replaces the first, as in Drive.
      const rest = (it.permissions ?? []).filter((x) => x.id !== p.id);
      store.putItem({ ...it, permissions: [...rest, p] });
      return project(permissionResource(p), parseFields(fields && fields.trim() !== '' ? fields : 'kind,id,type,role'));
    },
    listPermissions: (id, supportsAllDrives, fields) => {
      const it = getVisible(id, supportsAllDrives);
      const all = [...ownerPermission(it), ...(it.permissions ?? [])];
      const body = { kind: 'drive#permissionList', permissions: all.map(permissionResource) };
      return project(body, parseFields(fields && fields.trim() !== '' ? fields : 'kind,nextPageToken,permissions(kind,id,type,role,emailAddress)'));
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
