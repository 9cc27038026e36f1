export { createWatcher, type Watcher, type WatcherOptions, type FileReady, type WatchDir, type DirWatch } from './watcher.js';
export { walkJobDir, type WalkedFile } from './walk.js';
export { createIgnoreMatcher, globToRegExp } from './glob.js';
export { resolveJobFile, checkRelativeName, isSafeJobId, LocalPathError, LocalFileError, type ResolvedFile } from './paths.js';
