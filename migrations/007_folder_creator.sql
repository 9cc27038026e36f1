-- 007: daemons sharing a database make each folder once without racing each other in Drive. The
-- daemon whose reserved id is recorded first holds creating_until (epoch ms) while it creates the
-- folder; the others wait for it to clear instead of sending a create of their own (answered
-- 409). A lease left by a creator that crashed runs out and is taken over. NULL: made, found in
-- Drive, or recorded before this step.
ALTER TABLE batch_drive_folders ADD COLUMN creating_until INTEGER;
