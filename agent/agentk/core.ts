// agentk's core: what every module shares (the kas connection, the cluster's credentials, the
// tunnel pool and the agent configuration), and the start and stop of the modules.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { KubeConfig } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import type { Logger } from '../internal/log';
import type {
  AgentConfigurations,
  AgentkModule,
  AgentkModuleContext,
  AgentMeta,
  LeaderElectionSettings,
  Leadership,
  TunnelTransport,
} from '../module/modagent';
import { listenerList } from '../module/listener_list';
import { ShutdownStack } from '../module/shutdown_stack';
import { collectWhenIdle, tuneOwnProcess } from './memory';
import { dialKas, type AgentProtocol, type KasConnection } from '../modules/reverse_tunnel/agent/dial';
import { TunnelPool, type PoolSettings, type PoolStats } from '../modules/reverse_tunnel/agent/pool';
import { tunnelServiceDispatch, type TunnelService } from '../modules/reverse_tunnel/agent/services';
import type { AgentConfig } from '../shared/agent_config/types';
import { isInCluster, loadInCluster, SERVICE_ACCOUNT_DIR, serviceAccountNamespace } from './in_cluster';

export interface AgentkOptions {
  /** grpc://, grpcs://, ws:// or wss:// address of kas's agent listener. */
  kasAddress: string;
  token: string;
  /** CA bundle file for kas's certificate (grpcs/wss). */
  caFile?: string;
  tlsServerName?: string;
  /** A kubeconfig file; without it: in-cluster when KUBERNETES_SERVICE_HOST is set, else the default kubeconfig. */
  kubeconfig?: string;
  /** In-cluster: the mounted service account (token, ca.crt, namespace); default the kubelet's path. */
  serviceAccountDir?: string;
  /** Default: the reference's timings, on in-cluster (the Lease lives in the pod's namespace), off elsewhere. */
  leaderElection?: Partial<LeaderElectionSettings>;
  kubeContext?: string;
  /** host:port for /liveness, /readiness, /metrics; default ':8080'; null turns it off. */
  observabilityAddress?: string | null;
  /** Default: env POD_NAME / POD_NAMESPACE (the downward API), in-cluster the service account's namespace. */
  podName?: string;
  podNamespace?: string;
  poolSettings?: Partial<PoolSettings>;
  /**
   * A full heap collection after start-up and whenever the pool goes idle after work, and V8
   * settings that keep memory down (memory.ts): for the agentk program, which owns its process;
   * not for an agentk inside another program.
   */
  collectWhenIdle?: boolean;
  /**
   * Default 'v2': the reverse HTTP/1.1 connections kas prefers (module http_tunnel) beside the gRPC
   * tunnel, which a kas without the module keeps using; 'grpc': the gRPC tunnel alone.
   */
  tunnelTransport?: TunnelTransport;
  /** The agent RPCs' protocol: ours (default) or the reference's, as its agentk speaks them (tunnel and configuration). */
  agentProtocol?: AgentProtocol;
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
  /** Whether this replica holds the agent's leader Lease (always true with leader election off). */
  isLeader(): boolean;
  /** The latest configuration kas sent, and its commit. */
  currentConfig(): { config: AgentConfig; commit: string } | undefined;
  stop(): Promise<void>;
}

export async function startAgentkCore(options: AgentkOptions, modules: readonly AgentkModule[], version: string): Promise<Agentk> {
  const logger = options.logger;
  if (options.collectWhenIdle) tuneOwnProcess();
  const inCluster = !options.kubeconfig && isInCluster(process.env);
  const serviceAccountDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const kubeConfig = await loadKubeConfig(options, inCluster ? serviceAccountDir : undefined);
  const caPem = options.caFile ? await readFile(options.caFile, 'utf8') : undefined;
  const kas = await dialKas({
    kasAddress: options.kasAddress,
    token: options.token,
    caPem,
    tlsServerName: options.tlsServerName,
    protocol: options.agentProtocol,
    logger,
  });
  const shutdown = new ShutdownStack(logger);
  shutdown.push(() => kas.close());
  const agentMeta: AgentMeta = {
    version,
    instanceId: randomUUID(),
    podName: options.podName ?? process.env.POD_NAME ?? '',
    podNamespace:
      options.podNamespace ?? process.env.POD_NAMESPACE ?? (inCluster ? serviceAccountNamespace(serviceAccountDir) : undefined) ?? '',
  };
  const leadership = leadershipOf({ ...DEFAULT_LEADER_ELECTION, enabled: inCluster, ...options.leaderElection });
  const services: TunnelService[] = [];
  const listeners = listenerList();
  const pool: { current?: TunnelPool } = {};
  const configuration = configurationsOf();
  configuration.onChange((config, commit) => {
    applyConfig(config, logger);
    options.onConfig?.(config, commit);
  });
  const context = (name: string): AgentkModuleContext => ({
    logger: logger.child({ module: name }),
    agentMeta,
    kas,
    kasEndpoint: {
      address: options.kasAddress,
      token: options.token,
      caPem,
      tlsServerName: options.tlsServerName,
      // The reference protocol has only the gRPC tunnel.
      transport: options.agentProtocol === 'reference' ? 'grpc' : (options.tunnelTransport ?? 'v2'),
    },
    poolSettings: options.poolSettings ?? {},
    kubeConfig,
    tunnelServices: { add: (service) => services.push(service) },
    tunnels: { stats: () => pool.current?.stats() ?? { opening: 0, idle: 0, busy: 0, connected: false } },
    configuration,
    leadership,
    observabilityAddress: options.observabilityAddress === undefined ? ':8080' : options.observabilityAddress,
    listeners,
    shutdown,
  });
  try {
    for (const module of modules) {
      const started = await module.start(context(module.name));
      if (started) shutdown.push(() => started.stop());
    }
  } catch (err) {
    await shutdown.unwind();
    throw err;
  }
  const dispatch = tunnelServiceDispatch(services);
  const tunnelPool = new TunnelPool({
    openStream: () => kas.openTunnelStream(),
    descriptor: { services: dispatch.descriptorServices, ...agentMeta },
    handleRequest: dispatch.handleRequest,
    settings: options.poolSettings,
    logger,
  });
  pool.current = tunnelPool;
  // Before the kas connection closes: the pool stops asking for streams first.
  shutdown.push(async () => tunnelPool.stop());
  tunnelPool.start();
  if (options.collectWhenIdle) {
    const stopCollecting = collectWhenIdle();
    shutdown.push(async () => stopCollecting());
  }
  const server = kubeConfig.getCurrentCluster()?.server;
  const kubernetesApiServer = server ? new URL(server).href : '';
  logger.info('agentk started', { kasAddress: options.kasAddress, kubernetesApi: kubernetesApiServer, inCluster });
  return {
    observabilityAddress: listeners.find('observability_listener')?.address,
    kubernetesApiServer,
    kas,
    stats: () => tunnelPool.stats(),
    currentConfig: () => configuration.current(),
    isLeader: () => leadership.isLeader(),
    stop: () => shutdown.unwind(),
  };
}

/** The reference's (client-go's) timings; the Lease name is per agent in the install manifest. */
const DEFAULT_LEADER_ELECTION: LeaderElectionSettings = {
  leaseName: 'agentk-leader',
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  enabled: true,
};

function leadershipOf(settings: LeaderElectionSettings): Leadership {
  const listeners = new Set<(isLeader: boolean) => void>();
  let leader = false;
  return {
    settings,
    isLeader: () => leader,
    publish: (isLeader) => {
      if (isLeader === leader) return;
      leader = isLeader;
      for (const listener of listeners) listener(isLeader);
    },
    onLeaderChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function configurationsOf(): AgentConfigurations {
  const listeners = new Set<(config: AgentConfig, commit: string) => void>();
  let current: { config: AgentConfig; commit: string } | undefined;
  return {
    publish: (config, commit) => {
      current = { config, commit };
      for (const listener of listeners) listener(config, commit);
    },
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    current: () => current,
  };
}

/** What agentk itself takes from its config; access_as arrives with each request from kas. */
function applyConfig(config: AgentConfig, logger: Logger): void {
  const level = config.observability?.logging?.level;
  if (level) logger.setLevel(level);
  logger.info('agent configuration applied', { logLevel: level ?? 'unchanged' });
}

async function loadKubeConfig(options: AgentkOptions, serviceAccountDir: string | undefined): Promise<KubeConfig> {
  // client-node is an ES module; agentk's bundle is CommonJS. Its KubeConfig file, not the
  // package index: a dynamic import of the index keeps every export (all generated API models
  // and clients, ~14 MiB of code) in the bundle and loads them at start, ~60 MiB of agentk's RSS.
  const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
  const kubeConfig = new KubeConfig();
  if (options.kubeconfig) kubeConfig.loadFromFile(options.kubeconfig);
  else if (serviceAccountDir) loadInCluster(kubeConfig, { serviceAccountDir, env: process.env });
  else kubeConfig.loadFromDefault();
  if (options.kubeContext) {
    if (!kubeConfig.getContextObject(options.kubeContext)) throw new Error(`kubeconfig has no context "${options.kubeContext}"`);
    kubeConfig.setCurrentContext(options.kubeContext);
  }
  return kubeConfig;
}
