// kas metrics of the reverse HTTP/1.1 transport, computed when scraped from every live registry.
import { Counter, Gauge } from 'prom-client';
import { processMetric } from '../../../internal/metrics';

export interface HttpTunnelCounts {
  agentId: string;
  idle: number;
  busy: number;
}

export const httpTunnelCountSources = new Set<() => HttpTunnelCounts[]>();

const collect = () => [...httpTunnelCountSources].flatMap((source) => source());

processMetric(
  'kas_http_tunnel_connections',
  () =>
    new Gauge({
      name: 'kas_http_tunnel_connections',
      help: 'Reverse HTTP/1.1 agent connections (transport v2), per agent and state (idle, busy; upgraded ones are not counted).',
      labelNames: ['agent_id', 'state'],
      collect() {
        this.reset();
        for (const c of collect()) {
          this.set({ agent_id: c.agentId, state: 'idle' }, c.idle);
          this.set({ agent_id: c.agentId, state: 'busy' }, c.busy);
        }
      },
    }),
);

export const httpTunnelConnectionsAccepted = processMetric(
  'kas_http_tunnel_connections_accepted_total',
  () => new Counter({ name: 'kas_http_tunnel_connections_accepted_total', help: 'Reverse HTTP/1.1 agent connections admitted.' }),
);

export const httpTunnelConnectionsRefused = processMetric(
  'kas_http_tunnel_connections_refused_total',
  () =>
    new Counter({
      name: 'kas_http_tunnel_connections_refused_total',
      help: 'Reverse HTTP/1.1 agent connections refused, by reason (unauthenticated, rate_limited, error).',
      labelNames: ['reason'],
    }),
);

export const httpTunnelRequests = processMetric(
  'kas_http_tunnel_requests_total',
  () =>
    new Counter({
      name: 'kas_http_tunnel_requests_total',
      help: 'Proxied requests sent over reverse HTTP/1.1 agent connections, by kind (http, upgrade).',
      labelNames: ['kind'],
    }),
);

export const httpTunnelProbes = processMetric(
  'kas_http_tunnel_probes_total',
  () =>
    new Counter({
      name: 'kas_http_tunnel_probes_total',
      help:
        'Liveness probes of agentk processes over reverse HTTP/1.1 connections, by result (answered; agent_closed: nothing came ' +
        'from the agentk in time, all its connections closed; connection_closed: only the probed connection did not answer).',
      labelNames: ['result'],
    }),
);
