// The per-token connection rate limit shared by all replicas: one counter per token hash and
// one-minute window in Redis (INCR, expiring with the window). While Redis is unreachable each
// replica counts in memory, so agents can still connect and the limit still applies per replica.
import type { Redis } from 'ioredis';
import type { Logger } from '../../internal/log';
import { ConnectionRateLimiter } from '../../kas/rate_limit';
import { hashToken } from '../agent_registry/hashed_tokens';
import { agentConnectionsRefused } from '../reverse_tunnel/server/metrics';

const WINDOW_MS = 60_000;

export class SharedConnectionRateLimiter {
  private readonly fallback: ConnectionRateLimiter;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly perMinute: number,
    private readonly logger: Logger,
  ) {
    this.fallback = new ConnectionRateLimiter(perMinute);
  }

  async allow(token: string, now = Date.now()): Promise<boolean> {
    const window = Math.floor(now / WINDOW_MS);
    const key = `${this.keyPrefix}:conn_rate:${hashToken(token)}:${window}`;
    let count: number;
    try {
      const results = await this.redis.multi().incr(key).pexpire(key, WINDOW_MS * 2).exec();
      count = Number(results?.[0]?.[1]);
    } catch (err) {
      this.logger.warn('shared rate limit unavailable (Redis), counting in this replica only', { err: String(err) });
      return this.fallback.allow(token, now);
    }
    if (count > this.perMinute) {
      agentConnectionsRefused.inc();
      return false;
    }
    return true;
  }
}
