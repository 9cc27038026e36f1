-- 001: the seed schema exactly as the user's spec (2025-09-12-batch-drive-integration) creates it.
-- The runner wraps this file in one transaction. Like the spec's own migration script, the tables
-- carry no FOREIGN KEY to batch_jobs(job_id): SQLite rejects such a key with "foreign key mismatch"
-- whenever batch_jobs.job_id is not PRIMARY KEY/UNIQUE, and the daemon must work on both kinds of
-- batch_jobs. Referential integrity is kept by the daemon instead (it only creates rows for jobs
-- that exist). See README "Foreign keys".

CREATE TABLE batch_drive_metadata (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_job_id VARCHAR(255) NOT NULL,
    drive_folder_id VARCHAR(255),
    drive_folder_url VARCHAR(500),
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE batch_file_drive_metadata (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_job_id VARCHAR(255) NOT NULL,
    original_filename VARCHAR(255) NOT NULL,
    drive_file_id VARCHAR(255),
    drive_file_url VARCHAR(500),
    preview_url VARCHAR(500),
    upload_status VARCHAR(50) DEFAULT 'pending',
    upload_error TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

ALTER TABLE batch_jobs ADD COLUMN drive_integration_enabled BOOLEAN DEFAULT FALSE;
ALTER TABLE batch_jobs ADD COLUMN drive_upload_status VARCHAR(50) DEFAULT 'not_requested';
ALTER TABLE batch_jobs ADD COLUMN drive_folder_pattern VARCHAR(255);

CREATE INDEX idx_batch_drive_metadata_job_id ON batch_drive_metadata(batch_job_id);
CREATE INDEX idx_batch_file_drive_metadata_job_id ON batch_file_drive_metadata(batch_job_id);
CREATE INDEX idx_batch_file_drive_metadata_status ON batch_file_drive_metadata(upload_status);
