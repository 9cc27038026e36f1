export { createWatcher, type Watcher, type WatcherOptions, type FileReady, type WatchDir, type DirWatch } from './watcher.js';
export { createIgnoreMatcher, globMatcher } from './glob.js';
