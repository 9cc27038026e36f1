-- 005 (PostgreSQL): several daemons on several hosts.
-- Which daemon (daemon.node_name) found a file: with watch.shared_storage false a daemon
-- uploads only the rows it found, since only its host has the file.
ALTER TABLE batch_file_drive_metadata ADD COLUMN found_by_node TEXT;

-- Wake-up: every daemon LISTENs on batch_drive_sync and reacts at once instead of at the next
-- scheduled scan (which stays, as the safety net). Payload: {"kind":"job"|"file","job":"<id>"}.
-- Identical notifications of one transaction are delivered once, so a scan inserting a
-- thousand rows of one job wakes each daemon once.
CREATE FUNCTION batch_drive_sync_notify_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('batch_drive_sync', json_build_object('kind', 'job', 'job', NEW.job_id)::text);
  RETURN NULL;
END
$$;

CREATE FUNCTION batch_drive_sync_notify_file() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('batch_drive_sync', json_build_object('kind', 'file', 'job', NEW.batch_job_id)::text);
  RETURN NULL;
END
$$;

-- A job inserted already enabled, or enabled later.
CREATE TRIGGER batch_drive_sync_job_inserted AFTER INSERT ON batch_jobs
    FOR EACH ROW WHEN (NEW.drive_integration_enabled IS TRUE) EXECUTE FUNCTION batch_drive_sync_notify_job();
CREATE TRIGGER batch_drive_sync_job_enabled AFTER UPDATE OF drive_integration_enabled ON batch_jobs
    FOR EACH ROW WHEN (NEW.drive_integration_enabled IS TRUE AND OLD.drive_integration_enabled IS NOT TRUE)
    EXECUTE FUNCTION batch_drive_sync_notify_job();
-- A row that becomes due: inserted (by the batch system or a daemon), or set back to pending
-- (`retry`, a changed file, a daemon shutting down).
CREATE TRIGGER batch_drive_sync_file_inserted AFTER INSERT ON batch_file_drive_metadata
    FOR EACH ROW WHEN (NEW.upload_status = 'pending') EXECUTE FUNCTION batch_drive_sync_notify_file();
CREATE TRIGGER batch_drive_sync_file_requeued AFTER UPDATE OF upload_status ON batch_file_drive_metadata
    FOR EACH ROW WHEN (NEW.upload_status = 'pending' AND OLD.upload_status IS DISTINCT FROM 'pending')
    EXECUTE FUNCTION batch_drive_sync_notify_file();
