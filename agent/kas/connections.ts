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
