// Connected agentk replicas as kas sees them: through their configuration streams (each agentk
// keeps exactly one open, so an open stream is a connected replica), the registrations of newer
// reference agents (AgentRegistrar/Register, kept until they expire), their tunnel streams, and,
// with several kas replicas, what the others publish. Feeds the REST API, the tunnel tracker and
// the connected-agents metrics.
import type { ConnectedAgent } from '../reverse_tunnel/server/registry';
import { addConnectionCountSource } from './metrics';
import type { AgentConnection } from '../../shared/kas_api';

export type { AgentConnection };

export class AgentConnectionTracker {
  private readonly byAgent = new Map<number, Set<AgentConnection>>();

  /** Records a connection; call the returned function when it closes. */
  add(agentId: number, connection: Omit<AgentConnection, 'connectedSince'>): () => void {
    const entry: AgentConnection = { ...connection, connectedSince: new Date().toISOString() };
    const set = this.byAgent.get(agentId) ?? new Set();
    set.add(entry);
    this.byAgent.set(agentId, set);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.byAgent.get(agentId) === set) this.byAgent.delete(agentId);
    };
  }

  agentIds(): number[] {
    return [...this.byAgent.keys()];
  }

  connectionsOf(agentId: number): AgentConnection[] {
    return [...(this.byAgent.get(agentId) ?? [])].map((c) => ({ ...c }));
  }
}

/**
 * One entry per agentk pod, whatever order the sources come in (this replica's own view first or
 * another's): the earliest connectedSince and the first non-empty version win, sorted by
 * namespace and name, so every replica gives the same answer for the same records.
 */
export function mergeByPod(connections: AgentConnection[]): AgentConnection[] {
  const byPod = new Map<string, AgentConnection>();
  for (const c of connections) {
    const key = `${c.podNamespace}/${c.podName}`;
    const known = byPod.get(key);
    if (!known) {
      byPod.set(key, { ...c });
      continue;
    }
    if (c.connectedSince < known.connectedSince) known.connectedSince = c.connectedSince;
    if (!known.version) known.version = c.version;
  }
  return [...byPod.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
}

/** Where connections are known from: this replica's tunnels, and (optionally) the other replicas. */
export interface ConnectionSources {
  tunnels: { connectedAgents(): ConnectedAgent[] };
}

export interface ProjectAgent {
  agentId: string;
  agentName: string;
  connections: AgentConnection[];
}

/** What the other kas replicas know (the replicas module reads it from Redis). */
export interface RemoteConnections {
  connectionsOf(agentId: number): AgentConnection[];
  agentsOfProject(configProject: string): Promise<ProjectAgent[]>;
}

/** Every connected agentk replica, merged by pod from all sources; also the kas_*_connections gauges. */
export class AgentConnections {
  readonly configStreams = new AgentConnectionTracker();
  private remote: RemoteConnections | undefined;
  private readonly changeListeners = new Set<(agentId: number) => void>();
  private readonly removeCountSource = addConnectionCountSource(() => this.counts());
  /** Live registrations by agent id and pod id: their meta, how to forget them, and their expiry timer. */
  private readonly registrations = new Map<
    string,
    { meta: Omit<AgentConnection, 'connectedSince'>; remove: () => void; timer: NodeJS.Timeout }
  >();

  constructor(private readonly sources: ConnectionSources) {}

  /** Records an open configuration stream; returns the function to call when it closes. */
  trackConfigStream(agentId: number, meta: Omit<AgentConnection, 'connectedSince'>): () => void {
    const remove = this.configStreams.add(agentId, meta);
    this.notifyChange(agentId);
    return () => {
      remove();
      this.notifyChange(agentId);
    };
  }

  /**
   * Records a registered replica (the reference's Register: one per agentk pod, repeated
   * periodically) until `ttlMs` passes without another registration of the same pod id. A
   * repeated registration with the same meta keeps the replica's connectedSince.
   */
  trackRegistration(agentId: number, podId: string, meta: Omit<AgentConnection, 'connectedSince'>, ttlMs: number): void {
    const key = `${agentId}/${podId}`;
    const known = this.registrations.get(key);
    if (known) clearTimeout(known.timer);
    const same =
      known && known.meta.podName === meta.podName && known.meta.podNamespace === meta.podNamespace && known.meta.version === meta.version;
    if (known && !same) known.remove();
    const remove = same ? known.remove : this.trackConfigStream(agentId, meta);
    const timer = setTimeout(() => {
      this.registrations.delete(key);
      remove();
    }, ttlMs);
    timer.unref();
    this.registrations.set(key, { meta, remove, timer });
  }

  /** With several kas replicas: the connections the others publish. */
  setRemote(remote: RemoteConnections | undefined): void {
    this.remote = remote;
  }

  /** A config project's agents connected to any kas replica; rejects while the replicas' shared view cannot be read. */
  async agentsOfProject(configProject: string): Promise<ProjectAgent[]> {
    if (!this.remote) throw new Error('no other kas replicas: only this replica knows its connections');
    return (await this.remote.agentsOfProject(configProject)).map((agent) => ({ ...agent, connections: mergeByPod(agent.connections) }));
  }

  /** Called when a configuration stream of the agent opens or closes here. */
  onChange(listener: (agentId: number) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** One entry per agentk replica connected to this kas replica: tunnels and configuration stream, by pod. */
  localConnectionsOf(agentId: number): AgentConnection[] {
    const byPod = new Map<string, AgentConnection>();
    const replicas = this.sources.tunnels.connectedAgents().find((a) => a.agentId === String(agentId))?.replicas ?? [];
    for (const r of replicas) {
      byPod.set(`${r.podNamespace}/${r.podName}`, {
        podName: r.podName,
        podNamespace: r.podNamespace,
        version: r.version,
        connectedSince: r.connectedSince.toISOString(),
      });
    }
    for (const c of this.configStreams.connectionsOf(agentId)) {
      const key = `${c.podNamespace}/${c.podName}`;
      const known = byPod.get(key);
      if (!known || c.connectedSince < known.connectedSince) byPod.set(key, { ...c, version: known?.version || c.version });
    }
    return [...byPod.values()];
  }

  /** Every replica of the agent, whichever kas replica it is connected to. */
  connectionsOf(agentId: number): AgentConnection[] {
    return mergeByPod([...this.localConnectionsOf(agentId), ...(this.remote?.connectionsOf(agentId) ?? [])]);
  }

  /** Agents with a tunnel or a configuration stream open to this kas replica. */
  localAgentIds(): number[] {
    return [...new Set([...this.configStreams.agentIds(), ...this.sources.tunnels.connectedAgents().map((a) => Number(a.agentId))])];
  }

  counts(): { agents: number; replicas: number } {
    const agentIds = this.localAgentIds();
    let replicas = 0;
    for (const id of agentIds) replicas += this.connectionsOf(id).length;
    return { agents: agentIds.length, replicas };
  }

  close(): void {
    for (const registration of this.registrations.values()) clearTimeout(registration.timer);
    this.registrations.clear();
    this.removeCountSource();
    this.changeListeners.clear();
  }

  private notifyChange(agentId: number): void {
    for (const listener of this.changeListeners) listener(agentId);
  }
}
