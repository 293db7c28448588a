// kas: the reverse HTTP/1.1 connections agents dialed in, per agent. Each connection is one
// keep-alive HTTP/1.1 client connection (an undici Client whose `connect` hands out the dialed-in
// socket, once): one request at a time, never queued behind another (a watch would hold it).
//   take     an idle connection, now; or wait for one (agentk dials more when its idle ones run low)
//   release  back to idle after a complete exchange
//   detach   out of the pool for good: an upgraded request owns it, or it broke
// Max connection age: a connection older than maxAgeMs is handed out no more; it closes when idle,
// or is cut after the grace period; agentk dials a fresh one.
//
// Liveness: a frozen agentk (SIGSTOP, a stalled node) keeps its TCP connections up (its kernel
// answers keepalive), and HTTP/1.1 has no ping on a connection a request is on. So kas judges
// each agentk process (the instance id it dials with) as a whole, by the bytes its connections
// brought: an instance silent for keepaliveTimeMs, or holding a request that saw no answer byte
// for FIRST_BYTE_PROBE_MS, is probed (protocol.ts: OPTIONS with X-Kas-Probe, on one of its idle
// connections). If nothing at all arrived from the instance within keepaliveTimeoutMs, every
// connection of it is closed: out of routing, its unanswered requests replayed or failed by the
// route's rules, its watches and logs -f cut. If other bytes arrived but the probe's own answer
// did not, only that (idle) connection is closed. A process whose connections brought bytes
// within the period is not probed (the answers to kas's requests are the sign of life), and the
// silence check is spread over the period: each process is looked at once per keepaliveTimeMs, in
// one of SWEEP_SLOTS slots, so thousands of idle agents are not all probed in the same turn.
// The verdict is the process's, on every
// transport: onInstanceDead (the gRPC tunnel's streams of it leave routing too); and when the
// gRPC tunnel's ping loses a connection of the process, suspect() probes it here at once.
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { Client } from 'undici';
import { setAwakeTimeout, type AwakeTimeout } from '../../../internal/awake_timeout';
import type { Logger } from '../../../internal/log';
import { FIRST_BYTE_PROBE_MS } from '../../kubernetes_api/server/tunnel_exchange';
import { DEFAULT_POOL_SETTINGS } from '../../reverse_tunnel/agent/pool';
import { PROBE_HEADER, type HttpTunnelAgentMeta } from '../protocol';
import { httpTunnelCountSources, httpTunnelProbes, type HttpTunnelCounts } from './metrics';

export interface HttpTunnelConnection {
  readonly agentId: string;
  readonly client: Client;
  readonly socket: Duplex;
  readonly openedAt: number;
  state: 'idle' | 'busy' | 'draining' | 'gone';
  /** Armed while the connection is idle beyond the agent's minIdle. */
  idleTimer?: NodeJS.Timeout;
  /** The agentk process it belongs to (judged alive or dead as a whole). */
  readonly instance: AgentInstance;
  /** When kas sent the request on it that has not seen an answer byte yet; 0 when none. */
  awaitingSince: number;
  /** Fires FIRST_BYTE_PROBE_MS after the last request sent (re-armed, never re-made). */
  firstByteTimer?: NodeJS.Timeout;
}

/** One agentk process's connections (by the instance id it dialed with). */
interface AgentInstance {
  readonly key: string;
  /** Which of the silence check's slots looks at it. */
  readonly slot: number;
  readonly connections: Set<HttpTunnelConnection>;
  readonly meta?: HttpTunnelAgentMeta;
  /** Bytes read on its connections (those still open) at the last look, and when that last grew. */
  bytesRead: number;
  heardAt: number;
  probe?: Probe;
}

interface Probe {
  /** Bytes read on each of the instance's connections when it started. */
  bytesAtStart: Map<HttpTunnelConnection, number>;
  timer: AwakeTimeout;
  /** The connection the probe request went on (none when the instance had no idle one). */
  connection?: HttpTunnelConnection;
  answered: boolean;
}

export interface HttpTunnelRegistryOptions {
  /** Connections older than this are recycled; default 2 h (agent.listen.max_connection_age). */
  maxAgeMs?: number;
  /** How long a recycled connection may still carry its request; default 10 min. */
  graceMs?: number;
  /** An agentk from which nothing arrived for this long is probed; default 5 s. */
  keepaliveTimeMs?: number;
  /** A probe with no byte from the agentk within this long closes its connections; default 4 s. */
  keepaliveTimeoutMs?: number;
  /** Told when a probe judged an agentk process (by its instance id) dead, before its connections close. */
  onInstanceDead?: (agentId: string, instanceId: string) => void;
  logger?: Logger;
}

export class HttpTunnelWaitAbortedError extends Error {
  override name = 'TunnelWaitAbortedError';
}

export class NoHttpTunnelError extends Error {
  override name = 'NoHttpTunnelError';
}

/** The agent's last connection here went while a request waited for one (it may take the tunnel instead). */
export class HttpTunnelsGoneError extends Error {
  override name = 'HttpTunnelsGoneError';
}

/** Never used for an idle connection: kas closes what it recycles, agentk what it no longer needs. */
const NO_IDLE_TIMEOUT_MS = 2 ** 31 - 1;
const DEFAULT_MAX_AGE_MS = 2 * 3600_000;
const DEFAULT_GRACE_MS = 10 * 60_000;
// As the gRPC tunnel's HTTP/2 PING (reverse_tunnel/server/agent_server.ts): a probe of a silent
// agentk every 5 s costs one tiny request per agentk process, not per connection.
const DEFAULT_KEEPALIVE_MS = 5_000;
const DEFAULT_KEEPALIVE_TIMEOUT_MS = 4_000;
const PROBE_HEADERS = [PROBE_HEADER, '1'];
/**
 * The silence check runs SWEEP_SLOTS times per keepaliveTimeMs, each time over one slot's
 * processes: with all idle agents probed in one turn, 10,000 probes (and their judge timers)
 * went out at once every other period, a burst a proxied request could wait behind.
 */
const SWEEP_SLOTS = 50;
/** Never a tick shorter than this: a short keepaliveTimeMs (tests) has fewer slots. */
const MIN_SWEEP_TICK_MS = 10;

function bytesReadOf(connection: HttpTunnelConnection): number {
  return (connection.socket as net.Socket).bytesRead ?? 0;
}

interface Waiter {
  resolve(connection: HttpTunnelConnection): void;
  reject(err: Error): void;
  untilGone: boolean;
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
  private readonly instances = new Map<string, AgentInstance>();
  /** The instances by silence-check slot; a new instance takes the next slot in turn. */
  private readonly slots: Array<Set<AgentInstance>>;
  private nextSlot = 0;
  private sweepSlot = 0;
  private readonly keepaliveTimeMs: number;
  private readonly keepaliveTimeoutMs: number;
  private readonly liveness: NodeJS.Timeout;
  private readonly logger: Logger | undefined;
  private readonly onInstanceDead: ((agentId: string, instanceId: string) => void) | undefined;
  private nextAnonymous = 0;
  private readonly countSource = () => this.counts();

  constructor(options: HttpTunnelRegistryOptions = {}) {
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.keepaliveTimeMs = options.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_MS;
    this.keepaliveTimeoutMs = options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS;
    this.logger = options.logger;
    this.onInstanceDead = options.onInstanceDead;
    this.sweeper = setInterval(() => this.recycleOld(), Math.max(50, Math.min(60_000, this.maxAgeMs / 4)));
    this.sweeper.unref();
    // Silence is sampled once per keepaliveTimeMs (one slot per tick): a frozen idle agentk is
    // probed within 2 × that.
    const slotCount = Math.max(1, Math.min(SWEEP_SLOTS, Math.floor(this.keepaliveTimeMs / MIN_SWEEP_TICK_MS)));
    this.slots = Array.from({ length: slotCount }, () => new Set<AgentInstance>());
    this.liveness = setInterval(() => this.probeSilent(), this.keepaliveTimeMs / slotCount);
    this.liveness.unref();
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
    const instance = this.instanceOf(agentId, meta);
    const connection: HttpTunnelConnection = { agentId, client, socket, openedAt: Date.now(), state: 'idle', instance, awaitingSince: 0 };
    instance.connections.add(connection);
    instance.heardAt = Date.now();
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
    for (let connection = agent?.idle.pop(); connection; connection = agent?.idle.pop()) {
      // A socket destroyed (agentk died: the reset) leaves the pool on its 'close', a later tick;
      // handed out meanwhile, it would fail a replayed request.
      if (connection.socket.destroyed) {
        this.detach(connection);
        continue;
      }
      connection.state = 'busy';
      return connection;
    }
    return undefined;
  }

  /** Whether this kas holds connections of the agent (idle or not): then a request waits for one. */
  serves(agentId: string): boolean {
    return (this.agents.get(agentId)?.all.size ?? 0) > 0;
  }

  /**
   * Waits for an idle connection of the agent, up to timeoutMs; with untilGone, only while the
   * agent has connections here (HttpTunnelsGoneError when its last one goes).
   */
  wait(agentId: string, timeoutMs: number, signal?: AbortSignal, untilGone = false): Promise<HttpTunnelConnection> {
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
        untilGone,
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

  /** kas sent a request on the connection: no answer byte within FIRST_BYTE_PROBE_MS probes its agentk. */
  sent(connection: HttpTunnelConnection): void {
    connection.awaitingSince = Date.now();
    if (connection.firstByteTimer) connection.firstByteTimer.refresh();
    else {
      connection.firstByteTimer = setTimeout(() => {
        if (connection.awaitingSince !== 0 && connection.state !== 'gone') this.probe(connection.instance);
      }, FIRST_BYTE_PROBE_MS);
      connection.firstByteTimer.unref();
    }
  }

  /** The request on the connection got its first answer byte (or ended). */
  answered(connection: HttpTunnelConnection): void {
    connection.awaitingSince = 0;
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
    clearTimeout(connection.firstByteTimer);
    const { instance } = connection;
    instance.connections.delete(connection);
    if (instance.probe && instance.probe.connection === connection) instance.probe.connection = undefined;
    if (instance.connections.size === 0) {
      instance.probe?.timer.cancel();
      this.forget(instance);
    }
    const agent = this.agents.get(connection.agentId);
    if (!agent) return;
    agent.all.delete(connection);
    const index = agent.idle.indexOf(connection);
    if (index >= 0) agent.idle.splice(index, 1);
    if (agent.all.size > 0) return;
    for (const waiter of agent.waiters.filter((w) => w.untilGone))
      waiter.reject(new HttpTunnelsGoneError(`agent ${connection.agentId} has no connection here`));
    if (agent.waiters.length === 0) this.agents.delete(connection.agentId);
  }

  counts(): HttpTunnelCounts[] {
    return [...this.agents].map(([agentId, agent]) => ({ agentId, idle: agent.idle.length, busy: agent.all.size - agent.idle.length }));
  }

  /** The agent's agentk processes (by instance id) with their connections here. */
  instancesOf(agentId: string): Array<{ podName: string; instanceId: string; idle: number; busy: number }> {
    const out = [];
    for (const instance of this.instances.values()) {
      const first = instance.connections.values().next().value as HttpTunnelConnection | undefined;
      if (first?.agentId !== agentId) continue;
      let idle = 0;
      for (const connection of instance.connections) if (connection.state === 'idle') idle++;
      out.push({
        podName: instance.meta?.podName ?? '',
        instanceId: instance.meta?.instanceId ?? '',
        idle,
        busy: instance.connections.size - idle,
      });
    }
    return out;
  }

  /**
   * Another transport lost this agentk process (its gRPC connection's ping went unanswered): probe
   * it now rather than at the next silence check; the probe's verdict closes its connections here.
   * Not closed at once: one lost connection does not prove the process dead, and closing cuts the
   * answers its connections are streaming.
   */
  suspect(agentId: string, instanceId: string): void {
    const instance = this.instances.get(`${agentId}\n${instanceId}`);
    if (instance) this.probe(instance);
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
    clearInterval(this.liveness);
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

  private instanceOf(agentId: string, meta: HttpTunnelAgentMeta | undefined): AgentInstance {
    // Without an instance id (not our agentk), each connection is judged on its own.
    const key = meta?.instanceId ? `${agentId}\n${meta.instanceId}` : `${agentId}\n#${this.nextAnonymous++}`;
    let instance = this.instances.get(key);
    if (!instance) {
      instance = { key, slot: this.nextSlot, connections: new Set(), meta, bytesRead: 0, heardAt: Date.now() };
      this.nextSlot = (this.nextSlot + 1) % this.slots.length;
      this.instances.set(key, instance);
      this.slots[instance.slot]!.add(instance);
    }
    return instance;
  }

  /** Bytes read on the instance's open connections now; notes when they last grew. */
  private sample(instance: AgentInstance, now: number): number {
    let total = 0;
    for (const connection of instance.connections) total += bytesReadOf(connection);
    if (total !== instance.bytesRead) {
      instance.bytesRead = total;
      instance.heardAt = now;
    }
    return total;
  }

  private forget(instance: AgentInstance): void {
    this.instances.delete(instance.key);
    this.slots[instance.slot]!.delete(instance);
  }

  /** One slot's processes: each is looked at once per keepaliveTimeMs. */
  private probeSilent(): void {
    const now = Date.now();
    const slot = this.slots[this.sweepSlot]!;
    this.sweepSlot = (this.sweepSlot + 1) % this.slots.length;
    for (const instance of slot) {
      this.sample(instance, now);
      if (!instance.probe && now - instance.heardAt >= this.keepaliveTimeMs) this.probe(instance);
    }
  }

  /** Asks the agentk for a sign of life (unless a probe is out already); see the file's header. */
  private probe(instance: AgentInstance): void {
    if (instance.probe || instance.connections.size === 0) return;
    const bytesAtStart = new Map<HttpTunnelConnection, number>();
    for (const connection of instance.connections) bytesAtStart.set(connection, bytesReadOf(connection));
    // Time kas itself was stalled does not count against the agentk (awake_timeout.ts).
    const probe: Probe = {
      bytesAtStart,
      answered: false,
      timer: setAwakeTimeout(() => this.judge(instance, probe), this.keepaliveTimeoutMs),
    };
    probe.timer.unref();
    instance.probe = probe;
    const agent = this.agents.get([...instance.connections][0]!.agentId);
    const index = agent ? agent.idle.findIndex((c) => c.instance === instance) : -1;
    if (!agent || index < 0) return; // none idle: any byte on its busy connections answers
    const [connection] = agent.idle.splice(index, 1) as [HttpTunnelConnection];
    connection.state = 'busy';
    probe.connection = connection;
    const handler: Dispatcher.DispatchHandler = {
      onConnect: () => undefined,
      onHeaders: () => true,
      onData: () => true,
      onComplete: () => {
        probe.answered = true;
        httpTunnelProbes.labels('answered').inc();
        if (instance.probe === probe) this.settleProbe(instance, probe);
        this.release(connection);
      },
      onError: () => this.close(connection),
    };
    connection.client.dispatch({ method: 'OPTIONS', path: '/', headers: PROBE_HEADERS, body: null }, handler);
  }

  private settleProbe(instance: AgentInstance, probe: Probe): void {
    probe.timer.cancel();
    instance.probe = undefined;
    instance.heardAt = Date.now();
  }

  /** keepaliveTimeoutMs after a probe started: nothing heard from the instance → all its connections go. */
  private judge(instance: AgentInstance, probe: Probe): void {
    if (instance.probe !== probe) return;
    instance.probe = undefined;
    const now = Date.now();
    this.sample(instance, now);
    // A byte on any of its connections, or a connection it dialed since, is a sign of life.
    let heard = false;
    for (const connection of instance.connections) {
      const before = probe.bytesAtStart.get(connection);
      if (before === undefined || bytesReadOf(connection) > before) heard = true;
    }
    if (heard) {
      instance.heardAt = now;
      // The process lives, but this connection did not carry the answer: it alone is broken.
      if (probe.connection && !probe.answered) {
        httpTunnelProbes.labels('connection_closed').inc();
        this.close(probe.connection);
      }
      return;
    }
    httpTunnelProbes.labels('agent_closed').inc();
    const connections = [...instance.connections];
    this.logger?.warn('agentk did not answer a liveness probe: its reverse HTTP/1.1 connections are closed', {
      agentId: connections[0]?.agentId,
      connections: connections.length,
      timeoutMs: this.keepaliveTimeoutMs,
    });
    // Out of routing before any request moves: the process's gRPC streams first (forgotten here
    // first, so that the other transport's word comes back to nothing), then all its connections
    // here, so no replay or waiting request lands on the same process, on either transport.
    this.forget(instance);
    const instanceId = instance.meta?.instanceId;
    if (instanceId && connections[0]) this.onInstanceDead?.(connections[0].agentId, instanceId);
    for (const connection of connections) this.detach(connection);
    for (const connection of connections) this.close(connection);
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
