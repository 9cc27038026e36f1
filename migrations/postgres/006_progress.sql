-- 006 (PostgreSQL): mirrors migrations/006_progress.sql. When each upload attempt began and at
-- which confirmed offset (status: rate over the last minute, ETA, first upload started), and
-- indexes for rows not uploaded, pending rows by size (the large-file slot) and uploads by time.
ALTER TABLE batch_file_drive_metadata ADD COLUMN started_at BIGINT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN attempt_started_at BIGINT;
ALTER TABLE batch_file_drive_metadata ADD COLUMN attempt_offset BIGINT;
CREATE INDEX idx_batch_file_drive_metadata_open
    ON batch_file_drive_metadata(batch_job_id, upload_status) WHERE upload_status <> 'uploaded';
CREATE INDEX idx_batch_file_drive_metadata_pending_size
    ON batch_file_drive_metadata(local_size) WHERE upload_status = 'pending';
CREATE INDEX idx_batch_file_drive_metadata_uploaded_at
    ON batch_file_drive_metadata(uploaded_at) WHERE upload_status = 'uploaded';
