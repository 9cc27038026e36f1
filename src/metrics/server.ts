import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { errorMessage } from '../log/index.js';

/** Result of the daemon's health check: `ok` false when any problem is listed. */
export interface HealthReport {
  ok: boolean;
  problems: string[];
}

export interface MetricsServerOptions {
  /** "host:port" (`metrics.listen`), e.g. 127.0.0.1:9464; IPv6 as [::1]:9464; port 0 picks a free port. */
  listen: string;
  /** Anything with a prom-client registry, normally `createPrometheusMetrics()`. */
  metrics: { readonly registry: Registry };
  /** Supplied by the daemon (scan age, `SELECT 1`); a throw or a timeout counts as unhealthy. */
  health: () => Promise<HealthReport>;
  /** Upper bound for one health check; default 5000 ms. */
  healthTimeoutMs?: number;
  /** Run before each /metrics answer: gauges that read the database refresh here. */
  beforeScrape?: () => Promise<void>;
}

export interface MetricsServer {
  /** Base URL with the port actually bound, e.g. http://127.0.0.1:9464 */
  readonly url: string;
  /** Stops listening and drops open (keep-alive) connections. */
  close(): Promise<void>;
}

/** Parses "host:port" / "[v6]:port". Throws on anything else (the config schema checks the same shape). */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[3]);
  const host = m?.[1] ?? m?.[2];
  if (!m || host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new Error(`metrics.listen: expected host:port such as 127.0.0.1:9464, got "${listen}"`);
  }
  return { host, port };
}

/**
 * Problems with scan freshness for the health check: empty when the last scan finished less than
 * `maxAgeMs` ago (the daemon uses 3 × the scan interval). Before the first scan it reports that.
 */
export function scanHealth(lastScanAtMs: number | null, nowMs: number, maxAgeMs: number): string[] {
  if (lastScanAtMs === null) return ['no scan has completed yet'];
  const ageMs = nowMs - lastScanAtMs;
  if (ageMs > maxAgeMs) {
    return [`last scan completed ${Math.round(ageMs / 1000)} s ago (limit ${Math.round(maxAgeMs / 1000)} s)`];
  }
  return [];
}

/** Serves GET /metrics (Prometheus text) and GET /healthz (200 "ok" or 503, one problem per line). */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const { host, port } = parseListen(opts.listen);
  const healthTimeoutMs = opts.healthTimeoutMs ?? 5000;

  const server = createServer((req, res) => {
    handle(req, res, opts, healthTimeoutMs).catch((e: unknown) => {
      // The handler already answers every error it expects; this is the last resort so a
      // scrape never hangs or crashes the daemon.
      if (!res.headersSent) send(res, 500, `internal error: ${errorText(e)}\n`);
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' || host.includes(':') ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${addr.port}`,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: MetricsServerOptions, healthTimeoutMs: number): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics' && path !== '/healthz') {
    send(res, 404, 'not found\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
    return;
  }
  if (path === '/metrics') {
    await opts.beforeScrape?.();
    const body = await opts.metrics.registry.metrics();
    send(res, 200, body, { 'content-type': opts.metrics.registry.contentType });
    return;
  }
  const report = await checkHealth(opts.health, healthTimeoutMs);
  if (report.ok && report.problems.length === 0) send(res, 200, 'ok\n');
  else send(res, 503, (report.problems.length ? report.problems : ['unhealthy']).join('\n') + '\n');
}

async function checkHealth(health: () => Promise<HealthReport>, timeoutMs: number): Promise<HealthReport> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<HealthReport>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, problems: [`health check timed out after ${timeoutMs} ms`] }), timeoutMs);
  });
  try {
    return await Promise.race([health(), timeout]);
  } catch (e) {
    // A throwing check is itself the finding: report it as unhealthy rather than a 500.
    return { ok: false, problems: [`health check failed: ${errorText(e)}`] };
  } finally {
    clearTimeout(timer);
  }
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function errorText(e: unknown): string {
  return errorMessage(e).replace(/\s*\n\s*/g, ' ');
}
