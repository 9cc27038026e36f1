-- 004 (PostgreSQL): a job-level error, for what no file row can carry: a job id that cannot be a
-- directory name, a job directory that resolves outside watch.output_dir, file names that are
-- not valid UTF-8. Set and cleared by each walk of the job; while set, the job reads `failed`
-- and `status` shows the text.
ALTER TABLE batch_drive_metadata ADD COLUMN job_error TEXT;
-- Machine-readable class, e.g. "local:refused" or "local:bad_name".
ALTER TABLE batch_drive_metadata ADD COLUMN job_error_reason TEXT;
