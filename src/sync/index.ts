export { type SyncContext, folderUrl, fileUrl, previewUrl, uploadsPausedUntil } from './context.js';
export { createAccountPause, type AccountPause } from './account-pause.js';
export { scanJobs, onFileReady, recomputeJob, type ScanSummary } from './discover.js';
export { drainDue, type DrainSummary, type DrainSignals } from './reconciler.js';
export { uploadRow, type RowResult } from './upload-row.js';
export { decide, type ErrorDecision } from './outcome.js';
export { ensureJobFolder, folderRegistry } from './folders.js';
export { fitAppProperty, fileAppProperties } from './app-properties.js';
export { createEnabledJobs, type EnabledJobs } from './enabled.js';
