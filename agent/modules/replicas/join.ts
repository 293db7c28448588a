// A kas replica joining the others (kascfg has a redis section): Redis connections, the tunnel
// tracker fed by this replica's tunnels and configuration streams, the private API listener,
// routing of proxied requests to whichever replica holds an idle tunnel, and the connection
// rate limit shared through Redis.
import { readFile } from 'node:fs/promises';
import { reachableAddress } from '../../internal/listen';
import type { Logger } from '../../internal/log';
import type { KasConfig, RedisConfig } from '../../kascfg/kascfg';
import type { KasModuleContext, Stoppable } from '../../module/modserver';
import { failed, passed } from '../observability/kas_readiness';
import { PrivateApiClient } from './private_api/client';
import { startPrivateApiServer } from './private_api/server';
import { RoutingTunnelFinder, type RemoteRouter } from './routing';
import { connectRedis, SharedConnectionRateLimiter, TunnelTracker } from './tracker';

export class PrivateApiConfigError extends Error {
  override name = 'PrivateApiConfigError';
}

/** This replica joins the others: what it holds is published, what they hold is routed to. */
export async function joinReplicas(context: KasModuleContext, redisConfig: RedisConfig): Promise<Stoppable> {
  const { config, registry, tunnels, logger } = context;
  const secret = await readSecret(config.privateApi.authenticationSecretFile);
  const { tls, caPem } = await readPrivateApiTls(config.privateApi.listen);
  const routing = new RoutingTunnelFinder(tunnels.local);
  const server = await startPrivateApiServer({
    address: config.privateApi.listen.address,
    secret,
    tls,
    claimLocalTunnel: (agentId) => routing.claimLocalTunnel(agentId),
    timeouts: config.privateApi.listen.timeouts,
    logger: logger.child({ module: 'kas_private_api' }),
  });
  const ownUrl =
    process.env.OWN_PRIVATE_API_URL || config.privateApi.advertiseUrl || `${tls ? 'https' : 'http'}://${reachableAddress(server.address)}`;
  const client = new PrivateApiClient({ secret, caPem, logger: logger.child({ module: 'kas_private_api' }) });
  const redis = connectRedis(redisConfig, 'commands');
  const subscriber = connectRedis(redisConfig, 'notifications');
  const tracker = new TunnelTracker({
    redis,
    subscriber,
    keyPrefix: redisConfig.keyPrefix,
    ownUrl,
    configProject: config.registry.projectId,
    refreshMs: redisConfig.trackerRefreshMs,
    ttlMs: redisConfig.trackerTtlMs,
    localState: (agentId) => {
      const counts = routing.localTunnels(agentId);
      return {
        tunnels: counts.idle + counts.busy,
        idleTunnels: counts.idle,
        connections: registry.connections.localConnectionsOf(Number(agentId)),
        agentName: registry.watcher.agentById(Number(agentId))?.name ?? '',
      };
    },
    localAgentIds: () => registry.connections.localAgentIds().map(String),
    logger: logger.child({ module: 'tunnel_tracker' }),
  });
  const stopFollowingTunnels = routing.onLocalChange((agentId, announce) => tracker.markChanged(agentId, announce));
  const stopFollowingConfigStreams = registry.connections.onChange((agentId) => tracker.markChanged(String(agentId)));
  reportHealthChanges(redis, logger);
  await tracker.start();
  routing.setRouter(remoteRouter(tracker, client));
  tunnels.useFinder(routing);
  registry.connections.setRemote({
    connectionsOf: (agentId) => tracker.remoteConnections(String(agentId)),
    agentsOfProject: (configProject) => tracker.connectedAgentsOfProject(configProject),
  });
  const limiter = new SharedConnectionRateLimiter(
    redis,
    redisConfig.keyPrefix,
    config.agent.listen.connectionsPerTokenPerMinute,
    logger.child({ module: 'rate_limit' }),
  );
  registry.admission.useLimiter(limiter);
  context.readiness.add(() =>
    tracker.healthy ? passed('redis', 'reachable (commands and notifications)') : failed('redis', UNHEALTHY_REASON),
  );
  context.listeners.add({
    name: 'private_api_listener',
    address: server.address,
    url: ownUrl,
    connectionsAccepted: () => server.connectionsAccepted(),
  });
  logger.info('joined the kas replicas', { ownUrl, privateApi: server.address });
  return {
    stop: async () => {
      routing.setRouter(undefined);
      registry.connections.setRemote(undefined);
      client.close();
      stopFollowingTunnels();
      stopFollowingConfigStreams();
      routing.close();
      await limiter.flush();
      limiter.stop();
      await tracker.stop();
      await server.stop();
    },
  };
}

/** Routing reads the tracker's view (memory) and claims through the private API. */
function remoteRouter(tracker: TunnelTracker, client: PrivateApiClient): RemoteRouter {
  const unreachableUntil = new Map<string, number>();
  return {
    replicasWithTunnels: (agentId) => tracker.replicasWithTunnels(agentId),
    claimRemoteTunnel: (url, agentId) => {
      // A replica that crashed stays in Redis until its records expire: don't ask it on every request.
      if ((unreachableUntil.get(url) ?? 0) > Date.now()) return Promise.resolve(undefined);
      return client.claimRemoteTunnel(url, agentId, () => unreachableUntil.set(url, Date.now() + UNREACHABLE_BACKOFF_MS));
    },
    onIdleTunnelElsewhere: (agentId, listener) => tracker.onIdleTunnelElsewhere(agentId, listener),
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
