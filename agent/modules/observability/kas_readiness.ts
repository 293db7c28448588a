// What kas's /readiness reports, check by check: each listener accepts connections (a TCP
// connect to its own address, so a listener that died is seen), Redis (only with several
// replicas) and the config repository. The config repository is reported but not required:
// kas keeps serving the last good configs while git cannot be read, and taking every replica
// out of the load balancer for that would turn a degraded state into an outage.
import * as net from 'node:net';
import { GitConfigRepository } from '../agent_registry/git_repository';
import { reachableAddress } from '../../internal/listen';
import type { ReadinessCheck } from './server';

const CONNECT_TIMEOUT_MS = 1_000;
/** Probes come every few seconds from each load balancer: git runs at most this often. */
const REPOSITORY_CHECK_CACHE_MS = 5_000;

export interface KasReadinessSources {
  /** false while kas is stopping (draining). */
  serving(): boolean;
  listeners(): Array<{ name: string; address: string }>;
  /** The modules' own checks (Redis with several replicas, the config repository), in order. */
  checks: Array<() => ReadinessCheck | Promise<ReadinessCheck>>;
}

export function kasReadinessChecks(sources: KasReadinessSources): () => Promise<ReadinessCheck[]> {
  return async () => [
    sources.serving() ? passed('kas', 'serving') : failed('kas', 'stopping: draining connections'),
    ...(await Promise.all(sources.listeners().map((l) => listenerCheck(l.name, l.address)))),
    ...(await Promise.all(sources.checks.map(async (check) => check()))),
  ];
}

export function passed(name: string, reason: string, required = true): ReadinessCheck {
  return { name, ok: true, required, reason };
}

export function failed(name: string, reason: string, required = true): ReadinessCheck {
  return { name, ok: false, required, reason };
}

async function listenerCheck(name: string, address: string): Promise<ReadinessCheck> {
  const target = reachableAddress(address);
  const error = await tryConnect(target);
  return error ? failed(name, `${target} does not accept connections: ${error}`) : passed(name, `accepting connections on ${target}`);
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

export function cachedRepositoryCheck(repositoryPath: string): () => Promise<ReadinessCheck> {
  const repository = new GitConfigRepository(repositoryPath);
  let cached: { at: number; check: ReadinessCheck } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < REPOSITORY_CHECK_CACHE_MS) return cached.check;
    const check = await repository.defaultBranchCommit().then(
      (commit) =>
        passed('config_repository', commit ? `readable, default branch at ${commit.slice(0, 12)}` : 'readable, no commit yet', false),
      (err: unknown) =>
        failed('config_repository', `cannot read ${repositoryPath} (the last good configs stay in force): ${firstLine(err)}`, false),
    );
    cached = { at: Date.now(), check };
    return check;
  };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}
