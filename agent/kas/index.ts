// kas assembled: the agent listener (gRPC and gRPC-in-WebSocket) with the configuration stream
// and the reverse tunnel, the Kubernetes API proxy on its own listener, the REST API for the
// extension, probes and metrics. Tests and the local pair start it in-process with startKas;
// agent/cmd/kas.ts is the command line.
import { Status } from '../internal/grpc';
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { createLogger, type Logger } from '../internal/log';
import { AgentConfigWatcher } from '../modules/agent_configuration/config_watcher';
import { configurationService, type AgentAdmission } from '../modules/agent_configuration/server';
import { AgentIdStore } from '../modules/agent_registry/agent_ids';
import { AgentTokenStore, type AuthenticatedAgent } from '../modules/agent_registry/agent_tokens';
import { createAuthorizer, type AuthorizeRequest, type AuthorizationResult } from '../modules/agent_registry/authorize';
import { GitConfigRepository } from '../modules/agent_registry/git_repository';
import { UserTokenStore } from '../modules/agent_registry/user_tokens';
import { joinReplicaCluster, RoutingTunnelRegistry, type ReplicaCluster } from '../modules/kas_private_api';
import { createKubernetesApiProxy } from '../modules/kubernetes_api/server/proxy';
import { startAgentServer } from '../modules/reverse_tunnel/server/agent_server';
import { agentConnectionsRefused } from '../modules/reverse_tunnel/server/metrics';
import { TunnelRegistry } from '../modules/reverse_tunnel/server/registry';
import { reverseTunnelService } from '../modules/reverse_tunnel/server/service';
import { listen, reachableAddress, startObservabilityServer } from '../modules/observability/server';
import { startApiServer } from './api';
import { loadKasConfig, type KasConfig, type TlsFiles } from './config';
import { AgentConnectionTracker, mergeByPod, type AgentConnection } from './connections';
import { addConnectionCountSource, configDeliveriesCounter } from './metrics';
import { ConnectionRateLimiter, type ConnectionAdmissionLimiter } from './rate_limit';
import { kasReadinessChecks } from './readiness';
import { KAS_VERSION } from './version';

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
  registry: { agentIds: AgentIdStore; agentTokens: AgentTokenStore; userTokens: UserTokenStore; watcher: AgentConfigWatcher };
  tunnels: TunnelRegistry;
  /** Who an agent token belongs to (no rate limit); for the reverse tunnel. */
  authenticateAgent(token: string): Promise<AuthenticatedAgent | undefined>;
  /** Checks a proxy user (pat:) or CI job (ci:) credential against the agent's config. */
  authorizeUser(request: AuthorizeRequest): Promise<AuthorizationResult>;
  stop(): Promise<void>;
}

export async function startKas(configOrPath: KasConfig | string, logger: Logger = createLogger({ component: 'kas' })): Promise<Kas> {
  const config = typeof configOrPath === 'string' ? await loadKasConfig(configOrPath) : configOrPath;
  const stack = new ShutdownStack(logger);
  try {
    return await assemble(config, logger, stack);
  } catch (err) {
    await stack.unwind();
    throw err;
  }
}

type Registry = Kas['registry'];

async function assemble(config: KasConfig, logger: Logger, stack: ShutdownStack): Promise<Kas> {
  const registry = await openRegistry(config, logger, stack);
  const { agentTokens, userTokens, watcher } = registry;
  const connections = new AgentConnectionTracker();
  const tunnels = config.redis ? new RoutingTunnelRegistry() : new TunnelRegistry();
  stack.push(async () => tunnels.close());
  const localConnectionsOf = (agentId: number) => mergeConnections(connections.connectionsOf(agentId), tunnels, agentId);
  const cluster = await joinClusterIfConfigured(config, registry, tunnels, connections, localConnectionsOf, logger, stack);
  const connectionsOf = (agentId: number) =>
    mergeByPod([...localConnectionsOf(agentId), ...(cluster?.remoteConnections(String(agentId)) ?? [])]);
  const removeCountSource = addConnectionCountSource(() => countConnections(connections, tunnels, connectionsOf));
  stack.push(async () => removeCountSource());
  const authorizeUser = createAuthorizer({
    userTokens,
    configOf: (id) => watcher.agentById(id)?.config,
    configProjectId: config.registry.projectId,
  });

  const limiter = cluster?.limiter ?? new ConnectionRateLimiter(config.agent.listen.connectionsPerTokenPerMinute);
  const trackConnection = (agentId: number, meta: Omit<AgentConnection, 'connectedSince'>) => {
    const remove = connections.add(agentId, meta);
    cluster?.markChanged(String(agentId));
    return () => {
      remove();
      cluster?.markChanged(String(agentId));
    };
  };
  const agentServer = await startAgentListener(config, registry, tunnels, trackConnection, limiter, logger);
  stack.push(() => agentServer.stop());

  const k8sProxy = await startKubernetesApiProxy(config, tunnels, authorizeUser, logger.child({ module: 'kubernetes_api' }));
  stack.push(() => k8sProxy.stop());

  const api = await startApiServer({
    address: config.api.listen.address,
    tls: await readTls(config.api.listen.tls),
    version: KAS_VERSION,
    configProjectId: config.registry.projectId,
    watcher,
    connectionsOf,
    connectedAgentsOfProject: cluster && ((project: string) => cluster.connectedAgentsOfProject(project)),
    userTokens,
    logger: logger.child({ module: 'api' }),
  });
  stack.push(() => api.stop());

  let ready = false;
  const checks = kasReadinessChecks({
    serving: () => ready,
    listeners: [
      { name: 'agent_listener', address: agentServer.address },
      { name: 'kubernetes_api_listener', address: new URL(k8sProxy.url).host },
      { name: 'api_listener', address: api.address },
      ...(cluster ? [{ name: 'private_api_listener', address: cluster.privateApiAddress }] : []),
    ],
    redis: cluster,
    configRepository: config.registry.configRepository,
  });
  const observability = await startObservabilityServer({
    address: config.observability.listen.address,
    checks,
    logger: logger.child({ module: 'observability' }),
  });
  stack.push(() => observability.stop());
  ready = true;
  logger.info('kas started', {
    version: KAS_VERSION,
    agentAddress: agentServer.address,
    k8sProxy: k8sProxy.url,
    api: api.url,
    observability: observability.address,
  });

  return {
    agentAddress: agentServer.address,
    k8sProxyUrl: k8sProxy.url,
    apiUrl: api.url,
    observabilityAddress: observability.address,
    privateApiUrl: cluster?.ownUrl,
    privateApiConnectionsAccepted: cluster && (() => cluster.privateApiConnectionsAccepted()),
    config,
    registry,
    tunnels,
    authenticateAgent: (token) => agentTokens.authenticate(token),
    authorizeUser,
    stop: async () => {
      // Readiness goes first so load balancers stop sending new work, then the listeners close.
      ready = false;
      if (config.agent.listen.listenGracePeriodMs > 0)
        await new Promise((resolve) => setTimeout(resolve, config.agent.listen.listenGracePeriodMs));
      await stack.unwind();
      logger.info('kas stopped');
    },
  };
}

/** The embedded agent registry: the config repository (followed from now on) and the token stores. */
async function openRegistry(config: KasConfig, logger: Logger, stack: ShutdownStack): Promise<Registry> {
  const agentIds = new AgentIdStore(config.registry.dataDir);
  const watcher = new AgentConfigWatcher({
    repository: new GitConfigRepository(config.registry.configRepository),
    agentIds,
    pollPeriodMs: config.agent.configuration.pollPeriodMs,
    logger: logger.child({ module: 'agent_configuration' }),
  });
  await watcher.start();
  stack.push(async () => watcher.stop());
  return {
    agentIds,
    agentTokens: new AgentTokenStore(config.registry.dataDir, agentIds),
    userTokens: new UserTokenStore(config.registry.dataDir),
    watcher,
  };
}

/** The listener agentk dials: the reverse tunnel and the configuration stream, one rate limit for both. */
async function startAgentListener(
  config: KasConfig,
  registry: Registry,
  tunnels: TunnelRegistry,
  trackConnection: (agentId: number, meta: Omit<AgentConnection, 'connectedSince'>) => () => void,
  limiter: ConnectionAdmissionLimiter,
  logger: Logger,
) {
  return startAgentServer({
    address: config.agent.listen.address,
    tls: await readTls(config.agent.listen.tls),
    maxConnectionAgeMs: config.agent.listen.maxConnectionAgeMs,
    services: [
      reverseTunnelService({
        registry: tunnels,
        authenticateAgent: rateLimitedAuthentication(registry.agentTokens, limiter),
        logger: logger.child({ module: 'reverse_tunnel' }),
      }),
      configurationService({
        watcher: registry.watcher,
        admitAgent: createAgentAdmission(registry.agentTokens, limiter),
        projectId: config.registry.projectId,
        trackConnection,
        onDelivered: () => configDeliveriesCounter.inc(),
        logger: logger.child({ module: 'agent_configuration' }),
      }),
    ],
    logger: logger.child({ module: 'agent_listener' }),
  });
}

/** Rate limit first (cheap, and it also bounds token lookups), then the token itself. */
function createAgentAdmission(
  tokens: AgentTokenStore,
  limiter: ConnectionAdmissionLimiter,
): (token: string | undefined) => Promise<AgentAdmission> {
  return async (token) => {
    if (!token) {
      agentConnectionsRefused.inc();
      return { ok: false, code: Status.UNAUTHENTICATED, message: 'missing agent token (authorization: Bearer <token>)' };
    }
    if (!(await limiter.allow(token))) {
      return { ok: false, code: Status.RESOURCE_EXHAUSTED, message: 'too many new connections for this agent token; retry later' };
    }
    const agent = await tokens.authenticate(token);
    if (!agent) {
      agentConnectionsRefused.inc();
      return { ok: false, code: Status.UNAUTHENTICATED, message: 'invalid or revoked agent token' };
    }
    return { ok: true, ...agent };
  };
}

/** Thrown to the reverse tunnel when a token opened too many streams this minute. */
export class AgentRateLimitedError extends Error {
  override name = 'AgentRateLimitedError';
}

/** The reverse tunnel's authenticateAgent: the same per-token limit as the configuration stream. */
function rateLimitedAuthentication(
  tokens: AgentTokenStore,
  limiter: ConnectionAdmissionLimiter,
): (token: string) => Promise<AuthenticatedAgent | undefined> {
  return async (token) => {
    if (!(await limiter.allow(token))) throw new AgentRateLimitedError('too many new connections for this agent token; retry later');
    return tokens.authenticate(token);
  };
}

/** With a redis section: this replica joins the others (tracker, private API, routing). */
async function joinClusterIfConfigured(
  config: KasConfig,
  registry: Registry,
  tunnels: TunnelRegistry,
  connections: AgentConnectionTracker,
  localConnectionsOf: (agentId: number) => AgentConnection[],
  logger: Logger,
  stack: ShutdownStack,
): Promise<ReplicaCluster | undefined> {
  if (!config.redis || !(tunnels instanceof RoutingTunnelRegistry)) return undefined;
  const cluster = await joinReplicaCluster({
    redis: config.redis,
    privateApi: config.privateApi,
    connectionsPerTokenPerMinute: config.agent.listen.connectionsPerTokenPerMinute,
    tunnels,
    localConnections: (agentId) => localConnectionsOf(Number(agentId)),
    localConfigStreamAgents: () => connections.agentIds().map(String),
    configProject: config.registry.projectId,
    agentName: (agentId) => registry.watcher.agentById(Number(agentId))?.name ?? '',
    logger,
  });
  stack.push(() => cluster.stop());
  return cluster;
}

async function startKubernetesApiProxy(
  config: KasConfig,
  tunnels: TunnelRegistry,
  authorizeUser: (request: AuthorizeRequest) => Promise<AuthorizationResult>,
  logger: Logger,
): Promise<{ url: string; stop(): Promise<void> }> {
  const proxy = createKubernetesApiProxy({
    urlPathPrefix: config.agent.kubernetesApi.urlPathPrefix,
    registry: tunnels,
    authorizeUser,
    agentWaitTimeoutMs: config.kas.agentWaitTimeoutMs,
    serverName: 'kas',
    logger,
  });
  const tls = await readTls(config.agent.kubernetesApi.listen.tls);
  const server = tls ? https.createServer({ cert: tls.certPem, key: tls.keyPem }, proxy) : http.createServer(proxy);
  // Watches and logs -f stay open as long as both ends want: no request or header timeouts here.
  server.requestTimeout = 0;
  server.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => proxy.handleUpgrade(req, socket, head));
  const address = await listen(server, config.agent.kubernetesApi.listen.address);
  logger.info('Kubernetes API proxy listener started', { address, tls: Boolean(tls) });
  return {
    url: `${tls ? 'https' : 'http'}://${reachableAddress(address)}${config.agent.kubernetesApi.urlPathPrefix}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function countConnections(
  connections: AgentConnectionTracker,
  tunnels: TunnelRegistry,
  connectionsOf: (agentId: number) => AgentConnection[],
): { agents: number; replicas: number } {
  const agentIds = new Set([...connections.agentIds(), ...tunnels.connectedAgents().map((a) => Number(a.agentId))]);
  let replicas = 0;
  for (const id of agentIds) replicas += connectionsOf(id).length;
  return { agents: agentIds.size, replicas };
}

/** One entry per agentk replica: its tunnel streams and its configuration stream, by pod. */
function mergeConnections(configStreams: AgentConnection[], tunnels: TunnelRegistry, agentId: number): AgentConnection[] {
  const byPod = new Map<string, AgentConnection>();
  const replicas = tunnels.connectedAgents().find((a) => a.agentId === String(agentId))?.replicas ?? [];
  for (const r of replicas) {
    byPod.set(`${r.podNamespace}/${r.podName}`, {
      podName: r.podName,
      podNamespace: r.podNamespace,
      version: r.version,
      connectedSince: r.connectedSince.toISOString(),
    });
  }
  for (const c of configStreams) {
    const key = `${c.podNamespace}/${c.podName}`;
    const known = byPod.get(key);
    if (!known || c.connectedSince < known.connectedSince) byPod.set(key, { ...c, version: known?.version || c.version });
  }
  return [...byPod.values()];
}

async function readTls(files: TlsFiles | undefined): Promise<{ certPem: string; keyPem: string } | undefined> {
  if (!files) return undefined;
  const [certPem, keyPem] = await Promise.all([readFile(files.certificateFile, 'utf8'), readFile(files.keyFile, 'utf8')]);
  return { certPem, keyPem };
}

/** Stops what was started, last first; keeps going when one part fails to stop. */
class ShutdownStack {
  private readonly steps: Array<() => Promise<void>> = [];

  constructor(private readonly logger: Logger) {}

  push(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  async unwind(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        this.logger.warn('stopping a kas component failed', { err });
      }
    }
  }
}
