// kas: the modules it runs, in start order, and the core that starts them (kas/core.ts). Tests
// and the local pair start it in-process with startKas; agent/cmd/kas.ts is the command line.
import { createLogger, type Logger } from '../internal/log';
import { loadKasConfig, type KasConfig } from '../kascfg/kascfg';
import type { KasModule } from '../module/modserver';
import { agentConfigurationModule } from '../modules/agent_configuration/kas_module';
import { httpTunnelModule } from '../modules/http_tunnel/kas_module';
import { kubernetesApiModule } from '../modules/kubernetes_api/kas_module';
import { observabilityModule } from '../modules/observability/kas_module';
import { replicasModule } from '../modules/replicas';
import { restApiModule } from '../modules/rest_api/kas_module';
import { reverseTunnelModule } from '../modules/reverse_tunnel/kas_module';
import { startKasCore, type Kas } from './core';

export type { Kas };

/** Start order; the agent listener opens after the last, with the services they registered. */
export const KAS_MODULES: readonly KasModule[] = [
  agentConfigurationModule, // GetConfiguration on the agent listener
  reverseTunnelModule, // Connect on the agent listener: agentk's tunnel streams
  httpTunnelModule, // kas-tunnel-v2 upgrades on the agent listener: reverse HTTP/1.1 connections, the proxy's direct route
  kubernetesApiModule, // the Kubernetes API proxy listener
  restApiModule, // the REST API the extension reads
  replicasModule, // with redis: routing across kas replicas, the shared rate limit
  observabilityModule, // probes and metrics; last, so /readiness covers every listener
];

export async function startKas(configOrPath: KasConfig | string, logger: Logger = createLogger({ component: 'kas' })): Promise<Kas> {
  const config = typeof configOrPath === 'string' ? await loadKasConfig(configOrPath) : configOrPath;
  return startKasCore(config, KAS_MODULES, logger);
}
