// A kas replica joining the others (kascfg has a redis section): Redis connections, the tunnel
// tracker fed by this replica's tunnels and configuration streams, the private API listener,
// and routing of proxied requests to whichever replica holds an idle tunnel.
import { readFile } from 'node:fs/promises';
import type { Logger } from '../../internal/log';
import type { KasConfig, RedisConfig } from '../../kas/config';
import { mergeByPod, type AgentConnection } from '../../kas/connections';
import { reachableAddress } from '../observability/server';
import { connectRedis, SharedConnectionRateLimiter, TunnelTracker, type RegisteredAgent } from '../tunnel_tracker';
import { PrivateApiClient } from './client';
import type { RoutingTunnelRegistry } from './routing_registry';
import { startPrivateApiServer } from './server';

export interface ReplicaClusterOptions {
  redis: RedisConfig;
  privateApi: KasConfig['privateApi'];
  connectionsPerTokenPerMinute: number;
  tunnels: RoutingTunnelRegistry;
  /** agentk replicas connected to this kas replica (tunnels and configuration streams merged). */
  localConnections(agentId: string): AgentConnection[];
  /** Agents with a configuration stream open here (tunnels are known from the registry). */
  localConfigStreamAgents(): string[];
  /** registry.project_id: the config project this replica's agents come from. */
  configProject: string;
  /** The agent's name, '' when unknown here. */
  agentName(agentId: string): string;
  logger: Logger;
}

export interface ReplicaCluster {
  /** This replica's private API URL as the others reach it. */
  ownUrl: string;
  privateApiAddress: string;
  /** Connections other replicas opened to this one's private API (pooled: few, whatever the request count). */
  privateApiConnectionsAccepted(): number;
  /** Redis reachable: routing to other replicas, the agents list and the rate limit are complete. */
  healthy(): boolean;
  /** What this replica cannot do while unhealthy; for logs and operators. */
  unhealthyReason(): string | undefined;
  remoteConnections(agentId: string): AgentConnection[];
  /** A config project's agents connected to any replica, from Redis (throws while Redis cannot answer). */
  connectedAgentsOfProject(configProject: string): Promise<RegisteredAgent[]>;
  limiter: SharedConnectionRateLimiter;
  /** Something about the agent changed on this replica (e.g. a configuration stream opened or closed). */
  markChanged(agentId: string): void;
  stop(): Promise<void>;
}

export class PrivateApiConfigError extends Error {
  override name = 'PrivateApiConfigError';
}

export async function joinReplicaCluster(options: ReplicaClusterOptions): Promise<ReplicaCluster> {
  const logger = options.logger;
  const secret = await readSecret(options.privateApi.authenticationSecretFile);
  const { tunnels } = options;
  const { tls, caPem } = await readPrivateApiTls(options.privateApi.listen);
  const server = await startPrivateApiServer({
    address: options.privateApi.listen.address,
    secret,
    tls,
    claimLocalTunnel: (agentId) => tunnels.claimLocalTunnel(agentId),
    logger: logger.child({ module: 'kas_private_api' }),
  });
  const ownUrl =
    process.env.OWN_PRIVATE_API_URL || options.privateApi.advertiseUrl || `${tls ? 'https' : 'http'}://${reachableAddress(server.address)}`;
  const client = new PrivateApiClient({ secret, caPem, logger: logger.child({ module: 'kas_private_api' }) });
  const redis = connectRedis(options.redis, 'commands');
  const subscriber = connectRedis(options.redis, 'notifications');
  const tracker = new TunnelTracker({
    redis,
    subscriber,
    keyPrefix: options.redis.keyPrefix,
    ownUrl,
    configProject: options.configProject,
    refreshMs: options.redis.trackerRefreshMs,
    ttlMs: options.redis.trackerTtlMs,
    localState: (agentId) => {
      const counts = tunnels.localTunnels(agentId);
      return {
        tunnels: counts.idle + counts.busy,
        idleTunnels: counts.idle,
        connections: options.localConnections(agentId),
        agentName: options.agentName(agentId),
      };
    },
    localAgentIds: () => [...new Set([...tunnels.connectedAgents().map((a) => a.agentId), ...options.localConfigStreamAgents()])],
    logger: logger.child({ module: 'tunnel_tracker' }),
  });
  const stopFollowingTunnels = tunnels.onLocalChange((agentId, announce) => tracker.markChanged(agentId, announce));
  reportHealthChanges(redis, logger);
  await tracker.start();
  const unreachableUntil = new Map<string, number>();
  tunnels.setRouter({
    replicasWithTunnels: (agentId) => tracker.replicasWithTunnels(agentId),
    claimRemoteTunnel: (url, agentId) => {
      // A replica that crashed stays in Redis until its records expire: don't ask it on every request.
      if ((unreachableUntil.get(url) ?? 0) > Date.now()) return Promise.resolve(undefined);
      return client.claimRemoteTunnel(url, agentId, () => unreachableUntil.set(url, Date.now() + UNREACHABLE_BACKOFF_MS));
    },
    onIdleTunnelElsewhere: (agentId, listener) => tracker.onIdleTunnelElsewhere(agentId, listener),
  });
  logger.info('joined the kas replicas', { ownUrl, privateApi: server.address });
  const unhealthyReason = () => (tracker.healthy ? undefined : UNHEALTHY_REASON);
  const limiter = new SharedConnectionRateLimiter(
    redis,
    options.redis.keyPrefix,
    options.connectionsPerTokenPerMinute,
    logger.child({ module: 'rate_limit' }),
  );
  return {
    ownUrl,
    privateApiAddress: server.address,
    privateApiConnectionsAccepted: () => server.connectionsAccepted(),
    healthy: () => tracker.healthy,
    unhealthyReason,
    remoteConnections: (agentId) => tracker.remoteConnections(agentId),
    connectedAgentsOfProject: async (configProject) =>
      (await tracker.connectedAgentsOfProject(configProject)).map((agent) => ({ ...agent, connections: mergeByPod(agent.connections) })),
    limiter,
    markChanged: (agentId) => tracker.markChanged(agentId),
    stop: async () => {
      tunnels.setRouter(undefined);
      client.close();
      stopFollowingTunnels();
      await limiter.flush();
      limiter.stop();
      await tracker.stop();
      await server.stop();
    },
  };
}

/** How long a replica that could not be reached is skipped by routing. */
const UNREACHABLE_BACKOFF_MS = 5_000;

const UNHEALTHY_REASON =
  'Redis is unreachable: requests for agents connected to other replicas may not find them, the agents list shows only what this replica knows, ' +
  'and the connection rate limit counts per replica; agents connected to this replica are still served';

function reportHealthChanges(redis: ReturnType<typeof connectRedis>, logger: Logger): void {
  let wasReady = false;
  redis.on('ready', () => {
    if (!wasReady) logger.info('Redis reachable: routing between replicas is complete again');
    wasReady = true;
  });
  redis.on('close', () => {
    if (wasReady) logger.warn(`not ready: ${UNHEALTHY_REASON}`);
    wasReady = false;
  });
}

/** The listener's certificate and key, and the CA that signs the other replicas' certificates. */
async function readPrivateApiTls(
  listen: KasConfig['privateApi']['listen'],
): Promise<{ tls?: { certPem: string; keyPem: string }; caPem?: string }> {
  const read = (file: string, what: string) =>
    readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new PrivateApiConfigError(`cannot read the private API ${what} ${file}: ${err.code ?? err.message}`);
    });
  const [certPem, keyPem, caPem] = await Promise.all([
    listen.tls ? read(listen.tls.certificateFile, 'certificate') : undefined,
    listen.tls ? read(listen.tls.keyFile, 'key') : undefined,
    listen.caCertificateFile ? read(listen.caCertificateFile, 'CA certificate') : undefined,
  ]);
  return { tls: certPem && keyPem ? { certPem, keyPem } : undefined, caPem };
}

async function readSecret(file: string | undefined): Promise<Buffer> {
  if (!file) throw new PrivateApiConfigError('private_api.authentication_secret_file is required with redis');
  const secret = Buffer.from((await readFile(file, 'utf8')).trim());
  if (secret.length < 32) throw new PrivateApiConfigError(`private_api.authentication_secret_file must hold at least 32 bytes (${file})`);
  return secret;
}
