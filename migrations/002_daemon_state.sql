-- 002: what the daemon needs to upload every file exactly once and survive restarts.
-- Times the daemon writes are epoch milliseconds (INTEGER) from its injected clock.

ALTER TABLE batch_file_drive_metadata ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batch_file_drive_metadata ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batch_file_drive_metadata ADD COLUMN lease_owner TEXT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN lease_until INTEGER;
-- The local file as last seen (size, mtime) and as uploaded (md5): a rescan of an unchanged
-- file costs no Drive request, a changed one becomes a new revision of the same Drive file.
ALTER TABLE batch_file_drive_metadata ADD COLUMN local_size INTEGER;
ALTER TABLE batch_file_drive_metadata ADD COLUMN local_mtime_ms INTEGER;
ALTER TABLE batch_file_drive_metadata ADD COLUMN local_md5 TEXT;
-- Drive id from files.generateIds, stored before the first byte is sent.
ALTER TABLE batch_file_drive_metadata ADD COLUMN reserved_drive_id TEXT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN resumable_session_uri TEXT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN resumable_offset INTEGER;
-- Machine-readable class of the last error (e.g. "retryable:backendError"); upload_error has the text.
ALTER TABLE batch_file_drive_metadata ADD COLUMN last_error_reason TEXT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN uploaded_at INTEGER;

CREATE UNIQUE INDEX ux_batch_file_drive_metadata_job_file
    ON batch_file_drive_metadata(batch_job_id, original_filename);
-- Partial indexes keep the claim query proportional to the due rows, not the table.
CREATE INDEX idx_batch_file_drive_metadata_due
    ON batch_file_drive_metadata(next_attempt_at) WHERE upload_status = 'pending';
CREATE INDEX idx_batch_file_drive_metadata_lease
    ON batch_file_drive_metadata(lease_until) WHERE upload_status = 'uploading';

ALTER TABLE batch_drive_metadata ADD COLUMN folder_path TEXT;
CREATE UNIQUE INDEX ux_batch_drive_metadata_job ON batch_drive_metadata(batch_job_id);
