// The Agents view's data: connection → agent → (namespaces | Cluster) → group → kind → object
// (pods → containers). children() answers synchronously from caches (agents: stale-while-
// revalidate, kas has no watch for them; everything in the cluster: the agent's watch cache)
// and starts background work; `onChange` fires when something landed. The model holds a cache
// subscription for every kind it has shown until refresh, prune or dispose.
import type { ConnectionRecord } from '../connections/connection_store';
import type { Session } from '../connections/sessions';
import { BUILTIN_KINDS, kindKey, type KindInfo } from '../cache/kinds';
import { customKindsOf, ResourceCaches, type Subscription } from '../cache/resource_cache';
import { SwrCache } from '../cache/swr_cache';
import type { Keyed, WatchFeed } from '../cache/watch_feed';
import { userMessage } from '../kas_client/errors';
import type { AgentInfo } from '../kas_client/kas_api';
import { podName, type KubeClient, type KubeObject, type Pod } from '../kas_client/kube_client';
import { PortForwardList } from '../streams/port_forward_list';
import { containerNames } from './format';
import type {
  AgentNode,
  AgentsNode,
  ConnectionNode,
  GroupId,
  GroupNode,
  KindListNode,
  MessageNode,
  NamespaceNode,
  PodNode,
  PortForwardNode,
  PortForwardsNode,
  ResourceNode,
} from './nodes';
import { nodeId, ownsPods } from './nodes';
import { ownedBy, podsOfWorkload, type OwnerKind } from './ownership';

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

/** The kinds of each group, in the order shown. */
export const GROUP_KINDS: Record<Exclude<GroupId, 'custom' | 'events'>, KindInfo[]> = {
  workloads: [
    BUILTIN_KINDS.Deployment,
    BUILTIN_KINDS.StatefulSet,
    BUILTIN_KINDS.DaemonSet,
    BUILTIN_KINDS.ReplicaSet,
    BUILTIN_KINDS.Job,
    BUILTIN_KINDS.CronJob,
    BUILTIN_KINDS.Pod,
  ],
  network: [BUILTIN_KINDS.Service, BUILTIN_KINDS.Ingress],
  config: [BUILTIN_KINDS.ConfigMap, BUILTIN_KINDS.Secret],
  cluster: [BUILTIN_KINDS.Node, BUILTIN_KINDS.Namespace, BUILTIN_KINDS.CustomResourceDefinition],
};
const NAMESPACE_GROUPS: GroupId[] = ['workloads', 'network', 'config', 'events'];
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class AgentsModel {
  private readonly agents: SwrCache<AgentInfo[]>;
  /** The watch caches, one per (connection, agent): shared with the dashboard and every other view. */
  readonly caches: ResourceCaches;
  private readonly held = new Map<string, Subscription>();
  private readonly namespaceFilters = new Map<string, ReadonlySet<string>>();
  private readonly agentPolls = new Map<string, NodeJS.Timeout>();
  /** The window's port-forwards, listed above the connections while there are any. */
  readonly forwards = new PortForwardList();

  constructor(private readonly deps: AgentsModelDeps) {
    this.agents = new SwrCache<AgentInfo[]>(() => deps.onChange(), deps.maxAgeMs, Date.now, sameJson);
    this.caches = new ResourceCaches((connectionId, agentId) => this.kube(connectionId, agentId));
    this.forwards.onDidChange(() => deps.onChange());
  }

  children(node?: AgentsNode): AgentsNode[] {
    if (!node) {
      const forwards = this.forwards.all;
      const connections = this.deps.connections().map(toConnectionNode);
      return forwards.length === 0
        ? connections
        : [{ kind: 'portForwards', count: forwards.length } satisfies PortForwardsNode, ...connections];
    }
    switch (node.kind) {
      case 'portForwards':
        return this.forwards.all.map((forward): PortForwardNode => ({ kind: 'portForward', forward }));
      case 'connection':
        return this.agentNodes(node);
      case 'agent':
        return this.namespaceNodes(node);
      case 'namespace':
        return NAMESPACE_GROUPS.map((group): GroupNode => ({ kind: 'group', ...scopeOf(node), namespace: node.namespace, group }));
      case 'group':
        return this.groupChildren(node);
      case 'kindList':
        return this.objectNodes(node);
      case 'resource':
        return ownsPods(node.info) ? this.ownedNodes(node) : [];
      case 'pod':
        return containerNames(node.pod).map((container) => ({
          kind: 'container',
          connectionId: node.connectionId,
          agentId: node.agentId,
          namespace: node.namespace,
          podName: podName(node.pod),
          container,
          under: node.under,
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

  /**
   * The live feed of a kind in a namespace (undefined: cluster-wide), held by the tree until
   * refresh, prune or dispose.
   */
  feed(connectionId: string, agentId: string, info: KindInfo, namespace?: string): WatchFeed {
    const key = `${connectionId}/${agentId}/${kindKey(info)}/${info.namespaced ? (namespace ?? '*') : '*'}`;
    let sub = this.held.get(key);
    if (!sub) {
      sub = this.caches.forAgent(connectionId, agentId).subscribe(info, namespace, () => this.deps.onChange());
      this.held.set(key, sub);
    }
    return sub.feed;
  }

  /** Namespaces shown under an agent (undefined: all). */
  namespaceFilter(connectionId: string, agentId: string): ReadonlySet<string> | undefined {
    return this.namespaceFilters.get(`${connectionId}/${agentId}`);
  }

  setNamespaceFilter(connectionId: string, agentId: string, names: readonly string[] | undefined): void {
    const key = `${connectionId}/${agentId}`;
    if (names === undefined || names.length === 0) this.namespaceFilters.delete(key);
    else this.namespaceFilters.set(key, new Set(names));
    this.deps.onChange();
  }

  /** Everything is re-read: caches go stale and watches restart. */
  async refresh(): Promise<void> {
    this.agents.invalidateAll();
    this.release(() => true);
    await this.caches.dispose();
    this.deps.onChange();
  }

  /** Drops what belongs to connections that no longer exist. */
  async prune(): Promise<void> {
    const ids = new Set(this.deps.connections().map((c) => c.id));
    const gone = (key: string) => !ids.has(key.split('/')[0] ?? '');
    this.agents.deleteWhere(gone);
    for (const [id, timer] of [...this.agentPolls]) {
      if (!gone(id)) continue;
      clearTimeout(timer);
      this.agentPolls.delete(id);
    }
    this.release(gone);
    await this.caches.prune((connectionId) => ids.has(connectionId));
  }

  async dispose(): Promise<void> {
    for (const timer of this.agentPolls.values()) clearTimeout(timer);
    this.agentPolls.clear();
    this.release(() => true);
    await this.caches.dispose();
  }

  async kube(connectionId: string, agentId: string): Promise<KubeClient> {
    return await (await this.deps.session(connectionId)).kube(agentId);
  }

  private release(predicate: (key: string) => boolean): void {
    for (const [key, sub] of [...this.held]) {
      if (!predicate(key)) continue;
      this.held.delete(key);
      sub.dispose();
    }
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
    const feed = this.feed(node.connectionId, node.agent.id, BUILTIN_KINDS.Namespace);
    const cluster: GroupNode = { kind: 'group', connectionId: node.connectionId, agentId: node.agent.id, group: 'cluster' };
    const names = feed.snapshot().map((n) => n.metadata?.name ?? '');
    if (names.length === 0 && feed.state !== 'live') return [stateMessage(nodeId(node), feed), cluster];
    const filter = this.namespaceFilter(node.connectionId, node.agent.id);
    const shown = filter ? names.filter((name) => filter.has(name)) : names;
    const namespaces = shown.map((namespace): NamespaceNode => ({
      kind: 'namespace',
      connectionId: node.connectionId,
      agentId: node.agent.id,
      namespace,
    }));
    return [...namespaces, cluster];
  }

  private groupChildren(node: GroupNode): AgentsNode[] {
    const scope = scopeOf(node);
    if (node.group === 'events')
      return this.objectNodes({ kind: 'kindList', ...scope, namespace: node.namespace, info: BUILTIN_KINDS.Event });
    const kinds =
      node.group === 'custom'
        ? customKindsOf(this.feed(scope.connectionId, scope.agentId, BUILTIN_KINDS.CustomResourceDefinition).snapshot())
        : GROUP_KINDS[node.group];
    const lists: AgentsNode[] = kinds.map((info): KindListNode => {
      const feed = this.feed(scope.connectionId, scope.agentId, info, node.namespace);
      return {
        kind: 'kindList',
        ...scope,
        namespace: node.namespace,
        info,
        count: feed.state === 'live' ? feed.snapshot().length : undefined,
      };
    });
    if (node.group === 'cluster') lists.push({ kind: 'group', ...scope, group: 'custom' } satisfies GroupNode);
    if (node.group === 'custom' && lists.length === 0) return [message(nodeId(node), 'No custom resource definitions', 'info')];
    return lists;
  }

  private objectNodes(node: KindListNode): AgentsNode[] {
    const feed = this.feed(node.connectionId, node.agentId, node.info, node.namespace);
    if (node.info === BUILTIN_KINDS.Pod) return podNodesOf(feed as unknown as WatchFeed<Pod>, node);
    return this.resourceNodes(node, feed.snapshot(), feed);
  }

  /**
   * A workload's children from the watch caches the tree holds anyway (its namespace's pods,
   * ReplicaSets, Jobs): pods by ownerReferences uid, a CronJob's Jobs. No request of its own.
   */
  private ownedNodes(node: ResourceNode): AgentsNode[] {
    const { connectionId, agentId, namespace, object } = node;
    const under = nodeId(node);
    if (node.info.kind === 'CronJob') {
      const jobs = this.feed(connectionId, agentId, BUILTIN_KINDS.Job, namespace);
      return this.resourceNodes({ connectionId, agentId, info: BUILTIN_KINDS.Job, under }, ownedBy(jobs.snapshot(), object), jobs);
    }
    const pods = this.feed(connectionId, agentId, BUILTIN_KINDS.Pod, namespace) as unknown as WatchFeed<Pod>;
    const replicaSets =
      node.info.kind === 'Deployment' ? this.feed(connectionId, agentId, BUILTIN_KINDS.ReplicaSet, namespace).snapshot() : [];
    const owned = podsOfWorkload(node.info.kind as Exclude<OwnerKind, 'CronJob'>, object, pods.snapshot(), replicaSets);
    if (owned.length === 0) return [pods.state === 'live' ? message(under, 'No pods', 'info') : stateMessage(under, pods)];
    return owned.map((pod): PodNode => ({
      kind: 'pod',
      connectionId,
      agentId,
      namespace: pod.metadata?.namespace ?? namespace,
      pod,
      under,
    }));
  }

  private resourceNodes(
    parent: { connectionId: string; agentId: string; namespace?: string; info: KindInfo; under?: string },
    objects: readonly KubeObject[],
    feed: WatchFeed,
  ): AgentsNode[] {
    const parentId = parent.under ?? nodeId({ kind: 'kindList', ...parent });
    if (objects.length === 0)
      return [feed.state === 'live' ? message(parentId, `No ${parent.info.plural}`, 'info') : stateMessage(parentId, feed)];
    return objects.map((object): ResourceNode => ({
      kind: 'resource',
      connectionId: parent.connectionId,
      agentId: parent.agentId,
      namespace: object.metadata?.namespace ?? '',
      info: parent.info,
      object,
      under: parent.under,
    }));
  }
}

/** A pod kind's children from its feed: pods in name order, or one message node. */
export function podNodesOf(feed: WatchFeed<Pod>, node: { connectionId: string; agentId: string; namespace?: string }): AgentsNode[] {
  const pods = feed.snapshot();
  const parentId = `c/${node.connectionId}/a/${node.agentId}/n/${node.namespace ?? '*'}/pods`;
  if (pods.length === 0) return [feed.state === 'live' ? message(parentId, 'No pods', 'info') : stateMessage(parentId, feed)];
  const nodes = new Array<AgentsNode>(pods.length);
  for (let i = 0; i < pods.length; i++) {
    const pod = pods[i]!;
    nodes[i] = {
      kind: 'pod',
      connectionId: node.connectionId,
      agentId: node.agentId,
      namespace: pod.metadata?.namespace ?? node.namespace ?? '',
      pod,
    } satisfies PodNode;
  }
  return nodes;
}

function scopeOf(node: { connectionId: string; agentId: string }): { connectionId: string; agentId: string } {
  return { connectionId: node.connectionId, agentId: node.agentId };
}

function stateMessage(parentId: string, feed: WatchFeed<Keyed>): MessageNode {
  return feed.state === 'error' ? message(parentId, userMessage(feed.error), 'error') : message(parentId, 'Loading…', 'loading');
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
