// kas's REST API for the VS Code extension, on its own listener (api.listen).
import { readTlsFiles } from '../../kascfg/kascfg';
import type { KasModule } from '../../module/modserver';
import { KAS_VERSION } from '../../internal/version';
import { tunnelFiguresOf } from '../kubernetes_api/server/tunnel_figures';
import { AgentConfigWriter } from '../agent_registry/config_writer';
import { GitConfigRepository } from '../agent_registry/git_repository';
import { createAgentAdmin } from './agent_admin';
import { startApiServer } from './server';

export const restApiModule: KasModule = {
  name: 'api',
  async start({ config, registry, tunnels, listeners, logger }) {
    const api = await startApiServer({
      address: config.api.listen.address,
      tls: await readTlsFiles(config.api.listen.tls),
      version: KAS_VERSION,
      configProjectId: config.registry.projectId,
      watcher: registry.watcher,
      connectionsOf: (agentId) => registry.connections.connectionsOf(agentId),
      // With several replicas the agents list comes from what they share; alone, from this one.
      connectedAgentsOfProject: config.redis && ((project: string) => registry.connections.agentsOfProject(project)),
      userTokens: registry.userTokens,
      authenticationFailures: registry.authenticationFailures,
      timeouts: config.api.listen.timeouts,
      tunnelFigures: (agentId) => tunnelFiguresOf(tunnels.local).view(agentId),
      agentAdmin: createAgentAdmin({
        configProjectId: config.registry.projectId,
        watcher: registry.watcher,
        writer: new AgentConfigWriter(new GitConfigRepository(config.registry.configRepository)),
        agentTokens: registry.agentTokens,
        agentListener: () => ({ address: listeners.find('agent_listener')?.address ?? '', tls: config.agent.listen.tls !== undefined }),
        logger,
      }),
      logger,
    });
    listeners.add({ name: 'api_listener', address: api.address, url: api.url });
    return api;
  },
};
