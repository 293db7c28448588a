// kas: the reverse HTTP/1.1 connections agents dialed in, per agent. Each connection is one
// keep-alive HTTP/1.1 client connection (an undici Client whose `connect` hands out the dialed-in
// socket, once): one request at a time, never queued behind another (a watch would hold it).
//   take     an idle connection, now; or wait for one (agentk dials more when its idle ones run low)
//   release  back to idle after a complete exchange
//   detach   out of the pool for good: an upgraded request owns it, or it broke
// Max connection age: a connection older than maxAgeMs is handed out no more; it closes when idle,
// or is cut after the grace period; agentk dials a fresh one.
import type { Duplex } from 'node:stream';
import { Client } from 'undici';
import { DEFAULT_POOL_SETTINGS } from '../../reverse_tunnel/agent/pool';
import type { HttpTunnelAgentMeta } from '../protocol';
import { httpTunnelCountSources, type HttpTunnelCounts } from './metrics';

export interface HttpTunnelConnection {
  readonly agentId: string;
  readonly client: Client;
  readonly socket: Duplex;
  readonly openedAt: number;
  state: 'idle' | 'busy' | 'draining' | 'gone';
  /** Armed while the connection is idle beyond the agent's minIdle. */
  idleTimer?: NodeJS.Timeout;
}

export interface HttpTunnelRegistryOptions {
  /** Connections older than this are recycled; default 2 h (agent.listen.max_connection_age). */
  maxAgeMs?: number;
  /** How long a recycled connection may still carry its request; default 10 min. */
  graceMs?: number;
}

export class HttpTunnelWaitAbortedError extends Error {
  override name = 'TunnelWaitAbortedError';
}

export class NoHttpTunnelError extends Error {
  override name = 'NoHttpTunnelError';
}

/** Never used for an idle connection: kas closes what it recycles, agentk what it no longer needs. */
const NO_IDLE_TIMEOUT_MS = 2 ** 31 - 1;
const DEFAULT_MAX_AGE_MS = 2 * 3600_000;
const DEFAULT_GRACE_MS = 10 * 60_000;

interface Waiter {
  resolve(connection: HttpTunnelConnection): void;
  reject(err: Error): void;
}

interface AgentConnections {
  idle: HttpTunnelConnection[];
  all: Set<HttpTunnelConnection>;
  waiters: Waiter[];
  meta?: HttpTunnelAgentMeta;
  minIdle: number;
  idleTimeoutMs: number;
}

export class HttpTunnelRegistry {
  private readonly agents = new Map<string, AgentConnections>();
  private readonly maxAgeMs: number;
  private readonly graceMs: number;
  private readonly sweeper: NodeJS.Timeout;
  private readonly countSource = () => this.counts();

  constructor(options: HttpTunnelRegistryOptions = {}) {
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.sweeper = setInterval(() => this.recycleOld(), Math.max(50, Math.min(60_000, this.maxAgeMs / 4)));
    this.sweeper.unref();
    httpTunnelCountSources.add(this.countSource);
  }

  /** A connection agentk dialed and kas admitted: idle from now on. */
  add(agentId: string, socket: Duplex, meta: HttpTunnelAgentMeta | undefined): HttpTunnelConnection {
    let handedOut = false;
    const client = new Client(`http://agent-${agentId}.kas-tunnel`, {
      // The dialed-in socket, once: when it is gone, the connection is. Called back on the next
      // tick: undici starts its connection from inside its dispatch loop, and a callback in the
      // same turn leaves the first request unsent.
      connect: (_options, callback) => {
        if (handedOut) return process.nextTick(callback, new NoHttpTunnelError('the agent connection closed'), null);
        handedOut = true;
        process.nextTick(callback, null, socket as never);
      },
      pipelining: 1,
      keepAliveTimeout: NO_IDLE_TIMEOUT_MS,
      keepAliveMaxTimeout: NO_IDLE_TIMEOUT_MS,
      // Watches and logs -f may stay quiet for as long as the client wants.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    const connection: HttpTunnelConnection = { agentId, client, socket, openedAt: Date.now(), state: 'idle' };
    const agent = this.agentOf(agentId);
    if (meta) {
      agent.meta = meta;
      agent.minIdle = meta.minIdle ?? agent.minIdle;
      agent.idleTimeoutMs = meta.idleTimeoutMs ?? agent.idleTimeoutMs;
    }
    agent.all.add(connection);
    // undici listens on the socket only once it sent a request on it: until then, this does.
    socket.on('error', () => socket.destroy());
    socket.once('close', () => this.detach(connection));
    this.makeIdle(agent, connection);
    return connection;
  }

  /** An idle connection of the agent, now busy; undefined when none is idle right now. */
  take(agentId: string): HttpTunnelConnection | undefined {
    const agent = this.agents.get(agentId);
    const connection = agent?.idle.pop();
    if (connection) connection.state = 'busy';
    return connection;
  }

  /** Whether this kas holds connections of the agent (idle or not): then a request waits for one. */
  serves(agentId: string): boolean {
    return (this.agents.get(agentId)?.all.size ?? 0) > 0;
  }

  /** Waits for an idle connection of the agent, up to timeoutMs. */
  wait(agentId: string, timeoutMs: number, signal?: AbortSignal): Promise<HttpTunnelConnection> {
    const now = this.take(agentId);
    if (now) return Promise.resolve(now);
    const agent = this.agentOf(agentId);
    return new Promise((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = agent.waiters.indexOf(waiter);
        if (index >= 0) agent.waiters.splice(index, 1);
      };
      const waiter: Waiter = {
        resolve: (connection) => {
          settle();
          resolve(connection);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      };
      const onAbort = () => waiter.reject(new HttpTunnelWaitAbortedError('the client left'));
      const timer = setTimeout(
        () => waiter.reject(new NoHttpTunnelError(`no free connection to agent ${agentId} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      agent.waiters.push(waiter);
    });
  }

  /** The exchange is complete: the connection takes the next request (or closes, when recycled). */
  release(connection: HttpTunnelConnection): void {
    if (connection.state === 'gone') return;
    if (connection.state === 'draining') return this.close(connection);
    const agent = this.agents.get(connection.agentId);
    if (agent) this.makeIdle(agent, connection);
  }

  /** Out of the pool for good: an upgrade owns it now, or it broke. */
  detach(connection: HttpTunnelConnection): void {
    if (connection.state === 'gone') return;
    connection.state = 'gone';
    clearTimeout(connection.idleTimer);
    const agent = this.agents.get(connection.agentId);
    if (!agent) return;
    agent.all.delete(connection);
    const index = agent.idle.indexOf(connection);
    if (index >= 0) agent.idle.splice(index, 1);
    if (agent.all.size === 0 && agent.waiters.length === 0) this.agents.delete(connection.agentId);
  }

  counts(): HttpTunnelCounts[] {
    return [...this.agents].map(([agentId, agent]) => ({ agentId, idle: agent.idle.length, busy: agent.all.size - agent.idle.length }));
  }

  meta(agentId: string): HttpTunnelAgentMeta | undefined {
    return this.agents.get(agentId)?.meta;
  }

  close(): void;
  close(connection: HttpTunnelConnection): void;
  close(connection?: HttpTunnelConnection): void {
    if (connection) {
      this.detach(connection);
      connection.client.destroy().catch(() => undefined); // nothing waits on it
      connection.socket.destroy();
      return;
    }
    clearInterval(this.sweeper);
    httpTunnelCountSources.delete(this.countSource);
    for (const agent of this.agents.values()) {
      for (const waiter of [...agent.waiters]) waiter.reject(new NoHttpTunnelError('kas is stopping'));
      for (const each of [...agent.all]) this.close(each);
    }
    this.agents.clear();
  }

  private agentOf(agentId: string): AgentConnections {
    let agent = this.agents.get(agentId);
    if (!agent) {
      const { minIdle, idleTimeoutMs } = DEFAULT_POOL_SETTINGS;
      agent = { idle: [], all: new Set(), waiters: [], minIdle, idleTimeoutMs };
      this.agents.set(agentId, agent);
    }
    return agent;
  }

  private makeIdle(agent: AgentConnections, connection: HttpTunnelConnection): void {
    const waiter = agent.waiters.shift();
    if (waiter) {
      connection.state = 'busy';
      waiter.resolve(connection);
      return;
    }
    connection.state = 'idle';
    agent.idle.push(connection);
    if (agent.idle.length <= agent.minIdle) return;
    // One timer per connection, re-armed (refresh) rather than made anew for every idle spell.
    if (connection.idleTimer) connection.idleTimer.refresh();
    else {
      connection.idleTimer = setTimeout(() => this.closeIfSurplus(agent, connection), agent.idleTimeoutMs);
      connection.idleTimer.unref();
    }
  }

  /** Still idle at its timeout, and still beyond minIdle: closed; agentk sees it go and counts it gone. */
  private closeIfSurplus(agent: AgentConnections, connection: HttpTunnelConnection): void {
    if (connection.state === 'idle' && agent.idle.length > agent.minIdle) this.close(connection);
  }

  private recycleOld(): void {
    const now = Date.now();
    for (const agent of this.agents.values()) {
      for (const connection of [...agent.all]) {
        const age = now - connection.openedAt;
        if (age < this.maxAgeMs) continue;
        if (connection.state === 'idle') this.close(connection);
        else if (connection.state === 'busy') connection.state = 'draining';
        else if (connection.state === 'draining' && age >= this.maxAgeMs + this.graceMs) this.close(connection);
      }
    }
  }
}
