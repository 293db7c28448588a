// kas side of the reverse HTTP/1.1 transport (v2): takes kas-tunnel-v2 upgrades on the agent
// listener (admitted like tunnel streams) and offers the Kubernetes API proxy the agents'
// connections as its direct route, tried before the gRPC tunnel.
import type { KasModule } from '../../module/modserver';
import { startHttpTunnelServer } from './index';
import { HTTP_TUNNEL_PROTOCOL } from './protocol';

export const httpTunnelModule: KasModule = {
  name: 'http_tunnel',
  async start({ config, registry, agentServer, tunnels, logger }) {
    const server = startHttpTunnelServer({
      authenticateAgent: (token) => registry.admission.authenticate(token),
      maxConnectionAgeMs: config.agent.listen.maxConnectionAgeMs,
      agentWaitTimeoutMs: config.kas.agentWaitTimeoutMs,
      tunnels: tunnels.local,
      serverName: 'kas',
      logger,
    });
    agentServer.addUpgrade(HTTP_TUNNEL_PROTOCOL, server.accept);
    tunnels.useDirect(server.route);
    return { stop: async () => server.close() };
  },
};
