// Public API of src/drive: everything the daemon says to Google Drive.
export { createDriveClient } from './client.js';
export {
  DriveError,
  RetryableDriveError,
  DriveChecksumError,
  RateLimitError,
  DriveAuthError,
  PermanentDriveError,
  DailyCapError,
  classifyDriveError,
  retryDelayMs,
  parseRetryAfter,
  type DriveErrorKind,
  type RetryDelayPolicy,
} from './errors.js';
export { createPacer, DEFAULT_PACER_OPTIONS, type Pacer, type PacerOptions, type PacerPermit, type PacerSnapshot, type PacerStats } from './pacer.js';
export { DEFAULT_DAILY_CAP_OPTIONS, type DailyCapOptions } from './daily-cap.js';
export { endpointRewriter, GOOGLE_ENDPOINT } from './auth.js';
export { sessionUriProblem } from './session-uri.js';
export { escapeQueryValue } from './folders.js';
export {
  FOLDER_MIME,
  type DriveClient,
  type DriveClientOptions,
  type DriveFileInfo,
  type FolderRegistry,
  type UploadCheckpoint,
  type UploadRequest,
  type UploadResult,
} from './types.js';
