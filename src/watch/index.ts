export { createWatcher, type Watcher, type WatcherOptions, type FileReady, type WatchDir, type DirWatch } from './watcher.js';
export { createIgnoreMatcher, globToRegExp } from './glob.js';
