// kas side of the agent configuration: GetConfiguration on the agent listener streams each agent
// its configuration from the config repository, and every open stream counts as a connected replica
// (as does a reference agent's Register, until it expires).
import type { KasModule } from '../../module/modserver';
import { configDeliveriesCounter } from './metrics';
import { registrarService } from './registrar';
import { configurationService } from './server';

export const agentConfigurationModule: KasModule = {
  name: 'agent_configuration',
  async start({ config, registry, agentServer, logger }) {
    agentServer.addService(
      configurationService({
        watcher: registry.watcher,
        admitAgent: (token) => registry.admission.admit(token),
        projectId: config.registry.projectId,
        trackConnection: (agentId, meta) => registry.connections.trackConfigStream(agentId, meta),
        onDelivered: () => configDeliveriesCounter.inc(),
        logger,
      }),
    );
    agentServer.addService(
      registrarService({
        admitAgent: (token) => registry.admission.admit(token),
        trackRegistration: (agentId, podId, meta, ttlMs) => registry.connections.trackRegistration(agentId, podId, meta, ttlMs),
        logger,
      }),
    );
  },
};
