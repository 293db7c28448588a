// The embedded agent registry, kas's stand-in for GitLab: the config repository (followed from
// start to stop), the agent ids, agent tokens and user tokens, who may reach which agent, who is
// admitted on the agent listener, and who is connected. Every kas module reaches agents through it.
import type { KasConfig } from '../../kascfg/kascfg';
import type { Logger } from '../../internal/log';
import type { ShutdownStack } from '../../module/shutdown_stack';
import { AgentConfigWatcher } from '../agent_configuration/config_watcher';
import type { ConnectedAgent } from '../reverse_tunnel/server/registry';
import { ConnectionAdmission } from './admission';
import { AuthenticationFailures } from './auth_failures';
import { AgentIdStore } from './agent_ids';
import { AgentTokenStore } from './agent_tokens';
import { createAuthorizer, type AuthorizationResult, type AuthorizeRequest } from './authorize';
import { AgentConnections } from './connections';
import { GitConfigRepository } from './git_repository';
import { UserTokenStore } from './user_tokens';

export interface AgentRegistry {
  agentIds: AgentIdStore;
  agentTokens: AgentTokenStore;
  userTokens: UserTokenStore;
  /** Agents' configurations as the config repository's default branch holds them. */
  watcher: AgentConfigWatcher;
  /** Checks a proxy user (pat:) or CI job (ci:) credential against the agent's config. */
  authorizeUser(request: AuthorizeRequest): Promise<AuthorizationResult>;
  admission: ConnectionAdmission;
  /** Failed user and CI credentials per client address and agent id (the proxy and the REST API share it). */
  authenticationFailures: AuthenticationFailures;
  connections: AgentConnections;
}

export async function openAgentRegistry(
  config: KasConfig,
  tunnels: { connectedAgents(): ConnectedAgent[] },
  logger: Logger,
  shutdown: ShutdownStack,
): Promise<AgentRegistry> {
  const agentIds = new AgentIdStore(config.registry.dataDir);
  const watcher = new AgentConfigWatcher({
    repository: new GitConfigRepository(config.registry.configRepository),
    agentIds,
    pollPeriodMs: config.agent.configuration.pollPeriodMs,
    maxConfigFileBytes: config.agent.configuration.maxConfigurationFileSize,
    logger: logger.child({ module: 'agent_configuration' }),
  });
  await watcher.start();
  shutdown.push(async () => watcher.stop());
  const agentTokens = new AgentTokenStore(config.registry.dataDir, agentIds);
  const userTokens = new UserTokenStore(config.registry.dataDir);
  const connections = new AgentConnections({ tunnels });
  const authenticationFailures = new AuthenticationFailures(config.kas.authenticationFailures);
  shutdown.push(async () => connections.close());
  return {
    agentIds,
    agentTokens,
    userTokens,
    watcher,
    authorizeUser: createAuthorizer({
      userTokens,
      configOf: (id) => watcher.agentById(id)?.config,
      configProjectId: config.registry.projectId,
      failures: authenticationFailures,
    }),
    admission: new ConnectionAdmission(agentTokens, config.agent.listen.connectionsPerTokenPerMinute),
    authenticationFailures,
    connections,
  };
}
