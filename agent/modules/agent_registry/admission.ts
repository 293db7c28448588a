// Admission of agentk connections on the agent listener: the per-token rate limit first (cheap,
// and it also bounds token lookups), then the token itself. One limit for the configuration
// stream and the tunnel streams; with several kas replicas the replicas module swaps in the
// limit they share through Redis.
import { Status } from '../../internal/grpc';
import type { AgentAdmission } from '../agent_configuration/server';
import { agentConnectionsRefused } from '../reverse_tunnel/server/metrics';
import type { AgentTokenStore, AuthenticatedAgent } from './agent_tokens';
import { ConnectionRateLimiter, type ConnectionAdmissionLimiter } from './rate_limit';

/** Thrown to the reverse tunnel when a token opened too many streams this minute. */
export class AgentRateLimitedError extends Error {
  override name = 'AgentRateLimitedError';
}

const RATE_LIMITED = 'too many new connections for this agent token; retry later';

export class ConnectionAdmission {
  private limiter: ConnectionAdmissionLimiter;

  constructor(
    private readonly tokens: AgentTokenStore,
    connectionsPerTokenPerMinute: number,
  ) {
    this.limiter = new ConnectionRateLimiter(connectionsPerTokenPerMinute);
  }

  /** Replaces the in-memory limit, e.g. with one shared by kas replicas. */
  useLimiter(limiter: ConnectionAdmissionLimiter): void {
    this.limiter = limiter;
  }

  /** For a stream that answers refusals with a gRPC status (the configuration stream). */
  async admit(token: string | undefined): Promise<AgentAdmission> {
    if (!token) {
      agentConnectionsRefused.inc();
      return { ok: false, code: Status.UNAUTHENTICATED, message: 'missing agent token (authorization: Bearer <token>)' };
    }
    if (!(await this.limiter.allow(token))) return { ok: false, code: Status.RESOURCE_EXHAUSTED, message: RATE_LIMITED };
    const agent = await this.tokens.authenticate(token);
    if (!agent) {
      agentConnectionsRefused.inc();
      return { ok: false, code: Status.UNAUTHENTICATED, message: 'invalid or revoked agent token' };
    }
    return { ok: true, ...agent };
  }

  /** For the reverse tunnel: undefined for an unknown token, AgentRateLimitedError over the limit. */
  async authenticate(token: string): Promise<AuthenticatedAgent | undefined> {
    if (!(await this.limiter.allow(token))) throw new AgentRateLimitedError(RATE_LIMITED);
    return this.tokens.authenticate(token);
  }
}
