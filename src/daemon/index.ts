export { startDaemon, type Daemon, type DaemonOptions } from './daemon.js';
export { syncOnce, type OnceOptions, type OnceResult } from './once.js';
export { openRuntime, loggerFor, driveOptions, type Runtime, type RuntimeOptions } from './runtime.js';
