// agentk side of the reverse HTTP/1.1 transport (v2): with tunnelTransport 'v2', dials its own
// pool of connections to kas and serves the Kubernetes API requests kas sends on them. The gRPC
// tunnel keeps running beside it: kas uses it when it has no v2 connection of this agent (another
// replica routing a request, a kas without the module), and the configuration stream rides on it.
import type { AgentkModule } from '../../module/modagent';
import { KubernetesApiUpstream } from '../kubernetes_api/agent/upstream';
import { DEFAULT_POOL_SETTINGS } from '../reverse_tunnel/agent/pool';
import { httpTunnelDialer } from './agent/dial';
import { HttpTunnelPool } from './agent/pool';
import { createHttpTunnelServer } from './agent/serve';

export const httpTunnelAgentModule: AgentkModule = {
  name: 'http_tunnel',
  async start({ kasEndpoint, agentMeta, kubeConfig, poolSettings, logger }) {
    if (kasEndpoint.transport !== 'v2') return;
    const rules = { ...DEFAULT_POOL_SETTINGS, ...poolSettings };
    const dialer = httpTunnelDialer(kasEndpoint, {
      ...agentMeta,
      minIdle: rules.minIdle,
      idleTimeoutMs: rules.idleTimeoutMs,
    });
    if (!dialer.usable) {
      logger.info('an HTTP proxy is configured for kas: the reverse HTTP/1.1 transport stays off, the gRPC tunnel carries requests');
      return;
    }
    const upstream = new KubernetesApiUpstream(kubeConfig);
    const server = createHttpTunnelServer({ upstream, logger });
    const pool = new HttpTunnelPool(dialer, server, poolSettings, logger);
    pool.start();
    return {
      stop: async () => {
        pool.stop();
        server.close();
        upstream.close();
      },
    };
  },
};
