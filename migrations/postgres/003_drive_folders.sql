-- 003 (PostgreSQL): every Drive folder the daemon makes, keyed by (parent, name). The id is
-- reserved with files.generateIds and recorded here BEFORE the folder is created, so several
-- daemons (or a restart after a crash) create each folder exactly once.
CREATE TABLE batch_drive_folders (
    parent_id TEXT NOT NULL,
    name TEXT NOT NULL,
    drive_folder_id TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (parent_id, name)
);
