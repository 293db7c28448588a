// kas's core: what every module shares (the agent registry, the tunnel registry, the agent
// listener, the listener list and readiness), and the start and stop of the modules.
import type { Logger } from '../internal/log';
import { KAS_VERSION } from '../internal/version';
import { readTlsFiles, type KasConfig } from '../kascfg/kascfg';
import type { Listener, ListenerList, KasModule, KasModuleContext, KasReadiness, KasTunnels } from '../module/modserver';
import { listenerList } from '../module/listener_list';
import { ShutdownStack } from '../module/shutdown_stack';
import type { AuthenticatedAgent } from '../modules/agent_registry/agent_tokens';
import { openAgentRegistry, type AgentRegistry } from '../modules/agent_registry/registry';
import { cachedRepositoryCheck, kasReadinessChecks } from '../modules/observability/kas_readiness';
import type { ReadinessCheck } from '../modules/observability/server';
import { NO_DIRECT_ROUTE, type DirectRoute } from '../modules/kubernetes_api/server/direct_route';
import { startAgentServer, type AgentUpgradeHandler } from '../modules/reverse_tunnel/server/agent_server';
import type { GrpcServiceRegistrar } from '../modules/reverse_tunnel/server/grpc_server';
import { TunnelRegistry, type TunnelFinder } from '../modules/reverse_tunnel/server/registry';

export interface Kas {
  /** host:port of the agent listener (agentk dials grpc://, or ws:// when websocket is on). */
  agentAddress: string;
  /** Base URL of the Kubernetes API proxy including its path prefix, e.g. https://127.0.0.1:8154/k8s-proxy/. */
  k8sProxyUrl: string;
  /** Base URL of the REST API with a trailing slash, e.g. http://127.0.0.1:8153/. */
  apiUrl: string;
  observabilityAddress: string;
  /** This replica's private API URL (only with redis: several replicas). */
  privateApiUrl?: string;
  /** Connections other replicas opened to this one's private API (only with redis). */
  privateApiConnectionsAccepted?: () => number;
  config: KasConfig;
  registry: AgentRegistry;
  /** This replica's own tunnels. */
  tunnels: TunnelRegistry;
  /** Who an agent token belongs to (no rate limit); for the reverse tunnel. */
  authenticateAgent(token: string): Promise<AuthenticatedAgent | undefined>;
  authorizeUser: AgentRegistry['authorizeUser'];
  stop(): Promise<void>;
}

export async function startKasCore(config: KasConfig, modules: readonly KasModule[], logger: Logger): Promise<Kas> {
  const shutdown = new ShutdownStack(logger);
  try {
    return await assemble(config, modules, logger, shutdown);
  } catch (err) {
    await shutdown.unwind();
    throw err;
  }
}

async function assemble(config: KasConfig, modules: readonly KasModule[], logger: Logger, shutdown: ShutdownStack): Promise<Kas> {
  const tunnels = tunnelsOf(new TunnelRegistry());
  shutdown.push(async () => tunnels.local.close());
  const registry = await openAgentRegistry(config, tunnels.local, logger, shutdown);
  const listeners = listenerList();
  // Listed first, bound last: /readiness names the agent listener before the modules' listeners.
  const agentListener: Listener = { name: 'agent_listener', address: '' };
  listeners.add(agentListener);
  let serving = false;
  const readiness = readinessOf(() => serving, listeners);
  const services: Array<(server: GrpcServiceRegistrar) => void> = [];
  const upgrades = new Map<string, AgentUpgradeHandler>();
  // Opened after the modules, closed after those that serve users (no new requests first).
  let stopAgentServer = async () => {};
  shutdown.push(() => stopAgentServer());
  const context = (name: string): KasModuleContext => ({
    config,
    logger: logger.child({ module: name }),
    registry,
    agentServer: { addService: (register) => services.push(register), addUpgrade: (protocol, handler) => upgrades.set(protocol, handler) },
    tunnels,
    listeners,
    readiness,
    shutdown,
  });
  for (const module of modules) {
    const started = await module.start(context(module.name));
    if (started) shutdown.push(() => started.stop());
  }
  readiness.add(cachedRepositoryCheck(config.registry.configRepository));
  const agentServer = await startAgentServer({
    address: config.agent.listen.address,
    tls: await readTlsFiles(config.agent.listen.tls),
    maxConnectionAgeMs: config.agent.listen.maxConnectionAgeMs,
    guard: {
      handshakeTimeoutMs: config.agent.listen.handshakeTimeoutMs,
      authenticationTimeoutMs: config.agent.listen.authenticationTimeoutMs,
      maxUnauthenticated: config.agent.listen.maxUnauthenticatedConnections,
    },
    services,
    upgrades,
    logger: logger.child({ module: 'agent_listener' }),
  });
  stopAgentServer = () => agentServer.stop();
  agentListener.address = agentServer.address;
  serving = true;
  const url = (name: string) => listeners.find(name)?.url ?? '';
  logger.info('kas started', {
    version: KAS_VERSION,
    agentAddress: agentServer.address,
    k8sProxy: url('kubernetes_api_listener'),
    api: url('api_listener'),
    observability: listeners.find('observability_listener')?.address,
  });
  const privateApi = listeners.find('private_api_listener');
  return {
    agentAddress: agentServer.address,
    k8sProxyUrl: url('kubernetes_api_listener'),
    apiUrl: url('api_listener'),
    observabilityAddress: listeners.find('observability_listener')?.address ?? '',
    privateApiUrl: privateApi?.url,
    privateApiConnectionsAccepted: privateApi?.connectionsAccepted,
    config,
    registry,
    tunnels: tunnels.local,
    authenticateAgent: (token) => registry.agentTokens.authenticate(token),
    authorizeUser: registry.authorizeUser,
    stop: async () => {
      // Readiness goes first so load balancers stop sending new work, then the listeners close.
      serving = false;
      if (config.agent.listen.listenGracePeriodMs > 0)
        await new Promise((resolve) => setTimeout(resolve, config.agent.listen.listenGracePeriodMs));
      await shutdown.unwind();
      logger.info('kas stopped');
    },
  };
}

function tunnelsOf(local: TunnelRegistry): KasTunnels {
  let current: TunnelFinder = local;
  let direct: DirectRoute = NO_DIRECT_ROUTE;
  return {
    local,
    finder: {
      findTunnel: (agentId, timeoutMs, signal) => current.findTunnel(agentId, timeoutMs, signal),
      hasIdleTunnel: (agentId) => current.hasIdleTunnel(agentId),
    },
    useFinder: (finder) => (current = finder),
    direct: {
      serve: (request, req, res) => direct.serve(request, req, res),
      serveUpgrade: (request, req, socket, head) => direct.serveUpgrade(request, req, socket, head),
    },
    useDirect: (route) => (direct = route),
  };
}

function readinessOf(serving: () => boolean, listeners: ListenerList): KasReadiness {
  const checks: Array<() => ReadinessCheck | Promise<ReadinessCheck>> = [];
  const report = kasReadinessChecks({ serving, listeners: () => listeners.all().filter((l) => l.probed !== false), checks });
  return { add: (check) => checks.push(check), report };
}
