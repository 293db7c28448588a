// kas side: the idle tunnel streams each agent has opened, handed out one request at a time.
// A request that finds no idle stream waits; a stream that registers wakes the oldest waiter
// directly (no polling).
import type { AgentDescriptor, ConnectResponse } from '../protocol';
import { addTunnelCountSource, routingTimeouts, type TunnelCounts } from './metrics';

type Listener = (...args: any[]) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * One Connect stream as kas sees it: ConnectRequest frames from agentk as 'data' (then 'end',
 * 'error', 'close'; 'cancelled' when agentk cancels), ConnectResponse frames out; end() finishes
 * the call. The surface of an object-mode Duplex that the proxy and kas_private_api use: kas's
 * own calls (`ServerCall`) implement just this, and a remote tunnel (a Duplex) fits it too.
 */
export interface TunnelStream {
  readonly writable: boolean;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
  /** false: wait for 'drain' before writing more. */
  write(frame: ConnectResponse): boolean;
  end(): unknown;
  cork(): void;
  uncork(): void;
  pause(): unknown;
  resume(): unknown;
  isPaused(): boolean;
  destroy(err?: Error): unknown;
  on(event: string, listener: Listener): unknown;
  once(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
  emit(event: string, ...args: unknown[]): boolean;
  /** Local streams: the connection has a liveness ping out (routing prefers other streams). */
  readonly connectionSuspect?: boolean;
  /** Local streams: ping the connection now; a frozen agent's connection closes within the ping timeout. */
  probeConnection?(): void;
  /** Local streams: kas closed the connection because it judged the agent dead (an unanswered ping). */
  readonly connectionDead?: boolean;
  /** Local streams: judge the agent dead and close the connection, with every stream on it. */
  closeConnection?(): void;
}

/** Whether a stream's descriptor lists the method (a full path, /<service>/<method>). */
export function offersMethod(descriptor: AgentDescriptor, method: string): boolean {
  for (const service of descriptor.services ?? []) {
    if (service?.methods?.includes(method) && method.startsWith(`/${service.name ?? ''}/`)) return true;
  }
  return false;
}

export interface AgentIdentity {
  agentId: string;
  agentName: string;
}

/** A tunnel claimed for one request. Call done() when the request is over (it ends the stream). */
export interface Tunnel {
  agentId: string;
  descriptor: AgentDescriptor;
  stream: TunnelStream;
  done(): void;
}

export interface ReplicaInfo {
  instanceId: string;
  podName: string;
  podNamespace: string;
  version: string;
  connectedSince: Date;
  idleTunnels: number;
  busyTunnels: number;
}

export interface ConnectedAgent {
  agentId: string;
  agentName: string;
  replicas: ReplicaInfo[];
}

/** Where a request for an agent gets its tunnel: this replica's registry, or routing across replicas. */
export interface TunnelFinder {
  /**
   * An idle tunnel to the agent, waiting up to timeoutMs for one. With `method`, only a stream
   * whose descriptor lists that method (finders that cannot tell may hand out any: check
   * `tunnel.descriptor`).
   */
  findTunnel(agentId: string, timeoutMs: number, signal?: AbortSignal, method?: string): Promise<Tunnel>;
  /** Whether findTunnel would answer at once. */
  hasIdleTunnel(agentId: string, method?: string): boolean;
}

export class TunnelNotFoundError extends Error {
  override name = 'TunnelNotFoundError';
  constructor(readonly agentId: string) {
    super(`agent ${agentId} is not connected`);
  }
}

export class TunnelWaitAbortedError extends Error {
  override name = 'TunnelWaitAbortedError';
}

interface IdleStream {
  stream: TunnelStream;
  descriptor: AgentDescriptor;
  replica: ReplicaState;
}

interface ReplicaState {
  instanceId: string;
  readonly podName: string;
  readonly podNamespace: string;
  readonly version: string;
  connectedSince: Date;
  idle: number;
  busy: number;
  /** Judged dead (by either transport), until a stream of it registers again. */
  dead: boolean;
}

interface Waiter {
  method: string | undefined;
  resolve(tunnel: Tunnel): void;
}

interface AgentEntry {
  identity: AgentIdentity;
  idle: IdleStream[];
  waiters: Waiter[];
  replicas: Map<string, ReplicaState>;
}

export class TunnelRegistry implements TunnelFinder {
  private readonly agents = new Map<string, AgentEntry>();
  private readonly removeMetricsSource = addTunnelCountSource(() => this.counts());
  private readonly registerListeners = new Set<(identity: AgentIdentity, stream: TunnelStream) => void>();
  private readonly deadListeners = new Set<(agentId: string, instanceId: string) => void>();

  /** Adds a stream that just sent its descriptor. It leaves the registry by itself when it closes. */
  register(identity: AgentIdentity, descriptor: AgentDescriptor, stream: TunnelStream): void {
    this.place(identity, descriptor, stream);
    for (const listener of this.registerListeners) listener(identity, stream);
  }

  /** Called after each stream registers (handed to a waiting request or parked idle). */
  onRegister(listener: (identity: AgentIdentity, stream: TunnelStream) => void): () => void {
    this.registerListeners.add(listener);
    return () => this.registerListeners.delete(listener);
  }

  /**
   * An agentk process (instance id) judged dead by a liveness check of either transport (an
   * unanswered HTTP/2 PING here, the reverse HTTP/1.1 transport's probe): its idle streams leave
   * routing at once and their connections close, so its busy streams break and their requests
   * follow the replay rules; then the listeners (the other transport) are told. A stream of the
   * instance that registers later (it resumed) is routed to again.
   */
  instanceDead(agentId: string, instanceId: string): void {
    const entry = this.agents.get(agentId);
    const replica = entry?.replicas.get(instanceId);
    if (replica) replica.dead = true;
    for (const idle of entry ? [...entry.idle] : []) {
      if (idle.replica.instanceId !== instanceId) continue;
      this.dropIdle(entry!, idle);
      if (idle.stream.closeConnection) idle.stream.closeConnection();
      else idle.stream.destroy();
    }
    for (const listener of this.deadListeners) listener(agentId, instanceId);
  }

  /** Called when an agentk process is judged dead (see instanceDead); returns an unsubscribe. */
  onInstanceDead(listener: (agentId: string, instanceId: string) => void): () => void {
    this.deadListeners.add(listener);
    return () => this.deadListeners.delete(listener);
  }

  private place(identity: AgentIdentity, descriptor: AgentDescriptor, stream: TunnelStream): void {
    const entry = this.entryFor(identity);
    const replica = this.replicaFor(entry, descriptor);
    replica.dead = false;
    // A connection kas closed for an unanswered ping: the whole agentk process is judged dead, once.
    stream.once('close', () => {
      if (stream.connectionDead && !replica.dead) this.instanceDead(identity.agentId, replica.instanceId);
    });
    const idle: IdleStream = { stream, descriptor, replica };
    const waiterIndex = entry.waiters.findIndex((w) => w.method === undefined || offersMethod(descriptor, w.method));
    if (waiterIndex >= 0) {
      const [waiter] = entry.waiters.splice(waiterIndex, 1);
      waiter!.resolve(this.claim(entry, idle));
      return;
    }
    entry.idle.push(idle);
    replica.idle++;
    const drop = () => this.dropIdle(entry, idle);
    stream.once('close', drop);
    stream.once('cancelled', drop);
    stream.once('error', drop);
    // agentk half-closes a surplus idle stream: forget it and end kas's side too.
    stream.once('end', () => {
      if (this.dropIdle(entry, idle) && !stream.writableEnded) stream.end();
    });
  }

  /**
   * An idle tunnel to the agent (offering `method`, when given), waiting up to timeoutMs for one
   * to register.
   */
  findTunnel(agentId: string, timeoutMs: number, signal?: AbortSignal, method?: string): Promise<Tunnel> {
    const entry = this.agents.get(agentId);
    const idle = entry && this.takeIdle(entry, method);
    if (entry && idle) return Promise.resolve(this.claim(entry, idle));
    return this.waitForTunnel(agentId, timeoutMs, signal, method);
  }

  /**
   * Newest first (old idle streams are the ones agentk is about to close as surplus), skipping
   * streams that do not offer the method, and streams whose connection has an unanswered
   * liveness ping while another is there (a frozen agentk must not get new requests).
   */
  private takeIdle(entry: AgentEntry, method: string | undefined): IdleStream | undefined {
    let suspect: IdleStream | undefined;
    for (let i = entry.idle.length - 1; i >= 0; i--) {
      const idle = entry.idle[i]!;
      if (!idle.stream.writable) {
        // Its connection went down and its close is still on the way: not a tunnel any more.
        this.dropIdle(entry, idle);
        continue;
      }
      if (method !== undefined && !offersMethod(idle.descriptor, method)) continue;
      if (!idle.stream.connectionSuspect) return this.takeOut(entry, idle);
      suspect ??= idle;
    }
    return suspect && this.takeOut(entry, suspect);
  }

  private takeOut(entry: AgentEntry, idle: IdleStream): IdleStream {
    entry.idle.splice(entry.idle.indexOf(idle), 1);
    idle.replica.idle--;
    return idle;
  }

  /** Whether an idle tunnel of the agent is registered here (findTunnel would not wait). */
  hasIdleTunnel(agentId: string, method?: string): boolean {
    const idle = this.agents.get(agentId)?.idle;
    if (!idle) return false;
    return method === undefined ? idle.length > 0 : idle.some((i) => offersMethod(i.descriptor, method));
  }

  connectedAgents(): ConnectedAgent[] {
    return [...this.agents.values()]
      .filter((entry) => entry.replicas.size > 0)
      .map((entry) => ({
        ...entry.identity,
        replicas: [...entry.replicas.values()].map((r) => ({
          instanceId: r.instanceId,
          podName: r.podName,
          podNamespace: r.podNamespace,
          version: r.version,
          connectedSince: r.connectedSince,
          idleTunnels: r.idle,
          busyTunnels: r.busy,
        })),
      }));
  }

  counts(): TunnelCounts[] {
    return [...this.agents.values()].map((entry) => {
      const replicas = [...entry.replicas.values()];
      return {
        agentId: entry.identity.agentId,
        idle: replicas.reduce((sum, r) => sum + r.idle, 0),
        busy: replicas.reduce((sum, r) => sum + r.busy, 0),
      };
    });
  }

  /** Stops metrics collection; streams are closed by the server that carries them. */
  close(): void {
    this.removeMetricsSource();
  }

  private waitForTunnel(agentId: string, timeoutMs: number, signal: AbortSignal | undefined, method: string | undefined): Promise<Tunnel> {
    const entry = this.entryFor({ agentId, agentName: this.agents.get(agentId)?.identity.agentName ?? '' });
    return new Promise<Tunnel>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        // A waiter that register() handed a tunnel was already taken off the queue.
        const index = entry.waiters.indexOf(waiter);
        if (index >= 0) entry.waiters.splice(index, 1);
      };
      const waiter: Waiter = {
        method,
        resolve: (tunnel) => {
          finish();
          resolve(tunnel);
        },
      };
      const timer = setTimeout(() => {
        finish();
        routingTimeouts.inc({ agent_id: agentId });
        reject(new TunnelNotFoundError(agentId));
      }, timeoutMs);
      const onAbort = () => {
        finish();
        reject(new TunnelWaitAbortedError('the client went away while waiting for a tunnel'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      entry.waiters.push(waiter);
    });
  }

  private claim(entry: AgentEntry, idle: IdleStream): Tunnel {
    idle.replica.busy++;
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      idle.replica.busy--;
      this.forgetReplicaIfEmpty(entry, idle.replica);
      if (!idle.stream.writableEnded && !idle.stream.destroyed) idle.stream.end();
    };
    idle.stream.once('close', done);
    return { agentId: entry.identity.agentId, descriptor: idle.descriptor, stream: idle.stream, done };
  }

  /** Whether the stream was still idle (not claimed). */
  private dropIdle(entry: AgentEntry, idle: IdleStream): boolean {
    const index = entry.idle.indexOf(idle);
    if (index < 0) return false; // already claimed or dropped
    entry.idle.splice(index, 1);
    idle.replica.idle--;
    this.forgetReplicaIfEmpty(entry, idle.replica);
    return true;
  }

  private forgetReplicaIfEmpty(entry: AgentEntry, replica: ReplicaState): void {
    if (replica.idle + replica.busy === 0) entry.replicas.delete(replica.instanceId);
  }

  private entryFor(identity: AgentIdentity): AgentEntry {
    let entry = this.agents.get(identity.agentId);
    if (!entry) {
      entry = { identity, idle: [], waiters: [], replicas: new Map() };
      this.agents.set(identity.agentId, entry);
    } else if (identity.agentName) {
      entry.identity = identity;
    }
    return entry;
  }

  private replicaFor(entry: AgentEntry, descriptor: AgentDescriptor): ReplicaState {
    const instanceId = descriptor.instanceId || `${descriptor.podNamespace ?? ''}/${descriptor.podName ?? ''}`;
    let replica = entry.replicas.get(instanceId);
    if (!replica) {
      // Read from the descriptor when asked: a reference agent's descriptor names its pod only
      // once a GetConfiguration on its connection told kas (reference/kas_translator.ts).
      replica = {
        instanceId,
        get podName() {
          return descriptor.podName ?? '';
        },
        get podNamespace() {
          return descriptor.podNamespace ?? '';
        },
        get version() {
          return descriptor.version ?? '';
        },
        connectedSince: new Date(),
        idle: 0,
        busy: 0,
        dead: false,
      };
      entry.replicas.set(instanceId, replica);
    }
    return replica;
  }
}
