-- 002 (PostgreSQL): what the daemon needs to upload every file exactly once and survive
-- restarts; the same columns as the SQLite file. Times the daemon writes are epoch
-- milliseconds from its injected clock (BIGINT: they do not fit a 32-bit INTEGER), and so are
-- sizes and offsets (files over 2 GiB).

ALTER TABLE batch_file_drive_metadata ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batch_file_drive_metadata ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE batch_file_drive_metadata ADD COLUMN lease_owner TEXT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN lease_until BIGINT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN local_size BIGINT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN local_mtime_ms BIGINT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN local_md5 TEXT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN reserved_drive_id TEXT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN resumable_session_uri TEXT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN resumable_offset BIGINT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN last_error_reason TEXT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN uploaded_at BIGINT;

CREATE UNIQUE INDEX ux_batch_file_drive_metadata_job_file
    ON batch_file_drive_metadata(batch_job_id, original_filename);
-- Partial indexes keep the claim query proportional to the due rows, not the table.
CREATE INDEX idx_batch_file_drive_metadata_due
    ON batch_file_drive_metadata(next_attempt_at) WHERE upload_status = 'pending';
CREATE INDEX idx_batch_file_drive_metadata_lease
    ON batch_file_drive_metadata(lease_until) WHERE upload_status = 'uploading';

ALTER TABLE batch_drive_metadata ADD COLUMN folder_path TEXT;
CREATE UNIQUE INDEX ux_batch_drive_metadata_job ON batch_drive_metadata(batch_job_id);
