export { createNoopMetrics, type Metrics, type UploadOutcome } from './types.js';
