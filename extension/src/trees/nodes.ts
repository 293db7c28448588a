// Tree nodes and how they look, without VS Code types: the providers map a NodePresentation to
// a TreeItem one to one.
// contextValues (menus in package.json match on them with `viewItem`): every one starts with
// `kubernetesAgents.`, then the node's kind, then what a menu tells apart, dot-separated:
//   kubernetesAgents.connection | kubernetesAgents.agent.(connected|disconnected)
//   | kubernetesAgents.namespace | kubernetesAgents.group.<group> | kubernetesAgents.kind.<kindId>
//   | kubernetesAgents.resource.<kindId> (every kind but pods, e.g. kubernetesAgents.resource.deployment)
//   | kubernetesAgents.pod.<phase> | kubernetesAgents.container | kubernetesAgents.message
//   | kubernetesAgents.portForwards | kubernetesAgents.portForward.(active|reconnecting)
//   | kubernetesAgents.managedApp.<state> (the Managed Apps view, managed_apps/presentation.ts)
// test/extension/context_values.test.ts checks every menu clause against the values produced here.
import { RESOURCE_KINDS, type ResourceKind } from '../../../webviews/dashboard/messages';
import { kindId, type KindInfo } from '../cache/kinds';
import { summarise } from '../dashboard/summarise';
import type { AgentInfo } from '../kas_client/kas_api';
import { podName, type KubeObject, type Pod } from '../kas_client/kube_client';
import type { PortForward } from '../streams/port_forward';
import { containerNames, formatAge, podPhase, podStatusText, readyText, restartCount } from './format';
import { isOwnerKind } from './ownership';
import { podHealth, POD_HEALTH_ICONS } from './pod_health';

export interface ConnectionNode {
  kind: 'connection';
  connectionId: string;
  label: string;
  url: string;
}
export interface AgentNode {
  kind: 'agent';
  connectionId: string;
  agent: AgentInfo;
}
export interface NamespaceNode {
  kind: 'namespace';
  connectionId: string;
  agentId: string;
  namespace: string;
}
export interface PodNode {
  kind: 'pod';
  connectionId: string;
  agentId: string;
  namespace: string;
  pod: Pod;
  /** The id of the workload node this row is listed under (tree ids must be unique); unset under Pods. */
  under?: string;
}
export interface ContainerNode {
  kind: 'container';
  connectionId: string;
  agentId: string;
  namespace: string;
  podName: string;
  container: string;
  /** As the pod's `under`. */
  under?: string;
}
export interface MessageNode {
  kind: 'message';
  parentId: string;
  text: string;
  severity: 'info' | 'loading' | 'error';
}

export type GroupId = 'workloads' | 'network' | 'config' | 'events' | 'cluster' | 'custom';
/** A group of kinds under a namespace, or (namespace undefined) the cluster-scoped ones under an agent. */
export interface GroupNode {
  kind: 'group';
  connectionId: string;
  agentId: string;
  namespace?: string;
  group: GroupId;
}
/** One kind's objects; `count` once the cache has listed them. */
export interface KindListNode {
  kind: 'kindList';
  connectionId: string;
  agentId: string;
  namespace?: string;
  info: KindInfo;
  count?: number;
}
/** Any object but a pod (pods keep their own node, with containers below); workloads expand to what they own. */
export interface ResourceNode {
  kind: 'resource';
  connectionId: string;
  agentId: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  info: KindInfo;
  object: KubeObject;
  /** The id of the workload node this row is listed under (a CronJob's Jobs); unset under its kind. */
  under?: string;
}

/** Above the connections while any port-forward is active: the forwards of the window. */
export interface PortForwardsNode {
  kind: 'portForwards';
  count: number;
}
export interface PortForwardNode {
  kind: 'portForward';
  forward: PortForward;
}

export type AgentsNode =
  | ConnectionNode
  | AgentNode
  | NamespaceNode
  | GroupNode
  | KindListNode
  | ResourceNode
  | PodNode
  | ContainerNode
  | MessageNode
  | PortForwardsNode
  | PortForwardNode;

export interface NodePresentation {
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  contextValue: string;
  /** A codicon id, and a theme colour id for it. */
  icon?: { id: string; color?: string };
  collapsible: boolean;
  /** Shown expanded the first time (the Workloads group and its Pods). */
  expanded?: boolean;
}

export function nodeId(node: AgentsNode): string {
  switch (node.kind) {
    case 'connection':
      return `c/${node.connectionId}`;
    case 'agent':
      return `c/${node.connectionId}/a/${node.agent.id}`;
    case 'namespace':
      return `c/${node.connectionId}/a/${node.agentId}/n/${node.namespace}`;
    case 'group':
      return `c/${node.connectionId}/a/${node.agentId}/n/${node.namespace ?? '*'}/g/${node.group}`;
    case 'kindList':
      return `c/${node.connectionId}/a/${node.agentId}/n/${node.namespace ?? '*'}/k/${node.info.group}/${node.info.plural}`;
    case 'resource':
      return `${node.under ?? `c/${node.connectionId}/a/${node.agentId}/n/${node.namespace || '*'}`}/r/${node.info.group}/${node.info.plural}/${node.object.metadata?.name ?? ''}`;
    case 'pod':
      return `${node.under ?? `c/${node.connectionId}/a/${node.agentId}/n/${node.namespace}`}/p/${podName(node.pod)}`;
    case 'container':
      return `${node.under ?? `c/${node.connectionId}/a/${node.agentId}/n/${node.namespace}`}/p/${node.podName}/k/${node.container}`;
    case 'message':
      return `${node.parentId}/msg`;
    case 'portForwards':
      return 'pf';
    case 'portForward':
      // A listening local address is unique in the window.
      return `pf/${node.forward.target.localHost ?? '127.0.0.1'}:${node.forward.state.localPort}`;
  }
}

export function present(node: AgentsNode, now: number): NodePresentation {
  switch (node.kind) {
    case 'connection':
      return {
        id: nodeId(node),
        label: node.label,
        description: node.url,
        tooltip: `kas at ${node.url}`,
        contextValue: 'kubernetesAgents.connection',
        icon: { id: 'plug' },
        collapsible: true,
      };
    case 'agent':
      return presentAgent(node);
    case 'namespace':
      return {
        id: nodeId(node),
        label: node.namespace,
        contextValue: 'kubernetesAgents.namespace',
        icon: { id: 'symbol-namespace' },
        collapsible: true,
      };
    case 'group':
      return presentGroup(node);
    case 'kindList':
      return presentKindList(node);
    case 'resource':
      return presentResource(node, now);
    case 'pod':
      return presentPod(node, now);
    case 'container':
      return {
        id: nodeId(node),
        label: node.container,
        contextValue: 'kubernetesAgents.container',
        icon: { id: 'package' },
        collapsible: false,
      };
    case 'message':
      return presentMessage(node);
    case 'portForwards':
      return {
        id: nodeId(node),
        label: 'Port Forwards',
        description: String(node.count),
        contextValue: 'kubernetesAgents.portForwards',
        icon: { id: 'plug' },
        collapsible: true,
        expanded: true,
      };
    case 'portForward':
      return presentPortForward(node);
  }
}

function presentPortForward(node: PortForwardNode): NodePresentation {
  const { forward } = node;
  const { status, activeConnections, totalConnections, lastError } = forward.state;
  const reconnecting = status === 'reconnecting';
  return {
    id: nodeId(node),
    label: forward.label,
    description: reconnecting ? 'reconnecting: waiting for the agent' : `${status} · ${activeConnections} open`,
    tooltip: [
      `Port forward ${forward.label}`,
      `Status: ${status}   Connections: ${activeConnections} open, ${totalConnections} in all`,
      lastError ? `Last error: ${lastError}` : undefined,
    ]
      .filter((line): line is string => line !== undefined)
      .join('\n'),
    contextValue: `kubernetesAgents.portForward.${status}`,
    icon: reconnecting ? { id: 'sync~spin', color: 'charts.yellow' } : { id: 'plug', color: 'charts.green' },
    collapsible: false,
  };
}

function presentAgent(node: AgentNode): NodePresentation {
  const { agent } = node;
  const replicas = agent.connections.length;
  const connected = replicas > 0;
  const configText = agent.config.valid
    ? 'config valid'
    : `config invalid (${agent.config.errors.length} error${agent.config.errors.length === 1 ? '' : 's'})`;
  const icon = !connected
    ? { id: 'debug-disconnect', color: 'disabledForeground' }
    : agent.config.valid
      ? { id: 'vm-running', color: 'charts.green' }
      : { id: 'warning', color: 'charts.yellow' };
  const replicasText = connected ? `${replicas} connected` : 'not connected';
  const tooltip = [
    `Agent ${agent.name} (id ${agent.id})`,
    agent.configProject ? `Config project: ${agent.configProject}` : undefined,
    `Config: ${configText}${agent.config.commit ? ` at ${agent.config.commit.slice(0, 12)}` : ''}`,
    ...agent.config.errors.slice(0, 5).map((e) => `  line ${e.line}:${e.column} ${e.message}`),
    ...agent.connections.map((c) => `Replica ${c.podNamespace}/${c.podName} ${c.version} since ${c.connectedSince}`),
  ]
    .filter((line): line is string => line !== undefined)
    .join('\n');
  return {
    id: nodeId(node),
    label: agent.name,
    description: `${replicasText} · ${configText}`,
    tooltip,
    contextValue: connected ? 'kubernetesAgents.agent.connected' : 'kubernetesAgents.agent.disconnected',
    icon,
    collapsible: true,
  };
}

function presentPod(node: PodNode, now: number): NodePresentation {
  const { pod } = node;
  const phase = podPhase(pod);
  const restarts = restartCount(pod);
  const age = formatAge(pod.metadata?.creationTimestamp, now);
  const status = podStatusText(pod);
  return {
    id: nodeId(node),
    label: podName(pod),
    description: `${status} · ${restarts} restart${restarts === 1 ? '' : 's'} · ${age}`,
    tooltip: podTooltip(pod, status, restarts, age),
    contextValue: `kubernetesAgents.pod.${phase}`,
    icon: POD_HEALTH_ICONS[podHealth(pod)],
    collapsible: containerNames(pod).length > 0,
  };
}

function podTooltip(pod: Pod, status: string, restarts: number, age: string): string {
  return [
    `${pod.metadata?.namespace ?? ''}/${podName(pod)}`,
    `Status: ${status} (phase ${pod.status?.phase ?? 'Unknown'})`,
    `Ready: ${readyText(pod)}   Restarts: ${restarts}   Age: ${age}`,
    pod.spec?.nodeName ? `Node: ${pod.spec.nodeName}` : undefined,
    pod.status?.podIP ? `IP: ${pod.status.podIP}` : undefined,
    `Containers: ${containerNames(pod).join(', ')}`,
  ]
    .filter((line): line is string => line !== undefined)
    .join('\n');
}

const GROUPS: Record<GroupId, { label: string; icon: string }> = {
  workloads: { label: 'Workloads', icon: 'server-process' },
  network: { label: 'Network', icon: 'globe' },
  config: { label: 'Config', icon: 'settings' },
  events: { label: 'Events', icon: 'bell' },
  cluster: { label: 'Cluster', icon: 'server-environment' },
  custom: { label: 'Custom Resources', icon: 'extensions' },
};

function presentGroup(node: GroupNode): NodePresentation {
  const { label, icon } = GROUPS[node.group];
  return {
    id: nodeId(node),
    label,
    contextValue: `kubernetesAgents.group.${node.group}`,
    icon: { id: icon },
    collapsible: true,
    expanded: node.group === 'workloads',
  };
}

function presentKindList(node: KindListNode): NodePresentation {
  const { info } = node;
  return {
    id: nodeId(node),
    label: pluralTitle(info),
    description: node.count === undefined ? undefined : String(node.count),
    tooltip: `${info.kind} (${info.group === '' ? '' : `${info.group}/`}${info.version})`,
    contextValue: `kubernetesAgents.kind.${kindId(info)}`,
    icon: { id: 'symbol-class' },
    collapsible: true,
    expanded: info.kind === 'Pod' && info.group === '',
  };
}

function pluralTitle(info: KindInfo): string {
  if (info.kind === 'Ingress') return 'Ingresses';
  if (info.kind === 'CustomResourceDefinition') return 'CustomResourceDefinitions';
  return /s$/.test(info.kind) ? `${info.kind}es` : `${info.kind}s`;
}

function presentResource(node: ResourceNode, now: number): NodePresentation {
  const { object, info } = node;
  const age = formatAge(object.metadata?.creationTimestamp, now);
  const name = object.metadata?.name ?? '';
  let description = age;
  let icon: NodePresentation['icon'] = { id: 'symbol-field' };
  if (isDashboardKind(info)) {
    const row = summarise(info.kind, object);
    description = [row.status, row.ready && `ready ${row.ready}`, age].filter(Boolean).join(' · ');
    icon = statusIcon(row.status);
  } else if (info.kind === 'Event') {
    const warning = object['type'] === 'Warning';
    description = `${String(object['reason'] ?? '')} · ${String(object['message'] ?? '')}`;
    icon = warning ? { id: 'warning', color: 'charts.yellow' } : { id: 'info' };
  } else if (info.kind === 'Secret' || info.kind === 'ConfigMap') {
    // Keys only: a Secret's values stay hidden until a command opens it.
    const keys = Object.keys((object['data'] as object | undefined) ?? {}).length;
    const type = info.kind === 'Secret' ? `${String(object['type'] ?? 'Opaque')} · ` : '';
    description = `${type}${keys} key${keys === 1 ? '' : 's'} · ${age}`;
  } else if (info.kind === 'Node') {
    const ready = ((object['status'] as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []).find(
      (c) => c.type === 'Ready',
    );
    description = `${ready?.status === 'True' ? 'Ready' : 'NotReady'} · ${age}`;
    icon = ready?.status === 'True' ? { id: 'vm-running', color: 'charts.green' } : { id: 'vm-outline', color: 'charts.red' };
  }
  return {
    id: nodeId(node),
    label: info.kind === 'Event' ? eventLabel(object) : name,
    description,
    tooltip: `${info.kind} ${node.namespace ? `${node.namespace}/` : ''}${name}`,
    contextValue: `kubernetesAgents.resource.${kindId(info)}`,
    icon,
    collapsible: ownsPods(info),
  };
}

/** Workloads expand to what they own (agents_model.ts); custom kinds named Job do not. */
export function ownsPods(info: KindInfo): boolean {
  return (info.group === 'apps' || info.group === 'batch') && isOwnerKind(info.kind);
}

function eventLabel(event: KubeObject): string {
  const involved = event['involvedObject'] as { kind?: string; name?: string } | undefined;
  return `${involved?.kind ?? ''}/${involved?.name ?? ''}`;
}

function isDashboardKind(info: KindInfo): info is KindInfo & { kind: ResourceKind } {
  return (info.group === '' || info.group === 'apps' || info.group === 'batch') && RESOURCE_KINDS.includes(info.kind as ResourceKind);
}

function statusIcon(status: string): NodePresentation['icon'] {
  if (/^(Available|Ready|Running|Complete|Succeeded|Scheduled|Active|ClusterIP|NodePort|LoadBalancer|ExternalName)$/.test(status))
    return { id: 'pass', color: 'charts.green' };
  if (/^(Failed|Error|CrashLoopBackOff)$/.test(status)) return { id: 'error', color: 'charts.red' };
  return { id: 'sync', color: 'charts.yellow' };
}

function presentMessage(node: MessageNode): NodePresentation {
  const icon =
    node.severity === 'error'
      ? { id: 'error', color: 'errorForeground' }
      : node.severity === 'loading'
        ? { id: 'loading~spin' }
        : { id: 'info' };
  return { id: nodeId(node), label: node.text, contextValue: 'kubernetesAgents.message', icon, collapsible: false };
}
