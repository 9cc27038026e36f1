import { hostname } from 'node:os';
import type { Writable } from 'node:stream';
import { configSecrets, type Config } from '../config/index.js';
import { openBackend, type Database } from '../db/index.js';
import { createDriveClient, type DriveClientOptions } from '../drive/index.js';
import { createLogger, type Logger } from '../log/index.js';
import { createJobDirCache } from '../local/index.js';
import { createNoopMetrics, type Metrics } from '../metrics/index.js';
import { pacerStateStore, stateDirectory } from './pacer-state.js';
import { createAccountPause, folderRegistry, type SyncContext } from '../sync/index.js';
import { leaseOwnerId, takeBackDeadLeases } from './lease-takeback.js';

export interface RuntimeOptions {
  env: NodeJS.ProcessEnv;
  logStream?: Writable | undefined;
  now?: (() => number) | undefined;
  random?: (() => number) | undefined;
  metrics?: Metrics | undefined;
}

export interface Runtime {
  ctx: SyncContext;
  database: Database;
  /** Keeps the write pacer's learned rate in the state directory (when it changed). */
  savePacer(): void;
  close(): Promise<void>;
}

export function loggerFor(cfg: Readonly<Config>, opts: Pick<RuntimeOptions, 'env' | 'logStream'>): Logger {
  return createLogger({
    level: cfg.log.level,
    format: cfg.log.format,
    // Under systemd stdout/stderr go to journald: a <N> prefix sets each line's priority.
    journald: cfg.log.format === 'text' && Boolean(opts.env.JOURNAL_STREAM),
    stream: opts.logStream,
    secrets: configSecrets(cfg),
  });
}

/** daemon.node_name, or the host name: recorded on the rows this daemon finds. */
export function nodeNameOf(cfg: Readonly<Config>): string {
  return cfg.daemon.node_name ?? hostname();
}

/** The Drive client's options from the config (shared by the daemon and `check-config`). */
export function driveOptions(cfg: Readonly<Config>, log: Logger): DriveClientOptions {
  return {
    endpoint: cfg.drive.api_endpoint,
    auth: cfg.auth,
    rootFolderId: cfg.drive.root_folder_id,
    sharedDriveId: cfg.drive.shared_drive_id,
    resumableThresholdBytes: cfg.upload.resumable_threshold_bytes,
    chunkSizeBytes: cfg.upload.chunk_size_bytes,
    caFile: cfg.drive.ca_file,
    log,
    folderRegistry: null,
  };
}

/** Opens the database (refusing an unmigrated one), the store and the Drive client: the context every pass uses. */
export async function openRuntime(cfg: Readonly<Config>, log: Logger, opts: RuntimeOptions): Promise<Runtime> {
  const now = opts.now ?? Date.now;
  const metrics = opts.metrics ?? createNoopMetrics();
  const nodeName = nodeNameOf(cfg);
  const db = await openBackend(cfg.database, { env: opts.env, log: log.child({ scope: 'db' }), applicationName: `batch-drive-sync ${nodeName}` });
  try {
    await db.assertMigrated();
    // Before anything reports "started" (log, READY): a database we cannot write is exit 78.
    await db.assertWritable();
    const store = await db.createStore({
      now,
      finalJobStatuses: cfg.database.final_job_statuses,
      nodeName,
      sharedStorage: cfg.watch.shared_storage,
    });
    const pacerState = pacerStateStore(stateDirectory(opts.env), log, now);
    const drive = await createDriveClient({
      ...driveOptions(cfg, log.child({ scope: 'drive' })),
      now,
      pacer: { resume: pacerState.load() },
      folderRegistry: folderRegistry(store),
      onPacerWait: (ms) => metrics.rateLimitWait(ms),
    });
    // The node name (default: the host name) is the "host" of the owner id: daemons that share a
    // host name but not a PID namespace tell themselves apart by daemon.node_name.
    const owner = leaseOwnerId(nodeName, process.pid);
    // After a crash on this host: our predecessor's uploads resume now, not after upload.lease_ms.
    await takeBackDeadLeases(store, { host: nodeName, pid: process.pid, owner }, log);
    const ctx: SyncContext = {
      config: cfg,
      log,
      now,
      random: opts.random ?? Math.random,
      store,
      drive,
      metrics,
      owner,
      jobFolders: new Map(),
      jobDirs: createJobDirCache({ now }),
      noticed: new Set(),
      authPause: createAccountPause({ baseMs: Math.max(cfg.upload.backoff_base_ms, 1000), maxMs: cfg.upload.backoff_max_ms }),
    };
    return {
      ctx,
      database: db,
      savePacer: () => pacerState.save(drive.pacerSnapshot()),
      close: async () => {
        pacerState.save(drive.pacerSnapshot());
        drive.close();
        await db.close();
      },
    };
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
}
