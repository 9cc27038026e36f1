export { createWatcher, type Watcher, type WatcherOptions, type FileReady } from './watcher.js';
export { walkJobDir, type WalkedFile } from './walk.js';
export { createIgnoreMatcher, globMatcher } from './glob.js';
export { resolveJobFile, checkRelativeName, isSafeJobId, LocalPathError, LocalFileError, type ResolvedFile } from './paths.js';
