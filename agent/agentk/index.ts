// agentk: the modules it runs, in start order, and the core that starts them (agentk/core.ts).
// It dials kas, keeps the tunnel pool open, serves tunneled requests and probes; it never
// listens for kas. agent/cmd/agentk.ts is the command line.
import type { AgentkModule } from '../module/modagent';
import { agentConfigurationAgentModule } from '../modules/agent_configuration/agentk_module';
import { httpTunnelAgentModule } from '../modules/http_tunnel/agentk_module';
import { kubernetesApiAgentModule } from '../modules/kubernetes_api/agentk_module';
import { leaderElectionAgentModule } from '../modules/leader_election/agentk_module';
import { observabilityAgentModule } from '../modules/observability/agentk_module';
import { startAgentkCore, type Agentk, type AgentkOptions } from './core';

export type { Agentk, AgentkOptions };

export const AGENTK_VERSION = '0.1.0';

/** Start order; the tunnel pool opens after the last, offering the services they registered. */
export const AGENTK_MODULES: readonly AgentkModule[] = [
  kubernetesApiAgentModule, // MakeRequest through the tunnel, forwarded to the cluster's API server
  httpTunnelAgentModule, // with tunnelTransport v2: reverse HTTP/1.1 connections kas sends Kubernetes API requests on
  agentConfigurationAgentModule, // the configuration stream from kas
  observabilityAgentModule, // probes and metrics
  leaderElectionAgentModule, // one leader among the agent's replicas (a Lease); tunnels stay open on all
];

export function runAgentk(options: AgentkOptions): Promise<Agentk> {
  return startAgentkCore(options, AGENTK_MODULES, AGENTK_VERSION);
}
