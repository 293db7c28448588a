// Connected agentk replicas as kas sees them through their configuration streams: each agentk
// keeps exactly one open, so an open stream is a connected replica. Feeds the REST API and the
// connected-agents metrics (merged with the reverse tunnel's replicas in index.ts).

export interface AgentConnection {
  podName: string;
  podNamespace: string;
  version: string;
  connectedSince: string;
}

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
