// Probes and metrics on their own port, for kas (observability.listen.address) and agentk:
//   GET /liveness  → 200 while the process serves requests at all
//   GET /readiness → 200 when isReady() says so, else 503; with `checks`, a JSON body naming each
//                    check (ok or failing, and why), 200 only when every required check passes
//   GET /metrics   → prom-client's default register, Prometheus text format
import * as http from 'node:http';
import { listen, type HttpTimeouts } from '../../internal/listen';
import { register } from 'prom-client';
import type { Logger } from '../../internal/log';

export interface ObservabilityServerOptions {
  /** host:port; port 0 picks a free one. */
  address: string;
  /** Slow headers and idle keep-alive (observability.listen.read_header_timeout, idle_timeout). */
  timeouts?: HttpTimeouts;
  /** Overall gate (e.g. false while stopping); with `checks`, both must pass. */
  isReady?: () => boolean;
  /** Named checks shown in the /readiness body. */
  checks?: () => Promise<ReadinessCheck[]> | ReadinessCheck[];
  logger: Logger;
}

export interface ReadinessCheck {
  /** Stable machine name, e.g. "redis", "agent_listener". */
  name: string;
  ok: boolean;
  /** A failing optional check is reported but does not make the server not ready. */
  required: boolean;
  /** Short human explanation (why it fails, or what was checked). */
  reason: string;
}

export interface ReadinessReport {
  ready: boolean;
  checks: ReadinessCheck[];
}

/** Ready when the gate allows it and every required check passes. */
export async function readinessReport(options: Pick<ObservabilityServerOptions, 'isReady' | 'checks'>): Promise<ReadinessReport> {
  const checks = (await options.checks?.()) ?? [];
  const gateOpen = options.isReady?.() ?? true;
  return { ready: gateOpen && checks.every((c) => c.ok || !c.required), checks };
}

export interface ObservabilityServer {
  /** The bound host:port. */
  address: string;
  stop(): Promise<void>;
}

export async function startObservabilityServer(options: ObservabilityServerOptions): Promise<ObservabilityServer> {
  const server = http.createServer((req, res) => {
    answer(req, options)
      .then(({ status, type, body }) => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(body);
      })
      .catch((err: unknown) => {
        options.logger.error('observability request failed', { err, path: req.url });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
  });
  const address = await listen(server, options.address, options.timeouts);
  options.logger.info('observability listener started', { address });
  return {
    address,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(
  req: http.IncomingMessage,
  options: ObservabilityServerOptions,
): Promise<{ status: number; type: string; body: string }> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, type: 'text/plain', body: 'method not allowed\n' };
  switch (path) {
    case '/liveness':
      return { status: 200, type: 'text/plain', body: 'ok\n' };
    case '/readiness':
      return await readinessAnswer(options);
    case '/metrics':
      return { status: 200, type: register.contentType, body: await register.metrics() };
    default:
      return { status: 404, type: 'text/plain', body: 'not found: use /liveness, /readiness or /metrics\n' };
  }
}

async function readinessAnswer(options: ObservabilityServerOptions): Promise<{ status: number; type: string; body: string }> {
  const report = await readinessReport(options);
  const status = report.ready ? 200 : 503;
  if (!options.checks) return { status, type: 'text/plain', body: report.ready ? 'ready\n' : 'not ready\n' };
  return {
    status,
    type: 'application/json; charset=utf-8',
    body: JSON.stringify({ status: report.ready ? 'ready' : 'not ready', checks: report.checks }) + '\n',
  };
}
