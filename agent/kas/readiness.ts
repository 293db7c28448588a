// What kas's /readiness reports, check by check: each listener accepts connections (a TCP
// connect to its own address, so a listener that died is seen), Redis (only with several
// replicas) and the config repository. The config repository is reported but not required:
// kas keeps serving the last good configs while git cannot be read, and taking every replica
// out of the load balancer for that would turn a degraded state into an outage.
import * as net from 'node:net';
import { GitConfigRepository } from '../modules/agent_registry/git_repository';
import { reachableAddress, type ReadinessCheck } from '../modules/observability/server';

const CONNECT_TIMEOUT_MS = 1_000;
/** Probes come every few seconds from each load balancer: git runs at most this often. */
const REPOSITORY_CHECK_CACHE_MS = 5_000;

export interface KasReadinessSources {
  /** false while kas is stopping (draining). */
  serving(): boolean;
  listeners: Array<{ name: string; address: string }>;
  /** Only with a redis section. */
  redis?: { healthy(): boolean; unhealthyReason(): string | undefined };
  configRepository: string;
}

export function kasReadinessChecks(sources: KasReadinessSources): () => Promise<ReadinessCheck[]> {
  const repositoryCheck = cachedRepositoryCheck(sources.configRepository);
  return async () => {
    const checks: ReadinessCheck[] = [
      sources.serving() ? pass('kas', 'serving') : fail('kas', 'stopping: draining connections'),
      ...(await Promise.all(sources.listeners.map((l) => listenerCheck(l.name, l.address)))),
    ];
    if (sources.redis) checks.push(redisCheck(sources.redis));
    checks.push(await repositoryCheck());
    return checks;
  };
}

function pass(name: string, reason: string, required = true): ReadinessCheck {
  return { name, ok: true, required, reason };
}

function fail(name: string, reason: string, required = true): ReadinessCheck {
  return { name, ok: false, required, reason };
}

function redisCheck(redis: NonNullable<KasReadinessSources['redis']>): ReadinessCheck {
  return redis.healthy()
    ? pass('redis', 'reachable (commands and notifications)')
    : fail('redis', redis.unhealthyReason() ?? 'unreachable');
}

async function listenerCheck(name: string, address: string): Promise<ReadinessCheck> {
  const target = reachableAddress(address);
  const error = await tryConnect(target);
  return error ? fail(name, `${target} does not accept connections: ${error}`) : pass(name, `accepting connections on ${target}`);
}

/** Resolves with undefined when a TCP connection opens, else with why not. */
function tryConnect(hostPort: string): Promise<string | undefined> {
  const separator = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, separator).replace(/^\[|\]$/g, '');
  const port = Number(hostPort.slice(separator + 1));
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (error: string | undefined) => {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(error);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => finish('timed out'));
    socket.once('connect', () => finish(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
  });
}

function cachedRepositoryCheck(repositoryPath: string): () => Promise<ReadinessCheck> {
  const repository = new GitConfigRepository(repositoryPath);
  let cached: { at: number; check: ReadinessCheck } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < REPOSITORY_CHECK_CACHE_MS) return cached.check;
    const check = await repository.defaultBranchCommit().then(
      (commit) =>
        pass('config_repository', commit ? `readable, default branch at ${commit.slice(0, 12)}` : 'readable, no commit yet', false),
      (err: unknown) =>
        fail('config_repository', `cannot read ${repositoryPath} (the last good configs stay in force): ${firstLine(err)}`, false),
    );
    cached = { at: Date.now(), check };
    return check;
  };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}
