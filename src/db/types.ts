export type UploadStatus = 'pending' | 'uploading' | 'uploaded' | 'failed';
export type JobDriveStatus = 'not_requested' | 'pending' | 'in_progress' | 'completed' | 'failed';

/** A batch_file_drive_metadata row as the daemon sees it. */
export interface FileRow {
  id: number;
  batch_job_id: string;
  original_filename: string;
  drive_file_id: string | null;
  drive_file_url: string | null;
  preview_url: string | null;
  upload_status: UploadStatus;
  upload_error: string | null;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  local_size: number | null;
  local_mtime_ms: number | null;
  local_md5: string | null;
  reserved_drive_id: string | null;
  resumable_session_uri: string | null;
  resumable_offset: number | null;
  last_error_reason: string | null;
}

/**
 * The columns of FileRow, in order: what a claim returns. Not `*`: the table has more columns
 * (times, the finder node) that the uploader never reads, and turning 1,000 claimed rows into
 * objects costs the driver time per column (about a third of a SQLite claim).
 */
export const FILE_ROW_COLUMNS = [
  'id',
  'batch_job_id',
  'original_filename',
  'drive_file_id',
  'drive_file_url',
  'preview_url',
  'upload_status',
  'upload_error',
  'attempts',
  'next_attempt_at',
  'lease_owner',
  'lease_until',
  'local_size',
  'local_mtime_ms',
  'local_md5',
  'reserved_drive_id',
  'resumable_session_uri',
  'resumable_offset',
  'last_error_reason',
] as const satisfies readonly (keyof FileRow)[];
/** Compiles only while every FileRow field is in FILE_ROW_COLUMNS. */
export const FILE_ROW_COLUMNS_COMPLETE: Exclude<keyof FileRow, (typeof FILE_ROW_COLUMNS)[number]> extends never ? true : never = true;

export interface JobFolder {
  folderId: string;
  url: string | null;
  path: string | null;
}

export interface JobReport {
  jobId: string;
  enabled: boolean;
  jobStatus: string | null;
  driveUploadStatus: string | null;
  folderUrl: string | null;
  /** What keeps the whole job from completing (bad job id, job directory outside output_dir, unreadable names); null when nothing. */
  jobError: string | null;
  counts: Record<UploadStatus, number>;
  lastErrors: { file: string; status: string; error: string }[];
}

/** Milliseconds since the epoch; injected so tests control time. */
export type Now = () => number;

/** One job as `status` shows it (and `status --json` prints it). Times are epoch ms. */
export interface JobProgress extends JobReport {
  lastErrors: { file: string; status: string; error: string; reason: string | null; attempts: number }[];
  /** Files uploaded / all files with a row. */
  files: { done: number; total: number };
  /** Bytes in Drive (uploaded files plus confirmed offsets of unfinished ones) / all bytes; `failed` = bytes of failed files not sent. */
  bytes: { done: number; total: number; failed: number };
  /** Bytes per second over the last minute (each attempt's bytes spread over its duration). */
  rateBytesPerSec: number;
  /** Seconds until the bytes left are sent at the current rate; 0 when nothing is left, null when nothing moves. */
  etaSeconds: number | null;
  firstStartedAt: number | null;
  lastFinishedAt: number | null;
  inFlight: {
    file: string;
    size: number | null;
    /** Confirmed resumable offset (null for a multipart upload). */
    offset: number | null;
    startedAt: number | null;
    durationMs: number | null;
    owner: string | null;
    attempt: number;
  }[];
}

export interface ProgressReport {
  generatedAt: number;
  jobs: JobProgress[];
  /** Without --job/--all: the Drive-enabled jobs not listed (finished), as one total. */
  finished: { jobs: number; files: number; bytes: number } | null;
  totals: { rateBytesPerSec: number; uploading: number; failed: number };
}

/** One file as `files` shows it. */
export interface FileListing {
  path: string;
  size: number | null;
  status: UploadStatus;
  attempts: number;
  nextAttemptAt: number | null;
  lastError: string | null;
  errorClass: string | null;
  driveFileId: string | null;
  fileUrl: string | null;
  previewUrl: string | null;
  offset: number | null;
  uploadedAt: number | null;
}

/** Whole-database figures for the systemd status line and the metrics gauges. */
export interface ActivitySummary {
  /** Jobs with work left (pending or in progress). */
  activeJobs: number;
  rows: Record<UploadStatus, number>;
  /** Bytes not yet in Drive of pending and uploading rows. */
  pendingBytes: number;
  /** Epoch ms the oldest pending row was recorded, or null. */
  oldestPendingAt: number | null;
  rateBytesPerSec: number;
}
