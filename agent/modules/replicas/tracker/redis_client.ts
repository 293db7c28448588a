// Redis connections for the replicas' shared state, from kascfg's redis section (a server or
// Sentinel). Commands fail fast while Redis is away (no offline queue): callers fall back to
// what they know locally instead of piling up requests; ioredis reconnects by itself.
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../../../kascfg/kascfg';

export class RedisConfigError extends Error {
  override name = 'RedisConfigError';
}

/** A new connection; `purpose` names it in Redis (CLIENT LIST) for operators. */
export function connectRedis(config: RedisConfig, purpose: string): Redis {
  const common: RedisOptions = {
    connectionName: `kas-${purpose}`,
    db: config.database,
    password: config.passwordFile ? readFileSync(config.passwordFile, 'utf8').trim() : undefined,
    connectTimeout: config.dialTimeoutMs,
    commandTimeout: Math.max(config.readTimeoutMs, config.writeTimeoutMs),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Keep trying forever, at most every 2 s: a replica must recover by itself when Redis returns.
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
    lazyConnect: true,
  };
  if (config.sentinel) {
    return new Redis({ ...common, sentinels: config.sentinel.addresses.map(parseHostPort), name: config.sentinel.masterName });
  }
  if (!config.serverAddress) throw new RedisConfigError('redis.server.address is required');
  if (config.network === 'unix') return new Redis({ ...common, path: config.serverAddress });
  return new Redis({ ...common, ...parseHostPort(config.serverAddress) });
}

function parseHostPort(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!match) throw new RedisConfigError(`"${address}" is not host:port`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port: Number(match[3]) };
}
