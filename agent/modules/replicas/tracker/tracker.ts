// Which replicas hold which agents: per agent a Redis hash, field = a replica's private API URL,
// value = that replica's record (does it hold tunnels, has it an idle one, the agentk replicas
// connected to it, the agent's name and config project), with an expiry inside the value so a
// replica that died without cleaning up is ignored after the TTL. Per config project a second
// hash indexes the connected agents (field "<agent id> <replica URL>", value its expiry), written
// in the same transaction, so a project's connected agents are found without a SCAN. Every replica keeps the whole view in memory, loaded by SCAN at start
// and on every reconnect/refresh, and kept current by PUBLISH notifications: routing a request
// reads memory only, so steady state costs Redis nothing per request, and a waiting request is
// woken by a notification instead of polling.
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from '../../../internal/log';
import type { AgentConnection } from '../../agent_registry/connections';

export interface LocalAgentState {
  tunnels: number;
  idleTunnels: number;
  connections: AgentConnection[];
  /** The agent's name here ('' when this replica does not know it). */
  agentName: string;
}

export interface ReplicaRecord {
  hasTunnels: boolean;
  hasIdleTunnel: boolean;
  connections: AgentConnection[];
  /** Absent in records written by older replicas. */
  agentName?: string;
  configProject?: string;
  expiresAt: number;
}

/** An agent connected to some replica, as the shared registry knows it. */
export interface RegisteredAgent {
  agentId: string;
  agentName: string;
  /** Each record's connections, per replica (merge by pod for one list). */
  connections: AgentConnection[];
}

interface Notification {
  agentId: string;
  url: string;
  record: ReplicaRecord | null;
}

export interface TunnelTrackerOptions {
  /** Commands. */
  redis: Redis;
  /** A second connection: a subscribed connection can run no other commands. */
  subscriber: Redis;
  keyPrefix: string;
  /** This replica's private API URL, the name other replicas route to. */
  ownUrl: string;
  /** The config project (registry.project_id) the agents of this replica come from. */
  configProject: string;
  refreshMs: number;
  ttlMs: number;
  localState(agentId: string): LocalAgentState;
  localAgentIds(): string[];
  logger: Logger;
}

export class TunnelTracker {
  private readonly view = new Map<string, Map<string, ReplicaRecord>>();
  /** What this replica last wrote per agent (JSON without expiry), to write only on change. */
  private readonly published = new Map<string, string>();
  private readonly pending = new Set<string>();
  private readonly mustAnnounce = new Set<string>();
  private readonly events = new EventEmitter();
  private flushScheduled = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly followUps = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly channel: string;

  constructor(private readonly options: TunnelTrackerOptions) {
    this.channel = `${options.keyPrefix}:agent_replicas`;
    this.events.setMaxListeners(0);
  }

  /** Connects (or keeps retrying in the background when Redis is not there yet). */
  async start(): Promise<void> {
    const { redis, subscriber } = this.options;
    subscriber.on('message', (channel: string, message: string) => this.onNotification(channel, message));
    // 'ready' also fires after every reconnect: re-register what this replica holds, reload the view.
    redis.on('ready', () => this.resynchroniseAfterReconnect('Redis connection ready'));
    subscriber.on('ready', () => {
      // Subscribing twice is harmless; ioredis also resubscribes by itself after a reconnect.
      subscriber.subscribe(this.channel).then(
        () => this.resynchroniseAfterReconnect('Redis subscription ready'),
        () => undefined,
      );
    });
    for (const connection of [redis, subscriber])
      connection.on('error', (err: Error) => this.options.logger.debug('Redis connection error', { err: err.message }));
    // A failed first connect is retried in the background (retryStrategy): kas starts without Redis.
    await Promise.all([redis.connect().catch(() => undefined), subscriber.connect().catch(() => undefined)]);
    this.refreshTimer = setInterval(() => void this.resynchronise(), this.options.refreshMs);
    this.refreshTimer.unref();
  }

  /** Both connections usable: routing and the shared agent list are complete. */
  get healthy(): boolean {
    return this.options.redis.status === 'ready' && this.options.subscriber.status === 'ready';
  }

  /**
   * Something about the agent changed here; its record is rewritten if its content differs, or
   * anyway with `announce` (another replica is waiting for a tunnel of this agent).
   */
  markChanged(agentId: string, announce = false): void {
    this.pending.add(agentId);
    if (announce) this.mustAnnounce.add(agentId);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const agentIds = [...this.pending];
      this.pending.clear();
      for (const id of agentIds) void this.publishIfChanged(id, this.mustAnnounce.delete(id));
    });
  }

  /** Other replicas that hold tunnels to the agent (memory only). */
  replicasWithTunnels(agentId: string): string[] {
    return this.liveRecords(agentId)
      .filter(([, r]) => r.hasTunnels)
      .map(([url]) => url);
  }

  /**
   * The agents of a config project connected to any replica, read from Redis (the project index,
   * then each agent's records in one pipeline); throws when Redis cannot answer.
   */
  async connectedAgentsOfProject(configProject: string): Promise<RegisteredAgent[]> {
    const { redis } = this.options;
    const now = Date.now();
    const index = await redis.hgetall(this.projectKey(configProject));
    const expired = Object.entries(index)
      .filter(([, expiresAt]) => Number(expiresAt) <= now)
      .map(([field]) => field);
    // Entries of replicas that died: the key itself lives on while others refresh it.
    if (expired.length > 0) void redis.hdel(this.projectKey(configProject), ...expired).catch(() => undefined);
    const agentIds = [
      ...new Set(
        Object.entries(index)
          .filter(([, expiresAt]) => Number(expiresAt) > now)
          .map(([field]) => field.split(' ')[0]!),
      ),
    ].sort((a, b) => Number(a) - Number(b));
    if (agentIds.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const agentId of agentIds) pipeline.hgetall(this.key(agentId));
    const replies = (await pipeline.exec()) ?? [];
    return agentIds.flatMap((agentId, i) => {
      const [err, fields] = replies[i] ?? [new Error('no reply'), undefined];
      if (err) throw err;
      const records = Object.values(fields as Record<string, string>)
        .map((json) => JSON.parse(json) as ReplicaRecord)
        .filter((r) => r.expiresAt > now && r.configProject === configProject);
      if (records.length === 0) return [];
      return [
        { agentId, agentName: records.find((r) => r.agentName)?.agentName ?? '', connections: records.flatMap((r) => r.connections) },
      ];
    });
  }

  /** agentk replicas connected to other replicas (memory only). */
  remoteConnections(agentId: string): AgentConnection[] {
    return this.liveRecords(agentId).flatMap(([, r]) => r.connections);
  }

  /** Calls `listener` whenever another replica says it has an idle tunnel to the agent. */
  onIdleTunnelElsewhere(agentId: string, listener: () => void): () => void {
    this.events.on(agentId, listener);
    return () => this.events.off(agentId, listener);
  }

  /** Removes this replica's records (a clean stop; a crash is covered by the expiry). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.refreshTimer);
    for (const timer of this.followUps) clearTimeout(timer);
    const { redis, subscriber } = this.options;
    if (redis.status === 'ready') {
      const multi = redis.multi();
      for (const agentId of this.published.keys()) {
        multi.hdel(this.key(agentId), this.options.ownUrl);
        multi.hdel(this.projectKey(this.options.configProject), this.projectField(agentId));
        multi.publish(this.channel, JSON.stringify({ agentId, url: this.options.ownUrl, record: null } satisfies Notification));
      }
      await multi.exec().catch(() => undefined);
    }
    subscriber.disconnect();
    redis.disconnect();
  }

  private liveRecords(agentId: string): Array<[string, ReplicaRecord]> {
    const now = Date.now();
    return [...(this.view.get(agentId) ?? [])].filter(([url, r]) => url !== this.options.ownUrl && r.expiresAt > now);
  }

  private key(agentId: string): string {
    return `${this.options.keyPrefix}:agent_replicas:${agentId}`;
  }

  private projectKey(configProject: string): string {
    return `${this.options.keyPrefix}:config_project_agents:${configProject}`;
  }

  private projectField(agentId: string): string {
    return `${agentId} ${this.options.ownUrl}`;
  }

  private recordBody(agentId: string): Omit<ReplicaRecord, 'expiresAt'> | null {
    const state = this.options.localState(agentId);
    if (state.tunnels === 0 && state.connections.length === 0) return null;
    return {
      hasTunnels: state.tunnels > 0,
      hasIdleTunnel: state.idleTunnels > 0,
      connections: state.connections,
      agentName: state.agentName,
      configProject: this.options.configProject,
    };
  }

  private async publishIfChanged(agentId: string, announce: boolean): Promise<void> {
    const body = this.recordBody(agentId);
    const text = JSON.stringify(body);
    if ((this.published.get(agentId) ?? 'null') === text && !(announce && body?.hasIdleTunnel)) return;
    await this.write(agentId, body);
  }

  /** HSET/HDEL the record and its project index entry, keep the keys alive, tell the other replicas. */
  private async write(agentId: string, body: Omit<ReplicaRecord, 'expiresAt'> | null): Promise<void> {
    if (this.stopped) return;
    const { redis, ownUrl, ttlMs } = this.options;
    const record = body ? { ...body, expiresAt: Date.now() + ttlMs } : null;
    const multi = redis.multi();
    const projectKey = this.projectKey(this.options.configProject);
    if (record) {
      multi.hset(this.key(agentId), ownUrl, JSON.stringify(record)).pexpire(this.key(agentId), ttlMs);
      multi.hset(projectKey, this.projectField(agentId), String(record.expiresAt)).pexpire(projectKey, ttlMs);
    } else {
      multi.hdel(this.key(agentId), ownUrl).hdel(projectKey, this.projectField(agentId));
    }
    multi.publish(this.channel, JSON.stringify({ agentId, url: ownUrl, record } satisfies Notification));
    try {
      await multi.exec();
      if (body) this.published.set(agentId, JSON.stringify(body));
      else this.published.delete(agentId);
    } catch (err) {
      // Written again on reconnect (resynchronise), from the state at that time.
      this.options.logger.debug('could not write a tunnel tracker record', { agentId, err: String(err) });
    }
  }

  /**
   * After a reconnect the replicas come back in any order: one may reload its view before another
   * has written its records again, or write them before the first has resubscribed. Once more a
   * second later and after five closes that window without waiting for the refresh period.
   */
  private resynchroniseAfterReconnect(reason: string): void {
    void this.resynchronise(reason);
    for (const delayMs of [1_000, 5_000]) {
      const timer = setTimeout(() => {
        this.followUps.delete(timer);
        void this.resynchronise();
      }, delayMs);
      timer.unref();
      this.followUps.add(timer);
    }
  }

  /** Rewrites every record of this replica (refreshing expiry) and reloads the whole view. */
  private async resynchronise(reason?: string): Promise<void> {
    if (this.stopped || this.options.redis.status !== 'ready') return;
    if (reason) this.options.logger.info('tunnel tracker resynchronising', { reason });
    const agentIds = new Set([...this.options.localAgentIds(), ...this.published.keys()]);
    for (const agentId of agentIds) await this.write(agentId, this.recordBody(agentId));
    await this.loadView().catch((err: unknown) =>
      this.options.logger.debug('could not load the tunnel tracker view', { err: String(err) }),
    );
  }

  private async loadView(): Promise<void> {
    const { redis, keyPrefix } = this.options;
    const prefix = `${keyPrefix}:agent_replicas:`;
    const fresh = new Map<string, Map<string, ReplicaRecord>>();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const fields = await redis.hgetall(key);
        const records = new Map<string, ReplicaRecord>();
        for (const [url, json] of Object.entries(fields)) records.set(url, JSON.parse(json) as ReplicaRecord);
        fresh.set(key.slice(prefix.length), records);
      }
    } while (cursor !== '0');
    this.view.clear();
    for (const [agentId, records] of fresh) {
      this.view.set(agentId, records);
      if ([...records].some(([url, r]) => url !== this.options.ownUrl && r.hasIdleTunnel)) this.events.emit(agentId);
    }
  }

  private onNotification(channel: string, message: string): void {
    if (channel !== this.channel) return;
    let notification: Notification;
    try {
      notification = JSON.parse(message) as Notification;
    } catch {
      return;
    }
    const records = this.view.get(notification.agentId) ?? new Map<string, ReplicaRecord>();
    if (notification.record) records.set(notification.url, notification.record);
    else records.delete(notification.url);
    this.view.set(notification.agentId, records);
    if (notification.url !== this.options.ownUrl && notification.record?.hasIdleTunnel) this.events.emit(notification.agentId);
  }
}
