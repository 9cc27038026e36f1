export { openDatabase, withTransaction, type Db, type OpenOptions } from './open.js';
export { migrate, migrationStatus, assertMigrated, readMigrations, defaultMigrationsDir, type MigrationState } from './migrate.js';
export type {
  UploadStore,
  QueueStore,
  FileStore,
  JobStore,
  FolderStore,
  ReportStore,
  UpsertResult,
  EnabledJob,
  StoreOptions,
} from './store.js';
export { createStore, sqlTimestamp } from './sqlite/index.js';
export { jobDriveStatus, type RowCounts } from './job-status.js';
export { DbError, NotMigratedError } from './errors.js';
export type { ActivitySummary, FileListing, FileRow, JobFolder, JobProgress, JobReport, JobDriveStatus, ProgressReport, UploadStatus, Now } from './types.js';
export { RATE_WINDOW_MS } from './sqlite/progress.js';
export { openBackend, sqliteBackend, type Database, type DatabaseConfig, type OpenBackendOptions } from './backend.js';
export { DbUnavailableError } from './errors.js';
export type { WakeEvent, WakeListener } from './postgres/listen.js';
export { assertWritable, writeAccessProblem, processUser } from './writable.js';
