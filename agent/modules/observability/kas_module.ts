// kas's probes and metrics (observability.listen): /liveness, /readiness with every check the
// core and the modules registered, /metrics.
import type { KasModule } from '../../module/modserver';
import { startObservabilityServer } from './server';

export const observabilityModule: KasModule = {
  name: 'observability',
  async start({ config, readiness, listeners, logger }) {
    const server = await startObservabilityServer({
      address: config.observability.listen.address,
      timeouts: config.observability.listen.timeouts,
      checks: () => readiness.report(),
      logger,
    });
    listeners.add({ name: 'observability_listener', address: server.address, probed: false });
    return server;
  },
};
