// kas side of the Kubernetes API proxy: its own listener (agent.kubernetes_api.listen), each
// request authorized against the agent's user_access/ci_access and sent through a tunnel.
import * as http from 'node:http';
import * as https from 'node:https';
import { listen, reachableAddress } from '../../internal/listen';
import { readTlsFiles } from '../../kascfg/kascfg';
import type { KasModule } from '../../module/modserver';
import { createKubernetesApiProxy } from './server/proxy';
import { tunnelFiguresOf } from './server/tunnel_figures';

export const kubernetesApiModule: KasModule = {
  name: 'kubernetes_api',
  async start({ config, registry, tunnels, listeners, logger }) {
    const settings = config.agent.kubernetesApi;
    const figures = tunnelFiguresOf(tunnels.local);
    const proxy = createKubernetesApiProxy({
      urlPathPrefix: settings.urlPathPrefix,
      tunnels: tunnels.finder,
      authorizeUser: (request) => registry.authorizeUser(request),
      agentWaitTimeoutMs: config.kas.agentWaitTimeoutMs,
      serverName: 'kas',
      logger,
      onAnswered: (agentId, status, seconds) => figures.record(agentId, status, seconds),
      directRoute: tunnels.direct,
    });
    const tls = await readTlsFiles(settings.listen.tls);
    const server = tls ? https.createServer({ cert: tls.certPem, key: tls.keyPem }, proxy) : http.createServer(proxy);
    // Watches and logs -f stay open as long as both ends want: no request or header timeouts here.
    server.requestTimeout = 0;
    server.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => proxy.handleUpgrade(req, socket, head));
    const address = await listen(server, settings.listen.address, settings.listen.timeouts);
    const url = `${tls ? 'https' : 'http'}://${reachableAddress(address)}${settings.urlPathPrefix}`;
    listeners.add({ name: 'kubernetes_api_listener', address, url });
    logger.info('Kubernetes API proxy listener started', { address, tls: Boolean(tls) });
    return {
      stop: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  },
};
