import type { ActivitySummary, FileListing, FileRow, JobDriveStatus, JobFolder, JobReport, Now, ProgressReport, UploadStatus } from './types.js';

/**
 * The store contract, one part per concern. Every backend implements all of it; every write is
 * one short statement or transaction, and none is held across network I/O.
 */
export type UploadStore = QueueStore & FileStore & JobStore & FolderStore & ReportStore;

/** The upload queue: claims, leases and the outcome of each attempt. */
export interface QueueStore {
  /**
   * Claim up to `limit` due rows (pending and due, or uploading with an expired lease) in ONE statement.
   * With `minBytes`, only rows of at least that size, oldest first (the slot kept for large files).
   * With `largeFirst`, the first row taken is the oldest due row of at least that size, when there
   * is one, and the others are taken in due order as without it (the same as a claim of one with
   * `minBytes` followed by a claim of the rest, in one statement). With `reserveIds`, each row
   * taken that has neither a drive_file_id nor a reserved_drive_id gets the next of these ids as
   * its reserved_drive_id in the same statement (the rows returned show which were used).
   */
  claimDue(
    owner: string,
    limit: number,
    leaseMs: number,
    jobId?: string,
    minBytes?: number,
    opts?: { largeFirst?: number | undefined; reserveIds?: readonly string[] | undefined },
  ): Promise<FileRow[]>;
  /** Extend a lease we hold; false when the row is no longer ours. */
  extendLease(rowId: number, owner: string, leaseMs: number): Promise<boolean>;
  saveReservedId(rowId: number, owner: string, driveId: string): Promise<boolean>;
  saveCheckpoint(rowId: number, owner: string, sessionUri: string | null, offset: number | null, leaseMs: number): Promise<boolean>;
  markUploaded(
    rowId: number,
    owner: string,
    r: { driveFileId: string; fileUrl: string; previewUrl: string; size: number; mtimeMs: number; md5: string },
  ): Promise<boolean>;
  /** Back to pending with a later next attempt; `refund` gives the attempt back (rate limits, daily cap, shutdown). */
  /** `dropReservedId`: the row's reserved id is cleared if it is this one (reserved by the claim, no byte ever sent with it). */
  markRetry(
    rowId: number,
    owner: string,
    e: { error: string; reason: string; nextAttemptAt: number; refund?: boolean; dropReservedId?: string | undefined },
  ): Promise<boolean>;
  markFailed(rowId: number, owner: string, e: { error: string; reason: string; dropReservedId?: string | undefined }): Promise<boolean>;
  /** Shutdown (or a crashed owner's rows taken back): rows `owner` holds go back to pending at once, attempt refunded. */
  releaseLeases(owner: string): Promise<number>;
  /** Distinct owners of the leases of uploading rows (a restarted daemon looks for its dead predecessors). */
  leaseOwners(): Promise<string[]>;
  /** `retry`: failed rows back to pending. */
  retryFailed(jobId: string | null): Promise<number>;
  countDue(): Promise<number>;
  /** Earliest time a row becomes due (next attempt or lease expiry) for enabled jobs; null when none. */
  nextDueAt(jobId?: string): Promise<number | null>;
  /** Rows written by hand that would never come due: a non-numeric next_attempt_at (pending) or a missing lease (uploading). Returns how many were fixed. */
  repairSchedules(): Promise<number>;
}

/** The local files of each job as the store knows them. */
export interface FileStore {
  /** Record a stable local file of an enabled job. 'unchanged' costs nothing downstream. */
  upsertFile(jobId: string, relPath: string, stat: { size: number; mtimeMs: number }): Promise<UpsertResult>;
  /** upsertFile for many files of one job in one transaction (a scan finding a new job's files). */
  upsertFiles(jobId: string, files: readonly { relPath: string; size: number; mtimeMs: number }[]): Promise<UpsertResult[]>;
  /** What we know of a job's files, for a directory walk that skips unchanged files without writing. */
  fileStats(jobId: string): Promise<Map<string, { size: number | null; mtimeMs: number | null; status: UploadStatus }>>;
  getRow(rowId: number): Promise<FileRow | null>;
}

/** batch_jobs: which jobs are Drive-enabled, and their aggregate drive_upload_status. */
export interface JobStore {
  /** Recompute batch_jobs.drive_upload_status (a job error counts as a failed row); returns the change, or null when unchanged. */
  recomputeJobStatus(jobId: string): Promise<{ from: string | null; to: JobDriveStatus } | null>;
  /**
   * Of `jobIds`, the ones whose stored drive_upload_status is not what their rows and batch_jobs
   * say now: one read for all of them, so a scheduled scan recomputes only those (a few instead
   * of one transaction per job).
   */
  staleJobStatuses(jobIds: readonly string[]): Promise<string[]>;
  /**
   * The job-level error (batch_drive_metadata.job_error): what no file row can carry, such as an
   * unsafe job id, a job directory outside output_dir, or names that are not valid UTF-8.
   * Records it (or with null clears it); true when it changed.
   */
  setJobError(jobId: string, e: { error: string; reason: string } | null): Promise<boolean>;
  /** Every job with a job-level error, and its text (one read, so a walk writes only on change). */
  jobErrors(): Promise<Map<string, string>>;
  /** Jobs with drive_integration_enabled: id, own pattern, and the whole row for {job.<column>}. */
  listEnabledJobs(onlyJobId?: string): Promise<EnabledJob[]>;
  setJobEnabled(jobId: string, enabled: boolean, pattern?: string | null): Promise<boolean>;
  /** Whether batch_jobs has a `status` column (else every job counts as finished). */
  readonly hasStatusColumn: boolean;
}

/** Drive folders: each job's folder (batch_drive_metadata) and the registry of every folder made (batch_drive_folders). */
export interface FolderStore {
  getJobFolder(jobId: string): Promise<JobFolder | null>;
  /** Ids of the jobs whose folder is recorded (one read instead of a getJobFolder per job). */
  jobsWithFolder(): Promise<Set<string>>;
  saveJobFolder(jobId: string, f: JobFolder): Promise<void>;
  /** Folder registry (batch_drive_folders): the id recorded for (parent, name), or null. */
  getFolder(parentId: string, name: string): Promise<string | null>;
  /** The registry's record of (parent, name) with its creator's lease (epoch ms; null once made), or null. */
  folderEntry(parentId: string, name: string): Promise<{ id: string; creatingUntil: number | null } | null>;
  /**
   * Records `id` for (parent, name) unless one is recorded; returns the recorded id (the first wins).
   * With `creatingUntil` the recorder holds the folder's creation until then (see folderMade).
   */
  claimFolder(parentId: string, name: string, id: string, creatingUntil?: number): Promise<string>;
  /** Takes over the creation of `id` whose lease `expired` ran out (compare-and-set); true when taken. */
  takeFolderCreation(parentId: string, name: string, id: string, expired: number, until: number): Promise<boolean>;
  /** The folder `id` exists in Drive: its creator's lease ends. */
  folderMade(parentId: string, name: string, id: string): Promise<void>;
  /** Records `foundId` (a folder made elsewhere) in place of `reservedId` while the lease is still `until`; true when done. */
  adoptFolder(parentId: string, name: string, reservedId: string, until: number, foundId: string): Promise<boolean>;
}

/** Read-only summaries for the CLI. */
export interface ReportStore {
  report(jobId?: string): Promise<JobReport[]>;
  /** `status`: progress of one job, of every job (`all`), or of the jobs needing attention plus a total of the finished rest. */
  progress(q: { jobId?: string | undefined; all?: boolean | undefined }): Promise<ProgressReport>;
  /** `files`: one job's files, optionally of one status. */
  listFiles(jobId: string, status?: UploadStatus): Promise<FileListing[]>;
  /** Whole-database figures for the systemd status line and the metrics gauges (read when scraped). */
  activity(): Promise<ActivitySummary>;
}

export type UpsertResult = 'inserted' | 'requeued' | 'updated' | 'unchanged';

export interface EnabledJob {
  jobId: string;
  pattern: string | null;
  finished: boolean;
  row: Record<string, unknown>;
}

export interface StoreOptions {
  now: Now;
  finalJobStatuses: readonly string[];
  /** This daemon's node name (daemon.node_name), recorded on the rows it finds. */
  nodeName?: string | undefined;
  /** false (watch.shared_storage: false): claim only rows this node found; default true. */
  sharedStorage?: boolean | undefined;
}
