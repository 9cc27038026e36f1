export { createWatcher, type Watcher, type WatcherOptions, type FileReady } from './watcher.js';
export { createIgnoreMatcher, globMatcher } from './glob.js';
