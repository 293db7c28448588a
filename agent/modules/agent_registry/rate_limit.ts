// New agent connections per token per minute (agent.listen.connections_per_token_per_minute),
// counted in memory: right for a single kas replica. Fixed one-minute windows keyed by a hash of
// the token, so the limiter never holds tokens in clear text.
import { hashToken } from './hashed_tokens';
import { agentConnectionsRefused } from '../reverse_tunnel/server/metrics';

const WINDOW_MS = 60_000;

/** What admission needs: this class in memory, or the Redis-backed one shared by replicas. */
export interface ConnectionAdmissionLimiter {
  allow(token: string): boolean | Promise<boolean>;
}

export class ConnectionRateLimiter {
  private readonly windows = new Map<string, { startedAt: number; count: number }>();
  private lastSweep = Date.now();

  constructor(private readonly perMinute: number) {}

  /** Counts one new connection for `token`; false (and counted as refused) when over the limit. */
  allow(token: string, now = Date.now()): boolean {
    this.sweep(now);
    const key = hashToken(token);
    let window = this.windows.get(key);
    if (!window || now - window.startedAt >= WINDOW_MS) {
      window = { startedAt: now, count: 0 };
      this.windows.set(key, window);
    }
    if (window.count >= this.perMinute) {
      agentConnectionsRefused.inc();
      return false;
    }
    window.count++;
    return true;
  }

  /** Drops finished windows once a minute so unknown tokens cannot grow the map forever. */
  private sweep(now: number): void {
    if (now - this.lastSweep < WINDOW_MS) return;
    this.lastSweep = now;
    for (const [key, window] of this.windows) {
      if (now - window.startedAt >= WINDOW_MS) this.windows.delete(key);
    }
  }
}
