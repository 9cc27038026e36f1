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
