import type { AuthService } from './auth.js';
import type { DriveModel } from './drive.js';
import type { FaultEngine } from './faults.js';
import type { Hasher } from './ingest.js';
import type { Store } from './store.js';
import type { EmulatorStats } from './types.js';

export type Counters = Omit<EmulatorStats, 'uploadedBytesToday' | 'storedBytes'>;

export function zeroCounters(): Counters {
  return {
    requests: {},
    totalRequests: 0,
    driveRequests: 0,
    writeRequests: 0,
    writesAccepted: 0,
    rejectedRateLimit: 0,
    bytesReceived: 0,
    peakConcurrentRequests: 0,
    concurrentRequests: 0,
    resets: 0,
    injected5xx: 0,
    shortPages: 0,
    partialChunks: 0,
    tokensIssued: 0,
    uploadsCompleted: 0,
  };
}

/** Everything a request handler can reach; one per emulator instance (no module state). */
export interface Runtime {
  model: DriveModel;
  store: Store;
  faults: FaultEngine;
  auth: AuthService;
  clock: () => number;
  counters: Counters;
  /** Serialises work on one resumable session (a status query waits for a chunk still being read). */
  sessionLocks: Map<string, Promise<unknown>>;
  /** Running hashes of resumable sessions, valid while `at` equals the session offset. */
  hashers: Map<string, { hasher: Hasher; at: number }>;
  /** Base URL for Location headers (from the Host the client used). */
  baseUrl(host: string | undefined): string;
}
