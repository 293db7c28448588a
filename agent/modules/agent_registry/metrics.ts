// The connected-agents gauges, on prom-client's default register (served by the observability
// module). Created once per process; computed when scraped from every running kas (tests run
// several in one process), so nothing keeps them in step by hand.
// Refused connections are counted in the reverse tunnel's kas_agent_connections_refused_total.
import { Counter, Gauge } from 'prom-client';
import { processMetric } from '../../internal/metrics';

/** What one running kas reports at scrape time. */
export interface ConnectionCounts {
  /** Agents with at least one connected agentk replica. */
  agents: number;
  /** Connected agentk replicas. */
  replicas: number;
}

const sources = new Set<() => ConnectionCounts>();

function total(pick: (counts: ConnectionCounts) => number): number {
  let sum = 0;
  for (const source of sources) sum += pick(source());
  return sum;
}

processMetric(
  'kas_connected_agents',
  () =>
    new Gauge({
      name: 'kas_connected_agents',
      help: 'Agents with at least one connected agentk replica (tunnel or configuration stream)',
      collect() {
        this.set(total((c) => c.agents));
      },
    }),
);

processMetric(
  'kas_agentk_connections',
  () =>
    new Gauge({
      name: 'kas_agentk_connections',
      help: 'Connected agentk replicas',
      collect() {
        this.set(total((c) => c.replicas));
      },
    }),
);

/** Adds a kas's connection counts to the gauges; returns the function that removes them. */
export function addConnectionCountSource(source: () => ConnectionCounts): () => void {
  sources.add(source);
  return () => sources.delete(source);
}

/** Failed user and CI credentials (auth_failures.ts), by how kas answered: 401 at once, 401 late, 429. */
export const authenticationFailures = processMetric(
  'kas_authentication_failures_total',
  () =>
    new Counter({
      name: 'kas_authentication_failures_total',
      help: 'Failed user and CI credentials on the Kubernetes API proxy and the REST API, by answer (unauthorized, delayed, refused)',
      labelNames: ['answer'],
    }),
);
