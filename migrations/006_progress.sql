-- 006: what `status`, the systemd status line and the metrics need to show progress.
-- started_at: when the first upload attempt of the row's current content began (kept across
-- retries; a changed file starts over). attempt_started_at / attempt_offset: when the current or
-- last attempt began and the confirmed offset it began at, so the bytes an attempt sent can be
-- spread over its duration (rate over the last minute, ETA). Epoch milliseconds, as in 002.
ALTER TABLE batch_file_drive_metadata ADD COLUMN started_at INTEGER;
ALTER TABLE batch_file_drive_metadata ADD COLUMN attempt_started_at INTEGER;
ALTER TABLE batch_file_drive_metadata ADD COLUMN attempt_offset INTEGER;
-- Rows not (yet) uploaded, by job: `status` finds the jobs that need attention without reading
-- a year of uploaded rows; the status line and the metrics count them the same way.
CREATE INDEX idx_batch_file_drive_metadata_open
    ON batch_file_drive_metadata(batch_job_id, upload_status) WHERE upload_status <> 'uploaded';
-- Pending rows by size: the claim that keeps one upload slot for the oldest large file finds
-- the large ones without walking every small due row.
CREATE INDEX idx_batch_file_drive_metadata_pending_size
    ON batch_file_drive_metadata(local_size) WHERE upload_status = 'pending';
-- Uploads by time: the rate over the last minute reads only that minute's rows.
CREATE INDEX idx_batch_file_drive_metadata_uploaded_at
    ON batch_file_drive_metadata(uploaded_at) WHERE upload_status = 'uploaded';
