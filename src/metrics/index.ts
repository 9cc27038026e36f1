import type { PrometheusMetrics, PrometheusOptions } from './prometheus.js';

export { createNoopMetrics, type Metrics, type QueueSnapshot, type UploadOutcome } from './types.js';
export type { PrometheusMetrics } from './prometheus.js';
export { parseListen, scanHealth, startMetricsServer, type HealthReport, type MetricsServer, type MetricsServerOptions } from './server.js';

/** Prometheus metrics with their own registry. prom-client is loaded only when asked for (metrics.listen set). */
export async function createPrometheusMetrics(opts?: PrometheusOptions): Promise<PrometheusMetrics> {
  const { createPrometheusMetrics: create } = await import('./prometheus.js');
  return create(opts);
}
