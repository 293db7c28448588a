// kas's own Prometheus metrics, on prom-client's default register (served by the observability
// module). Created once per process: several kas instances in one test process share them.
// Refused connections are counted in the reverse tunnel's kas_agent_connections_refused_total.
import { Counter, Gauge, register } from 'prom-client';

function singleton<T>(name: string, create: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? create();
}

export const connectedAgentsGauge = singleton(
  'kas_connected_agents',
  () => new Gauge({ name: 'kas_connected_agents', help: 'Agents with at least one connected agentk replica' }),
);

export const agentkConnectionsGauge = singleton(
  'kas_agentk_connections',
  () => new Gauge({ name: 'kas_agentk_connections', help: 'Connected agentk replicas (open configuration streams)' }),
);

export const configDeliveriesCounter = singleton(
  'kas_config_deliveries_total',
  () => new Counter({ name: 'kas_config_deliveries_total', help: 'Agent configurations sent to agentk' }),
);
