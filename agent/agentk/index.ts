// agentk, assembled: dials kas, keeps the tunnel pool open, forwards tunneled requests to the
// Kubernetes API, and serves probes and metrics. It never listens for kas: it only dials out.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { KubeConfig } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import type { Logger } from '../internal/log';
import { watchAgentConfiguration } from '../modules/agent_configuration/agentk';
import type { AgentConfig } from '../shared/agent_config';
import { KubernetesApiUpstream, createKubernetesApiForwarder } from '../modules/kubernetes_api';
import { dialKas, TunnelPool, type KasConnection, type PoolSettings, type PoolStats } from '../modules/reverse_tunnel';
import { KUBERNETES_API_MAKE_REQUEST, KUBERNETES_API_SERVICE } from '../modules/reverse_tunnel/protocol';
import { startObservabilityServer, type ObservabilityServer } from '../modules/observability/server';

export const AGENTK_VERSION = '0.1.0';

export interface AgentkOptions {
  /** grpc://, grpcs://, ws:// or wss:// address of kas's agent listener. */
  kasAddress: string;
  token: string;
  /** CA bundle file for kas's certificate (grpcs/wss). */
  caFile?: string;
  tlsServerName?: string;
  /** A kubeconfig file; without it: in-cluster when KUBERNETES_SERVICE_HOST is set, else the default kubeconfig. */
  kubeconfig?: string;
  kubeContext?: string;
  /** host:port for /liveness, /readiness, /metrics; default ':8080'; null turns it off. */
  observabilityAddress?: string | null;
  /** Default: env POD_NAME / POD_NAMESPACE. */
  podName?: string;
  podNamespace?: string;
  poolSettings?: Partial<PoolSettings>;
  /** Called with every configuration kas pushes (after agentk applied what it uses). */
  onConfig?: (config: AgentConfig, commit: string) => void;
  logger: Logger;
}

export interface Agentk {
  /** Bound probe address, when the probe server runs. */
  observabilityAddress: string | undefined;
  kubernetesApiServer: string;
  /** The kas connection (it also carries other agent RPCs, e.g. the configuration stream). */
  kas: KasConnection;
  stats(): PoolStats;
  /** The latest configuration kas sent, and its commit. */
  currentConfig(): { config: AgentConfig; commit: string } | undefined;
  stop(): Promise<void>;
}

export async function runAgentk(options: AgentkOptions): Promise<Agentk> {
  const logger = options.logger;
  const kubeConfig = await loadKubeConfig(options);
  const upstream = new KubernetesApiUpstream(kubeConfig);
  const caPem = options.caFile ? await readFile(options.caFile, 'utf8') : undefined;
  const kas = await dialKas({ kasAddress: options.kasAddress, token: options.token, caPem, tlsServerName: options.tlsServerName, logger });
  const pool = new TunnelPool({
    openStream: () => kas.openTunnelStream(),
    descriptor: {
      services: [{ name: KUBERNETES_API_SERVICE, methods: [KUBERNETES_API_MAKE_REQUEST] }],
      version: AGENTK_VERSION,
      podName: options.podName ?? process.env.POD_NAME ?? '',
      podNamespace: options.podNamespace ?? process.env.POD_NAMESPACE ?? '',
      instanceId: randomUUID(),
    },
    handleRequest: createKubernetesApiForwarder({ upstream, logger }),
    settings: options.poolSettings,
    logger,
  });
  let probes: ObservabilityServer | undefined;
  try {
    const probeAddress = options.observabilityAddress === undefined ? ':8080' : options.observabilityAddress;
    // /readiness: ready once kas accepted a tunnel stream since the last connection failure.
    if (probeAddress !== null)
      probes = await startObservabilityServer({ address: probeAddress, isReady: () => pool.stats().connected, logger });
  } catch (err) {
    await kas.close();
    throw err;
  }
  pool.start();
  let current: { config: AgentConfig; commit: string } | undefined;
  const configWatch = watchAgentConfiguration({
    connection: kas,
    agentMeta: {
      version: AGENTK_VERSION,
      podName: options.podName ?? process.env.POD_NAME ?? '',
      podNamespace: options.podNamespace ?? process.env.POD_NAMESPACE ?? '',
    },
    onConfig: (config, commit) => {
      current = { config, commit };
      applyConfig(config, logger);
      options.onConfig?.(config, commit);
    },
    logger: logger.child({ module: 'agent_configuration' }),
  });
  logger.info('agentk started', { kasAddress: options.kasAddress, kubernetesApi: upstream.server });
  return {
    observabilityAddress: probes?.address,
    kubernetesApiServer: upstream.server,
    kas,
    stats: () => pool.stats(),
    currentConfig: () => current,
    stop: async () => {
      configWatch.stop();
      pool.stop();
      await kas.close();
      await probes?.stop();
      upstream.close();
    },
  };
}

/** What agentk itself takes from its config; access_as arrives with each request from kas. */
function applyConfig(config: AgentConfig, logger: Logger): void {
  const level = config.observability?.logging?.level;
  if (level) logger.setLevel(level);
  logger.info('agent configuration applied', { logLevel: level ?? 'unchanged' });
}

async function loadKubeConfig(options: AgentkOptions): Promise<KubeConfig> {
  // client-node is an ES module; agentk's bundle is CommonJS.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  if (options.kubeconfig) kubeConfig.loadFromFile(options.kubeconfig);
  else if (process.env.KUBERNETES_SERVICE_HOST) kubeConfig.loadFromCluster();
  else kubeConfig.loadFromDefault();
  if (options.kubeContext) {
    if (!kubeConfig.getContextObject(options.kubeContext)) throw new Error(`kubeconfig has no context "${options.kubeContext}"`);
    kubeConfig.setCurrentContext(options.kubeContext);
  }
  return kubeConfig;
}
