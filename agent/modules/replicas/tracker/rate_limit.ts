// The per-token connection rate limit shared by all replicas: one counter per token hash and
// one-minute window in Redis, expiring with the window. agentk opens a tunnel stream for every
// proxied request, so counting each one in Redis would cost a command per request: a replica
// asks Redis (INCR) the first time it sees a token in a window, then counts locally and adds its
// count to Redis (INCRBY) once per flush period (or sooner, when half the exact margin below
// has piled up here), learning the shared total each time.
// Close to the limit (the last tenth, at least 10 connections) every connection goes to Redis
// before it is admitted, so replicas together never admit more than the limit.
// While Redis is unreachable, each replica keeps counting alone: agents can still connect.
import type { Redis } from 'ioredis';
import type { Logger } from '../../../internal/log';
import { hashToken } from '../../agent_registry/hashed_tokens';
import { agentConnectionsRefused } from '../../reverse_tunnel/server/metrics';

const WINDOW_MS = 60_000;
const DEFAULT_FLUSH_MS = 10_000;

interface TokenWindow {
  window: number;
  /** The shared count as Redis last reported it (including this replica's flushed part). */
  sharedTotal: number;
  /** Counted here, not yet added in Redis. */
  unflushed: number;
}

export class SharedConnectionRateLimiter {
  private readonly windows = new Map<string, TokenWindow>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly perMinute: number,
    private readonly logger: Logger,
    private readonly flushMs = DEFAULT_FLUSH_MS,
  ) {}

  /** Counts one new connection for `token`; false (and counted as refused) when over the limit. */
  async allow(token: string, now = Date.now()): Promise<boolean> {
    const hash = hashToken(token);
    const window = Math.floor(now / WINDOW_MS);
    let entry = this.windows.get(hash);
    if (!entry || entry.window !== window) {
      entry = { window, sharedTotal: 0, unflushed: 0 };
      this.windows.set(hash, entry);
      entry.sharedTotal = await this.addShared(hash, window, 1).catch(() => 0);
      if (entry.sharedTotal === 0) entry.unflushed++; // Redis away: counted here only
      return this.verdict(entry.sharedTotal + entry.unflushed - 1);
    }
    if (!this.verdict(entry.sharedTotal + entry.unflushed)) return false;
    if (this.perMinute - (entry.sharedTotal + entry.unflushed) <= this.exactMargin()) return this.allowExactly(hash, entry);
    entry.unflushed++;
    // Bounds what replicas can admit together on stale totals before the exact zone starts.
    if (entry.unflushed >= this.exactMargin() / 2) void this.flush();
    else this.scheduleFlush();
    return true;
  }

  /** Sends what is still counted only here; for a clean stop and for tests. */
  async flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const current = Math.floor(Date.now() / WINDOW_MS);
    for (const [hash, entry] of this.windows) {
      if (entry.window < current) {
        this.windows.delete(hash);
        continue;
      }
      if (entry.unflushed === 0) continue;
      const count = entry.unflushed;
      entry.unflushed = 0;
      try {
        entry.sharedTotal = await this.addShared(hash, entry.window, count);
      } catch (err) {
        entry.unflushed += count;
        this.logger.debug('shared rate limit not reachable (Redis); counting in this replica', { err: String(err) });
        return;
      }
    }
  }

  stop(): void {
    clearTimeout(this.flushTimer);
  }

  private exactMargin(): number {
    return Math.max(10, Math.ceil(this.perMinute / 10));
  }

  /** Adds this connection (and what is counted only here) in Redis first, then decides. */
  private async allowExactly(hash: string, entry: TokenWindow): Promise<boolean> {
    const count = entry.unflushed + 1;
    entry.unflushed = 0;
    try {
      entry.sharedTotal = await this.addShared(hash, entry.window, count);
    } catch {
      entry.unflushed += count; // Redis away: this replica's own count decides
      return this.verdict(entry.sharedTotal + entry.unflushed - 1);
    }
    return this.verdict(entry.sharedTotal - 1);
  }

  /** `alreadyCounted` connections before this one: allowed while under the limit. */
  private verdict(alreadyCounted: number): boolean {
    if (alreadyCounted < this.perMinute) return true;
    agentConnectionsRefused.inc();
    return false;
  }

  private async addShared(hash: string, window: number, count: number): Promise<number> {
    const key = `${this.keyPrefix}:conn_rate:${hash}:${window}`;
    const results = await this.redis
      .multi()
      .incrby(key, count)
      .pexpire(key, WINDOW_MS * 2)
      .exec();
    const total = Number(results?.[0]?.[1]);
    if (!Number.isFinite(total)) throw new Error('unexpected INCRBY reply');
    return total;
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => void this.flush(), this.flushMs);
    this.flushTimer.unref();
  }
}
