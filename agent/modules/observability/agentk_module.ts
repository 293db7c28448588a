// agentk's probes and metrics: /readiness passes once kas accepted a tunnel stream since the
// last connection failure.
import type { AgentkModule } from '../../module/modagent';
import { startObservabilityServer } from './server';

export const observabilityAgentModule: AgentkModule = {
  name: 'observability',
  async start({ observabilityAddress, tunnels, listeners, logger }) {
    if (observabilityAddress === null) return;
    const server = await startObservabilityServer({ address: observabilityAddress, isReady: () => tunnels.stats().connected, logger });
    listeners.add({ name: 'observability_listener', address: server.address });
    return server;
  },
};
