import fs from 'node:fs';
import path from 'node:path';

export const FOLDER_MIME = 'application/vnd.google-apps.folder';

/** Who a request acts as; derived from the access token. */
export interface Identity {
  kind: 'service_account' | 'user';
  email: string;
  /** Service accounts without domain-wide delegation (`sub`) own nothing: no storage quota. */
  hasQuota: boolean;
}

export interface Item {
  id: string;
  name: string;
  mimeType: string;
  parents: string[];
  driveId: string | null;
  trashed: boolean;
  appProperties: Record<string, string>;
  createdTime: number;
  modifiedTime: number;
  version: number;
  size: number | null;
  md5: string | null;
  sha256: string | null;
  /** File name of the content under the blob directory. */
  blob: string | null;
  /** My Drive root or a shared drive root: not listed, not deletable. */
  root: boolean;
  /** Email of who created it (absent in state written before owners were kept, and for roots). */
  owner?: string;
  /** Sharing added with permissions.create (the owner's permission is implied by `owner`). */
  permissions?: Permission[];
  /** Creation order, for stable listing. */
  seq: number;
}

/** One entry of a file's sharing, as permissions.create/list show it. */
export interface Permission {
  id: string;
  type: 'user' | 'group' | 'domain' | 'anyone';
  role: 'owner' | 'organizer' | 'fileOrganizer' | 'writer' | 'commenter' | 'reader';
  emailAddress?: string;
  domain?: string;
  allowFileDiscovery?: boolean;
}

export interface Session {
  id: string;
  /** 'update' sessions replace the content of `fileId`. */
  mode: 'create' | 'update';
  fileId: string | null;
  addParents: string | null;
  removeParents: string | null;
  metadata: Record<string, unknown>;
  identity: Identity;
  supportsAllDrives: boolean;
  fields: string | null;
  declaredLength: number | null;
  contentType: string;
  /** Bytes confirmed (always a multiple of 256 KiB until the last chunk). */
  offset: number;
  createdAt: number;
  /** Set when the upload finished: a status query then answers 200 with this file. */
  completedFileId: string | null;
}

type LogRecord =
  | { t: 'item'; v: Item }
  | { t: 'del'; id: string }
  | { t: 'session'; v: Session }
  | { t: 'delsession'; id: string }
  | { t: 'day'; day: number; bytes: number }
  | { t: 'seq'; v: number }
  | { t: 'ids'; v: string[] };

interface Snapshot {
  items: Item[];
  sessions: Session[];
  day: number;
  dayBytes: number;
  seq: number;
  /** Absent in state files written before ids were tracked. */
  issuedIds?: string[];
}

export interface Store {
  readonly items: Map<string, Item>;
  readonly sessions: Map<string, Session>;
  readonly blobDir: string;
  readonly uploadDir: string;
  /** Ids handed out by generateIds and not used yet: the only ids a create may bring. */
  readonly issuedIds: Set<string>;
  issueIds(ids: string[]): void;
  day: { day: number; bytes: number };
  nextSeq(): number;
  putItem(item: Item): void;
  deleteItem(id: string): void;
  putSession(s: Session): void;
  deleteSession(id: string): void;
  setDay(day: number, bytes: number): void;
  storedBytes(): number;
  /** Snapshot + truncate the log (no-op without dataDir). */
  flush(): void;
  /**
   * Forget every item, session and blob. Issued ids stay issued: a client's pool of ids (the
   * daemon keeps up to 1,000) must stay usable across a test's reset, as ids from Google do.
   */
  clear(): void;
}

/**
 * Metadata in memory, mirrored to `dataDir` as `state.json` (atomic tmp + rename) plus an append-only
 * `meta.log` written synchronously after each mutation, so a SIGKILL loses at most the line being written.
 */
export function createStore(baseDir: string, persistent: boolean): Store {
  const blobDir = path.join(baseDir, 'blobs');
  const uploadDir = path.join(baseDir, 'uploads');
  fs.mkdirSync(blobDir, { recursive: true });
  fs.mkdirSync(uploadDir, { recursive: true });
  const statePath = path.join(baseDir, 'state.json');
  const logPath = path.join(baseDir, 'meta.log');
  const items = new Map<string, Item>();
  const sessions = new Map<string, Session>();
  const issuedIds = new Set<string>();
  let seq = 0;
  const day = { day: 0, bytes: 0 };

  const apply = (r: LogRecord): void => {
    switch (r.t) {
      case 'item':
        items.set(r.v.id, r.v);
        issuedIds.delete(r.v.id);
        seq = Math.max(seq, r.v.seq);
        break;
      case 'del':
        items.delete(r.id);
        break;
      case 'session':
        sessions.set(r.v.id, r.v);
        break;
      case 'delsession':
        sessions.delete(r.id);
        break;
      case 'day':
        day.day = r.day;
        day.bytes = r.bytes;
        break;
      case 'seq':
        seq = Math.max(seq, r.v);
        break;
      case 'ids':
        for (const id of r.v) issuedIds.add(id);
        break;
    }
  };

  const append = (r: LogRecord): void => {
    apply(r);
    if (persistent) fs.appendFileSync(logPath, JSON.stringify(r) + '\n');
  };

  const flush = (): void => {
    if (!persistent) return;
    const snap: Snapshot = { items: [...items.values()], sessions: [...sessions.values()], day: day.day, dayBytes: day.bytes, seq, issuedIds: [...issuedIds] };
    const tmp = `${statePath}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(snap));
    fs.renameSync(tmp, statePath);
    // Replaying the log over a newer snapshot is harmless (records are whole values), so a crash
    // between rename and truncate loses nothing.
    fs.writeFileSync(logPath, '');
  };

  if (persistent) {
    if (fs.existsSync(statePath)) {
      const snap = JSON.parse(fs.readFileSync(statePath, 'utf8')) as Snapshot;
      for (const it of snap.items) items.set(it.id, it);
      for (const s of snap.sessions) sessions.set(s.id, s);
      day.day = snap.day;
      day.bytes = snap.dayBytes;
      seq = snap.seq;
      for (const id of snap.issuedIds ?? []) issuedIds.add(id);
    }
    if (fs.existsSync(logPath)) {
      for (const line of fs.readFileSync(logPath, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          apply(JSON.parse(line) as LogRecord);
        } catch {
          // Only the last line can be torn (killed mid-append); what it described never got answered.
          break;
        }
      }
    }
    flush();
  }

  return {
    items,
    sessions,
    blobDir,
    uploadDir,
    issuedIds,
    issueIds: (ids) => append({ t: 'ids', v: ids }),
    day,
    nextSeq: () => {
      seq += 1;
      return seq;
    },
    putItem: (v) => append({ t: 'item', v: { ...v, seq: v.seq } }),
    deleteItem: (id) => append({ t: 'del', id }),
    putSession: (v) => append({ t: 'session', v: { ...v } }),
    deleteSession: (id) => append({ t: 'delsession', id }),
    setDay: (d, bytes) => append({ t: 'day', day: d, bytes }),
    storedBytes: () => {
      let n = 0;
      for (const it of items.values()) n += it.size ?? 0;
      return n;
    },
    flush,
    clear: () => {
      items.clear();
      sessions.clear();
      day.day = 0;
      day.bytes = 0;
      for (const dir of [blobDir, uploadDir]) {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir, { recursive: true });
      }
      if (persistent) fs.writeFileSync(logPath, '');
      flush();
    },
  };
}
