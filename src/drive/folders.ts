// Find-or-create of folder paths, exactly once: each folder's id is reserved and recorded in the
// registry (the daemon's database) before it is created, so restarts and other daemons create it
// with that same id (Drive answers 409) instead of a duplicate. The first recorder holds a lease
// on the creation; other daemons wait for it to end rather than send a create of their own. Folders made elsewhere are found
// (name + parent + folder mime + not trashed) and recorded. Within one process concurrent callers
// share one in-flight lookup per (parent, name).
import type { drive_v3 } from '@googleapis/drive';
import type { DriveCore } from './core.js';
import { DriveError, PermanentDriveError } from './errors.js';
import { FOLDER_MIME, type FolderRegistry } from './types.js';

/** Escapes a value for a single-quoted string in a Drive `q` expression. */
export function escapeQueryValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

export interface FolderResolver {
  ensureFolderPath(parentId: string, names: readonly string[]): Promise<string>;
  assertInsideRoot(folderId: string): Promise<void>;
}

// Deeper than any folder pattern plus the job's own sub-directories.
const MAX_DEPTH = 64;

interface Found {
  id: string;
  createdTime: string;
}

// Oldest first, id as the tie-break: every process picks the same one.
function oldest(list: Found[]): Found | undefined {
  return [...list].sort((a, b) => (a.createdTime < b.createdTime ? -1 : a.createdTime > b.createdTime ? 1 : a.id < b.id ? -1 : 1))[0];
}

export function createFolderResolver(
  core: DriveCore,
  opts: {
    maxCached?: number;
    registry: FolderRegistry | null;
    reserveId: () => Promise<string>;
    sleep: (ms: number) => Promise<void>;
    /** How long a creator holds a folder's creation before others may take it over (ms). */
    creatorLeaseMs?: number;
    /** How often a waiting daemon looks whether the creator is done (ms). */
    pollMs?: number;
  },
): FolderResolver {
  const maxCached = opts.maxCached ?? 10_000;
  const leaseMs = opts.creatorLeaseMs ?? 30_000;
  const pollMs = opts.pollMs ?? 100;
  const sleep = opts.sleep;
  // Creations whose lease this process holds (parent\0name → id), kept after a failed create.
  const held = new Map<string, string>();
  const cache = new Map<string, string>();
  const inflight = new Map<string, Promise<string>>();
  // Folders seen to lie under the root folder (in this process): each is checked once.
  const inside = new Set<string>([core.rootFolderId]);
  const checking = new Map<string, Promise<void>>();
  let aliasResolved = false;
  const markInside = (id: string) => {
    if (inside.size >= maxCached) {
      // Refilled from Drive as needed.
      inside.clear();
      inside.add(core.rootFolderId);
      aliasResolved = false;
    }
    inside.add(id);
  };

  function remember(key: string, id: string): void {
    cache.delete(key);
    cache.set(key, id);
    if (cache.size > maxCached) {
      const first = cache.keys().next();
      if (!first.done) cache.delete(first.value);
    }
  }

  async function list(parentId: string, name: string): Promise<Found[]> {
    const q = `name = '${escapeQueryValue(name)}' and '${escapeQueryValue(parentId)}' in parents and mimeType = '${FOLDER_MIME}' and trashed = false`;
    const out: Found[] = [];
    let pageToken: string | undefined;
    do {
      const params: drive_v3.Params$Resource$Files$List = {
        q,
        fields: 'nextPageToken, files(id,name,createdTime)',
        pageSize: 100,
        supportsAllDrives: true,
        includeItemsFromAllDrives: true,
      };
      if (core.sharedDriveId) {
        params.corpora = 'drive';
        params.driveId = core.sharedDriveId;
      }
      if (pageToken) params.pageToken = pageToken;
      const res = await core.call(() => core.api.files.list(params, { retry: false }));
      for (const f of res.data.files ?? []) {
        // Exact name only: the query's match rules are Drive's, the folder name is ours.
        if (f.id && f.name === name) out.push({ id: f.id, createdTime: f.createdTime ?? '' });
      }
      pageToken = res.data.nextPageToken ?? undefined; // pages may be empty while a token is set
    } while (pageToken);
    return out;
  }

  /** Creates a folder with a reserved id; 409 means an earlier attempt or another process already did. */
  async function createWithId(parentId: string, name: string, id: string): Promise<void> {
    try {
      await core.write(
        () =>
          core.api.files.create(
            { requestBody: { id, name, mimeType: FOLDER_MIME, parents: [parentId] }, fields: 'id', supportsAllDrives: true },
            { retry: false },
          ),
        { contentUpload: false },
      );
    } catch (e) {
      if (!(e instanceof DriveError && e.status === 409)) throw e;
    }
  }

  // Recorded and made → make sure it exists; recorded and being made by another daemon → wait for
  // its lease to end; else reserve an id and record it with a creator's lease (the first record
  // wins), then: found in Drive → record that one instead; else create it with the id, end the lease.
  async function findOrCreate(registry: FolderRegistry, parentId: string, name: string): Promise<string> {
    const key = `${parentId}\u0000${name}`;
    for (;;) {
      const e = await registry.entry(parentId, name);
      if (e && e.creatingUntil !== null) {
        const now = core.now();
        if (held.get(key) !== e.id) {
          if (e.creatingUntil > now) {
            // Another daemon is making it: one create in Drive, not one per daemon (the rest answered 409).
            await sleep(Math.min(pollMs, e.creatingUntil - now));
            continue;
          }
          // Its creator crashed or gave up mid-creation: make it with the recorded id (409 if it was made after all).
          if (!(await registry.takeOver(parentId, name, e.id, e.creatingUntil, now + leaseMs))) continue;
          held.set(key, e.id);
        }
        return createHeld(registry, parentId, name, e.id);
      }
      const recorded = e?.id ?? null;
      if (recorded) {
        const f = await core.getFile(recorded);
        // The registry is a table others can write: an entry whose folder is not in this parent
        // (planted, or moved away by a person) is passed over like a trashed one.
        if (f && !f.trashed && f.parents.includes(parentId)) return recorded;
        if (f && !f.trashed) {
          core.log.warning('folder registry entry names a folder that is not in its parent; finding or making the right one', {
            parent_id: parentId,
            name,
            drive_id: recorded,
          });
        }
        if (!f) {
          // Recorded but never made (a crash between the two): make it now, with that id.
          await createWithId(parentId, name, recorded);
          return recorded;
        }
        // Trashed by someone (or not in its parent): find or make another.
        const found = oldest(await list(parentId, name));
        if (found) return found.id;
        const fresh = await opts.reserveId();
        await createWithId(parentId, name, fresh);
        return fresh;
      }
      // Record a reserved id with a lease before looking in Drive: only the holder lists and creates.
      const mine = await opts.reserveId();
      const until = core.now() + leaseMs;
      if ((await registry.claim(parentId, name, mine, until)) !== mine) continue; // another daemon recorded first: wait for it
      const found = oldest(await list(parentId, name));
      if (found) {
        // Made elsewhere: record that folder instead of ours, unless the lease was taken over meanwhile.
        if (await registry.adopt(parentId, name, mine, until, found.id)) return found.id;
        continue;
      }
      held.set(key, mine);
      return createHeld(registry, parentId, name, mine);
    }
  }

  /** Creates a folder whose creator's lease this process holds, then ends the lease. */
  async function createHeld(registry: FolderRegistry, parentId: string, name: string, id: string): Promise<string> {
    // On failure the lease stays held here: a retry in this process creates at once, others wait for it to run out.
    await createWithId(parentId, name, id);
    await registry.made(parentId, name, id);
    held.delete(`${parentId}\u0000${name}`);
    return id;
  }

  function child(parentId: string, name: string): Promise<string> {
    const key = `${parentId}\u0000${name}`;
    const hit = cache.get(key);
    if (hit !== undefined) return Promise.resolve(hit);
    let p = inflight.get(key);
    if (!p) {
      const registry = opts.registry;
      // Without the registry a folder could be made twice (two daemons, a crash between create and record).
      if (!registry) return Promise.reject(new Error('this Drive client was made without a folder registry: it makes no folders'));
      p = findOrCreate(registry, parentId, name).then(
        (id) => {
          inflight.delete(key);
          remember(key, id);
          return id;
        },
        (e: unknown) => {
          inflight.delete(key);
          throw e;
        },
      );
      inflight.set(key, p);
    }
    return p;
  }

  /**
   * Folder ids come from the database (the job's stored folder, the registry), which others can
   * write: before a file goes into one, its chain of parents must reach drive.root_folder_id
   * through folders that are not trashed. Else a row could send a job's files into a folder
   * someone shared with the account.
   */
  function assertInsideRoot(folderId: string): Promise<void> {
    if (inside.has(folderId)) return Promise.resolve();
    // Uploads into one folder start together (upload.concurrency): one walk up, not one each.
    let p = checking.get(folderId);
    if (!p) {
      p = walkUp(folderId).finally(() => checking.delete(folderId));
      checking.set(folderId, p);
    }
    return p;
  }

  async function walkUp(folderId: string): Promise<void> {
    if (core.rootFolderId === 'root' && !aliasResolved) {
      // "root" (My Drive) is an alias: chains of parents name the folder's real id.
      aliasResolved = true;
      const root = await core.getFile('root');
      if (root) inside.add(root.id);
    }
    const chain: string[] = [];
    let id = folderId;
    while (!inside.has(id)) {
      const f = chain.length < MAX_DEPTH ? await core.getFile(id) : null;
      const why =
        chain.length >= MAX_DEPTH
          ? `more than ${MAX_DEPTH} levels above it`
          : !f
            ? `${id} not found`
            : f.mimeType !== FOLDER_MIME
              ? `${id} is not a folder`
              : f.trashed
                ? `${id} is in the trash`
                : f.parents.length === 0
                  ? `${id} has no parent`
                  : null;
      if (why !== null || !f) {
        throw new PermanentDriveError(
          `Drive folder ${folderId} is not inside drive.root_folder_id ${core.rootFolderId} (${why ?? 'unreadable'}); refused, nothing was uploaded`,
          { reason: 'folderOutsideRoot' },
        );
      }
      chain.push(id);
      id = f.parents[0] as string;
    }
    for (const c of chain) markInside(c);
  }

  return {
    assertInsideRoot,
    async ensureFolderPath(parentId: string, names: readonly string[]): Promise<string> {
      let id = parentId;
      // A path resolved from the root (each level checked against its parent) needs no walk up later.
      const fromInside = inside.has(parentId);
      for (const name of names) {
        if (name === '') throw new PermanentDriveError('empty folder name in path');
        id = await child(id, name);
        if (fromInside) markInside(id);
      }
      return id;
    },
  };
}
