-- 005: which daemon (daemon.node_name) found a file. With watch.shared_storage false a daemon
-- uploads only the rows it found (only its host has the file). SQLite serves one host, so this
-- is recorded for the same reports as on PostgreSQL and changes nothing else.
ALTER TABLE batch_file_drive_metadata ADD COLUMN found_by_node TEXT;
