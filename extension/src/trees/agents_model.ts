// The Agents view's data: connection → agent → namespace → pod → container. children() answers
// synchronously from caches (agents and namespaces: stale-while-revalidate; pods: a live feed
// kept by watch) and starts background work; `onChange` fires when something landed.
import type { ConnectionRecord } from '../connections/connection_store';
import type { Session } from '../connections/sessions';
import { SwrCache } from '../cache/swr_cache';
import { userMessage } from '../kas_client/errors';
import type { AgentInfo } from '../kas_client/kas_api';
import { podName, type KubeClient } from '../kas_client/kube_client';
import { containerNames } from './format';
import type { AgentNode, AgentsNode, ConnectionNode, MessageNode, NamespaceNode, PodNode } from './nodes';
import { nodeId } from './nodes';
import { PodFeed } from './pod_feed';

export interface AgentsModelDeps {
  connections: () => ConnectionRecord[];
  session: (connectionId: string) => Promise<Session>;
  onChange: () => void;
  /** How long cached agent and namespace lists stay fresh. */
  maxAgeMs?: number;
  /** Agent status has no watch API in kas: how often it is re-read (faster while any agent is offline). */
  agentPollMs?: { allConnected: number; someOffline: number };
}

const DEFAULT_AGENT_POLL = { allConnected: 15_000, someOffline: 3_000 };
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class AgentsModel {
  private readonly agents: SwrCache<AgentInfo[]>;
  private readonly namespaces: SwrCache<string[]>;
  private readonly feeds = new Map<string, PodFeed>();
  private readonly agentPolls = new Map<string, NodeJS.Timeout>();

  constructor(private readonly deps: AgentsModelDeps) {
    this.agents = new SwrCache<AgentInfo[]>(() => deps.onChange(), deps.maxAgeMs, Date.now, sameJson);
    this.namespaces = new SwrCache(() => deps.onChange(), deps.maxAgeMs);
  }

  children(node?: AgentsNode): AgentsNode[] {
    if (!node) return this.deps.connections().map(toConnectionNode);
    switch (node.kind) {
      case 'connection':
        return this.agentNodes(node);
      case 'agent':
        return this.namespaceNodes(node);
      case 'namespace':
        return this.podNodes(node);
      case 'pod':
        return containerNames(node.pod).map((container) => ({
          kind: 'container',
          connectionId: node.connectionId,
          agentId: node.agentId,
          namespace: node.namespace,
          podName: podName(node.pod),
          container,
        }));
      default:
        return [];
    }
  }

  /** Agents of a connection as cached (for commands and the managed apps view). */
  cachedAgents(connectionId: string): AgentInfo[] | undefined {
    return this.agents.peek(connectionId)?.value;
  }

  /** Agents as cached, refreshed in the background when stale (never waits). */
  readAgents(connectionId: string): AgentInfo[] | undefined {
    return this.agents.read(connectionId, () => this.fetchAgents(connectionId)).value;
  }

  /** Loads (or joins the load of) a connection's agents. */
  async loadAgents(connectionId: string): Promise<AgentInfo[]> {
    await this.agents.refresh(connectionId, () => this.fetchAgents(connectionId));
    const entry = this.agents.peek(connectionId);
    if (entry?.error) throw entry.error;
    return entry?.value ?? [];
  }

  /** The live pod feed of a namespace (created and started on first use). */
  feed(connectionId: string, agentId: string, namespace: string, labelSelector?: string): PodFeed {
    const key = `${connectionId}/${agentId}/${namespace}/${labelSelector ?? ''}`;
    let feed = this.feeds.get(key);
    if (!feed) {
      feed = new PodFeed({
        client: () => this.kube(connectionId, agentId),
        namespace,
        labelSelector,
        onChange: () => this.deps.onChange(),
      });
      this.feeds.set(key, feed);
      feed.start();
    }
    return feed;
  }

  /** Everything is re-read: caches go stale and pod feeds restart. */
  async refresh(): Promise<void> {
    this.agents.invalidateAll();
    this.namespaces.invalidateAll();
    await this.stopFeeds();
    this.deps.onChange();
  }

  /** Drops what belongs to connections that no longer exist. */
  async prune(): Promise<void> {
    const ids = new Set(this.deps.connections().map((c) => c.id));
    const gone = (key: string) => !ids.has(key.split('/')[0] ?? '');
    this.agents.deleteWhere(gone);
    this.namespaces.deleteWhere(gone);
    for (const [id, timer] of [...this.agentPolls]) {
      if (!gone(id)) continue;
      clearTimeout(timer);
      this.agentPolls.delete(id);
    }
    const stale = [...this.feeds.entries()].filter(([key]) => gone(key));
    for (const [key] of stale) this.feeds.delete(key);
    await Promise.all(stale.map(([, feed]) => feed.stop()));
  }

  async dispose(): Promise<void> {
    for (const timer of this.agentPolls.values()) clearTimeout(timer);
    this.agentPolls.clear();
    await this.stopFeeds();
  }

  async kube(connectionId: string, agentId: string): Promise<KubeClient> {
    return await (await this.deps.session(connectionId)).kube(agentId);
  }

  private async stopFeeds(): Promise<void> {
    const feeds = [...this.feeds.values()];
    this.feeds.clear();
    await Promise.all(feeds.map((f) => f.stop()));
  }

  private async fetchAgents(connectionId: string): Promise<AgentInfo[]> {
    return (await this.deps.session(connectionId)).kas.agents();
  }

  /** Keeps re-reading a shown connection's agents so that replicas connecting show up by themselves. */
  private pollAgents(connectionId: string): void {
    if (this.agentPolls.has(connectionId)) return;
    const poll = this.deps.agentPollMs ?? DEFAULT_AGENT_POLL;
    const next = () => {
      const agents = this.agents.peek(connectionId)?.value;
      const offline = !agents || agents.some((a) => a.connections.length === 0);
      this.agentPolls.set(
        connectionId,
        setTimeout(
          () => {
            this.agents
              .refresh(connectionId, () => this.fetchAgents(connectionId))
              .then(
                () => {
                  if (this.agentPolls.has(connectionId)) next();
                },
                () => undefined,
              );
          },
          offline ? poll.someOffline : poll.allConnected,
        ),
      );
    };
    next();
  }

  private agentNodes(node: ConnectionNode): AgentsNode[] {
    this.pollAgents(node.connectionId);
    const entry = this.agents.read(node.connectionId, () => this.fetchAgents(node.connectionId));
    if (entry.value === undefined) return [pendingOrError(nodeId(node), entry.error)];
    if (entry.value.length === 0) return [message(nodeId(node), 'No agents registered', 'info')];
    const agents: AgentsNode[] = entry.value.map((agent): AgentNode => ({ kind: 'agent', connectionId: node.connectionId, agent }));
    return entry.error ? [...agents, message(nodeId(node), userMessage(entry.error), 'error')] : agents;
  }

  private namespaceNodes(node: AgentNode): AgentsNode[] {
    const key = `${node.connectionId}/${node.agent.id}`;
    const entry = this.namespaces.read(key, async () => {
      const names = await (await this.kube(node.connectionId, node.agent.id)).listNamespaces();
      return names.sort();
    });
    if (entry.value === undefined) return [pendingOrError(nodeId(node), entry.error)];
    return entry.value.map((namespace): NamespaceNode => ({
      kind: 'namespace',
      connectionId: node.connectionId,
      agentId: node.agent.id,
      namespace,
    }));
  }

  private podNodes(node: NamespaceNode): AgentsNode[] {
    return podNodesOf(this.feed(node.connectionId, node.agentId, node.namespace), node);
  }
}

/** A namespace's children from its pod feed: pods in name order, or one message node. */
export function podNodesOf(feed: PodFeed, node: NamespaceNode): AgentsNode[] {
  const pods = feed.snapshot();
  if (pods.length === 0) {
    if (feed.state === 'loading') return [message(nodeId(node), 'Loading…', 'loading')];
    if (feed.state === 'error') return [message(nodeId(node), userMessage(feed.error), 'error')];
    return [message(nodeId(node), 'No pods', 'info')];
  }
  const nodes = new Array<AgentsNode>(pods.length);
  for (let i = 0; i < pods.length; i++) {
    nodes[i] = {
      kind: 'pod',
      connectionId: node.connectionId,
      agentId: node.agentId,
      namespace: node.namespace,
      pod: pods[i]!,
    } satisfies PodNode;
  }
  return nodes;
}

function toConnectionNode(record: ConnectionRecord): ConnectionNode {
  return { kind: 'connection', connectionId: record.id, label: record.label, url: record.apiUrl };
}

function message(parentId: string, text: string, severity: MessageNode['severity']): MessageNode {
  return { kind: 'message', parentId, text, severity };
}

function pendingOrError(parentId: string, error: unknown): MessageNode {
  return error ? message(parentId, userMessage(error), 'error') : message(parentId, 'Loading…', 'loading');
}
