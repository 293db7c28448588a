// kas tunnel metrics, in prom-client's default register. Gauges are computed when
// scraped from every live TunnelRegistry, so nothing has to keep them in step by hand.
import { Counter, Gauge } from 'prom-client';
import { processMetric } from '../../../internal/metrics';

export interface TunnelCounts {
  agentId: string;
  idle: number;
  busy: number;
}

const countSources = new Set<() => TunnelCounts[]>();

function collectCounts(): TunnelCounts[] {
  return [...countSources].flatMap((source) => source());
}

processMetric(
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

processMetric(
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

export const routingTimeouts = processMetric(
  'kas_routing_timeouts_total',
  () =>
    new Counter({
      name: 'kas_routing_timeouts_total',
      help: 'Requests that found no tunnel to their agent within the wait time.',
      labelNames: ['agent_id'],
    }),
);

export const agentConnectionsRefused = processMetric(
  'kas_agent_connections_refused_total',
  () =>
    new Counter({
      name: 'kas_agent_connections_refused_total',
      help: 'Tunnel streams refused because the agent token was missing or invalid.',
    }),
);

export function addTunnelCountSource(source: () => TunnelCounts[]): () => void {
  countSources.add(source);
  return () => countSources.delete(source);
}

/** Agent-port connections the connection guard closed (agent/internal/connection_guard.ts), by reason. */
export const agentConnectionsClosedUnauthenticated = processMetric(
  'kas_agent_connections_closed_unauthenticated_total',
  () =>
    new Counter({
      name: 'kas_agent_connections_closed_unauthenticated_total',
      help: 'Agent listener connections closed before they authenticated: over_capacity, handshake_timeout, authentication_timeout.',
      labelNames: ['reason'],
    }),
);

export const tunnelProtocolErrors = processMetric(
  'kas_tunnel_protocol_errors_total',
  () =>
    new Counter({
      name: 'kas_tunnel_protocol_errors_total',
      help: 'Tunnel streams kas closed because the agent sent a frame out of order, after the end, or empty.',
    }),
);

export const tunnelReplays = processMetric(
  'kas_tunnel_replays_total',
  () =>
    new Counter({
      name: 'kas_tunnel_replays_total',
      help: 'Proxied requests kas sent again on another tunnel stream, by why.',
      labelNames: ['reason'],
    }),
);
