// TypeScript tests run through tsx. workerThreads must be off: with worker threads the
// tsx loader is not applied and every .ts test fails with ERR_UNKNOWN_FILE_EXTENSION.
export default {
  files: ['test/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  timeout: '120s',
  concurrency: 2,
};
