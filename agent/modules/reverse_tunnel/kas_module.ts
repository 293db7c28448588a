// kas side of the reverse tunnel: Connect on the agent listener parks each agentk stream in this
// replica's tunnel registry, behind the same per-token admission as the configuration stream.
import type { KasModule } from '../../module/modserver';
import { reverseTunnelService } from './server/service';

export const reverseTunnelModule: KasModule = {
  name: 'reverse_tunnel',
  async start({ registry, tunnels, agentServer, logger }) {
    agentServer.addService(
      reverseTunnelService({ registry: tunnels.local, authenticateAgent: (token) => registry.admission.authenticate(token), logger }),
    );
  },
};
