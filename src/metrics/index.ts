export { createNoopMetrics, type Metrics, type UploadOutcome } from './types.js';
export { createPrometheusMetrics, type PrometheusMetrics } from './prometheus.js';
export {
  parseListen,
  scanHealth,
  startMetricsServer,
  type HealthReport,
  type MetricsServer,
  type MetricsServerOptions,
} from './server.js';
