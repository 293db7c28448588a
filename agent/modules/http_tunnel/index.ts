// The reverse HTTP/1.1 agent transport (v2): kas's side assembled (for the kas module, tests and
// the benchmark) and agentk's pieces. protocol.ts describes the wire.
import type { Logger } from '../../internal/log';
import type { AuthenticatedAgent } from '../agent_registry/agent_tokens';
import type { DirectRoute } from '../kubernetes_api/server/direct_route';
import type { AgentUpgradeHandler } from '../reverse_tunnel/server/agent_server';
import type { TunnelRegistry } from '../reverse_tunnel/server/registry';
import { HTTP_TUNNEL_PROTOCOL } from './protocol';
import { acceptHttpTunnel } from './server/accept';
import { HttpTunnelRegistry } from './server/connections';
import { httpTunnelRoute } from './server/route';

export { HTTP_TUNNEL_PROTOCOL } from './protocol';
export { HttpTunnelRegistry } from './server/connections';
export { HttpTunnelPool, type HttpTunnelPoolStats } from './agent/pool';

export interface HttpTunnelServerOptions {
  /** The agent listener's admission: undefined for an unknown token, AgentRateLimitedError over the limit. */
  authenticateAgent(token: string): Promise<AuthenticatedAgent | undefined>;
  maxConnectionAgeMs?: number;
  maxConnectionAgeGraceMs?: number;
  /** An agentk from which nothing arrived for this long is probed; default 5 s. */
  keepaliveTimeMs?: number;
  /** A probe with no byte back within this long closes that agentk's connections; default 4 s. */
  keepaliveTimeoutMs?: number;
  agentWaitTimeoutMs?: number;
  /**
   * This kas's gRPC tunnel registry: an agentk process one transport judges dead leaves the
   * other's routing too (one instance id per process on both).
   */
  tunnels?: TunnelRegistry;
  serverName: string;
  logger: Logger;
}

export interface HttpTunnelServer {
  registry: HttpTunnelRegistry;
  /** For the agent listener's upgrades, under HTTP_TUNNEL_PROTOCOL. */
  accept: AgentUpgradeHandler;
  /** For the Kubernetes API proxy. */
  route: DirectRoute;
  close(): void;
}

export function startHttpTunnelServer(options: HttpTunnelServerOptions): HttpTunnelServer {
  const registry = new HttpTunnelRegistry({
    maxAgeMs: options.maxConnectionAgeMs,
    graceMs: options.maxConnectionAgeGraceMs,
    keepaliveTimeMs: options.keepaliveTimeMs,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs,
    onInstanceDead: options.tunnels && ((agentId, instanceId) => options.tunnels!.instanceDead(agentId, instanceId)),
    logger: options.logger,
  });
  const stopListening = options.tunnels?.onInstanceDead((agentId, instanceId) => registry.suspect(agentId, instanceId));
  return {
    registry,
    accept: acceptHttpTunnel({ registry, authenticateAgent: options.authenticateAgent, logger: options.logger }),
    route: httpTunnelRoute({
      registry,
      agentWaitTimeoutMs: options.agentWaitTimeoutMs,
      serverName: options.serverName,
      logger: options.logger,
    }),
    close: () => {
      stopListening?.();
      registry.close();
    },
  };
}

/** The agent listener's upgrade table with this transport in it. */
export function httpTunnelUpgrades(server: HttpTunnelServer): Map<string, AgentUpgradeHandler> {
  return new Map([[HTTP_TUNNEL_PROTOCOL, server.accept]]);
}
