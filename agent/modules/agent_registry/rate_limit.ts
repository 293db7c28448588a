// Counting in memory, right for a single kas replica: new agent connections per token per minute
// (agent.listen.connections_per_token_per_minute) and failed credentials per client address and
// per agent id (kas.authentication_failures, auth_failures.ts). Fixed windows keyed by a hash, so
// a limiter never holds tokens in clear text.
import { hashToken } from './hashed_tokens';
import { agentConnectionsRefused } from '../reverse_tunnel/server/metrics';

const MINUTE_MS = 60_000;

/**
 * Events per key in fixed windows of `windowMs`. Bounded: finished windows are swept once per
 * window, and past `maxKeys` live keys the oldest is dropped (a flood of distinct keys forgets
 * its own oldest entries, never grows memory).
 */
export class FixedWindowCounter {
  private readonly windows = new Map<string, { startedAt: number; count: number }>();
  private lastSweep: number;

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys = 100_000,
    now = Date.now(),
  ) {
    this.lastSweep = now;
  }

  /** The events counted for `key` in its current window, and when that window ends (ms from now). */
  peek(key: string, now = Date.now()): { count: number; resetInMs: number } {
    const window = this.windows.get(key);
    if (!window || now - window.startedAt >= this.windowMs) return { count: 0, resetInMs: this.windowMs };
    return { count: window.count, resetInMs: window.startedAt + this.windowMs - now };
  }

  /** Counts one event for `key`; returns the count in its window, this one included. */
  add(key: string, now = Date.now()): number {
    this.sweep(now);
    let window = this.windows.get(key);
    if (!window || now - window.startedAt >= this.windowMs) {
      this.windows.delete(key);
      if (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
      window = { startedAt: now, count: 0 };
      this.windows.set(key, window);
    }
    return ++window.count;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < this.windowMs) return;
    this.lastSweep = now;
    for (const [key, window] of this.windows) {
      if (now - window.startedAt >= this.windowMs) this.windows.delete(key);
    }
  }
}

/** What admission needs: this class in memory, or the Redis-backed one shared by replicas. */
export interface ConnectionAdmissionLimiter {
  allow(token: string): boolean | Promise<boolean>;
}

export class ConnectionRateLimiter {
  private readonly counter: FixedWindowCounter;

  constructor(private readonly perMinute: number) {
    this.counter = new FixedWindowCounter(MINUTE_MS);
  }

  /** Counts one new connection for `token`; false (and counted as refused) when over the limit. */
  allow(token: string, now = Date.now()): boolean {
    const key = hashToken(token);
    if (this.counter.peek(key, now).count >= this.perMinute) {
      agentConnectionsRefused.inc();
      return false;
    }
    this.counter.add(key, now);
    return true;
  }
}
