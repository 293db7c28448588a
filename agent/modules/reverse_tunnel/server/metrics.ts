// kas tunnel and proxy metrics, in prom-client's default register. Gauges are computed when
// scraped from every live TunnelRegistry, so nothing has to keep them in step by hand.
import { Counter, Gauge, Histogram, register, type Metric } from 'prom-client';

export interface TunnelCounts {
  agentId: string;
  idle: number;
  busy: number;
}

const countSources = new Set<() => TunnelCounts[]>();

/** Registers a metric once per process (modules may be loaded by several entry points in tests). */
function once<T extends Metric>(name: string, create: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? create();
}

function collectCounts(): TunnelCounts[] {
  return [...countSources].flatMap((source) => source());
}

once(
  'kas_tunnels_idle',
  () =>
    new Gauge({
      name: 'kas_tunnels_idle',
      help: 'Idle reverse tunnel streams, per agent.',
      labelNames: ['agent_id'],
      collect() {
        this.reset();
        for (const c of collectCounts()) this.set({ agent_id: c.agentId }, c.idle);
      },
    }),
);

once(
  'kas_tunnels_busy',
  () =>
    new Gauge({
      name: 'kas_tunnels_busy',
      help: 'Reverse tunnel streams carrying a request, per agent.',
      labelNames: ['agent_id'],
      collect() {
        this.reset();
        for (const c of collectCounts()) this.set({ agent_id: c.agentId }, c.busy);
      },
    }),
);

export const routingTimeouts = once(
  'kas_routing_timeouts_total',
  () =>
    new Counter({
      name: 'kas_routing_timeouts_total',
      help: 'Requests that found no tunnel to their agent within the wait time.',
      labelNames: ['agent_id'],
    }),
);

export const agentConnectionsRefused = once(
  'kas_agent_connections_refused_total',
  () =>
    new Counter({
      name: 'kas_agent_connections_refused_total',
      help: 'Tunnel streams refused because the agent token was missing or invalid.',
    }),
);

export const proxyRequestDuration = once(
  'kas_k8s_proxy_request_duration_seconds',
  () =>
    new Histogram({
      name: 'kas_k8s_proxy_request_duration_seconds',
      help: 'Kubernetes API proxy requests, from arrival to response headers, by status code.',
      labelNames: ['status'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 20],
    }),
);

export function addTunnelCountSource(source: () => TunnelCounts[]): () => void {
  countSources.add(source);
  return () => countSources.delete(source);
}
