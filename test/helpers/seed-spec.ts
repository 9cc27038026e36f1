/**
 * The seed's "Migration Script", copied verbatim from
 * the user's schema spec (2025-09-12-batch-drive-integration-database-schema.md).
 */
export const SEED_MIGRATION_SCRIPT = `
-- Migration: Add Google Drive integration to batch processing
-- Version: 2025-09-12-batch-drive-integration

BEGIN TRANSACTION;

-- Create batch-level Drive metadata table
CREATE TABLE batch_drive_metadata (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_job_id VARCHAR(255) NOT NULL,
    drive_folder_id VARCHAR(255),
    drive_folder_url VARCHAR(500),
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

-- Create file-level Drive metadata table  
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

-- Add Drive integration columns to existing batch_jobs table
ALTER TABLE batch_jobs ADD COLUMN drive_integration_enabled BOOLEAN DEFAULT FALSE;
ALTER TABLE batch_jobs ADD COLUMN drive_upload_status VARCHAR(50) DEFAULT 'not_requested';
ALTER TABLE batch_jobs ADD COLUMN drive_folder_pattern VARCHAR(255);

-- Create performance indexes
CREATE INDEX idx_batch_drive_metadata_job_id ON batch_drive_metadata(batch_job_id);
CREATE INDEX idx_batch_file_drive_metadata_job_id ON batch_file_drive_metadata(batch_job_id);
CREATE INDEX idx_batch_file_drive_metadata_status ON batch_file_drive_metadata(upload_status);

COMMIT;
`;
