-- 007 (PostgreSQL): mirrors migrations/007_folder_creator.sql. The first recorder of a folder
-- holds creating_until (epoch ms) while it creates it; the other daemons wait for it to clear
-- instead of racing it in Drive, and take over a lease that ran out (a crashed creator).
ALTER TABLE batch_drive_folders ADD COLUMN creating_until BIGINT;
