// Tree nodes and how they look, without VS Code types: the providers map a NodePresentation to
// a TreeItem one to one. contextValue conventions (menus in package.json match on them):
//   connection | agent.connected | agent.disconnected | namespace | pod.<phase> | container
//   | managedApp.<state> | message
import type { AgentInfo } from '../kas_client/kas_api';
import { podName, type Pod } from '../kas_client/kube_client';
import { containerNames, formatAge, podPhase, podStatusText, readyText, restartCount } from './format';
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
}
export interface ContainerNode {
  kind: 'container';
  connectionId: string;
  agentId: string;
  namespace: string;
  podName: string;
  container: string;
}
export interface MessageNode {
  kind: 'message';
  parentId: string;
  text: string;
  severity: 'info' | 'loading' | 'error';
}

export type AgentsNode = ConnectionNode | AgentNode | NamespaceNode | PodNode | ContainerNode | MessageNode;

export interface NodePresentation {
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  contextValue: string;
  /** A codicon id, and a theme colour id for it. */
  icon?: { id: string; color?: string };
  collapsible: boolean;
}

export function nodeId(node: AgentsNode): string {
  switch (node.kind) {
    case 'connection':
      return `c/${node.connectionId}`;
    case 'agent':
      return `c/${node.connectionId}/a/${node.agent.id}`;
    case 'namespace':
      return `c/${node.connectionId}/a/${node.agentId}/n/${node.namespace}`;
    case 'pod':
      return `c/${node.connectionId}/a/${node.agentId}/n/${node.namespace}/p/${podName(node.pod)}`;
    case 'container':
      return `c/${node.connectionId}/a/${node.agentId}/n/${node.namespace}/p/${node.podName}/k/${node.container}`;
    case 'message':
      return `${node.parentId}/msg`;
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
        contextValue: 'connection',
        icon: { id: 'plug' },
        collapsible: true,
      };
    case 'agent':
      return presentAgent(node);
    case 'namespace':
      return { id: nodeId(node), label: node.namespace, contextValue: 'namespace', icon: { id: 'symbol-namespace' }, collapsible: true };
    case 'pod':
      return presentPod(node, now);
    case 'container':
      return { id: nodeId(node), label: node.container, contextValue: 'container', icon: { id: 'package' }, collapsible: false };
    case 'message':
      return presentMessage(node);
  }
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
    contextValue: connected ? 'agent.connected' : 'agent.disconnected',
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
    contextValue: `pod.${phase}`,
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

function presentMessage(node: MessageNode): NodePresentation {
  const icon =
    node.severity === 'error'
      ? { id: 'error', color: 'errorForeground' }
      : node.severity === 'loading'
        ? { id: 'loading~spin' }
        : { id: 'info' };
  return { id: nodeId(node), label: node.text, contextValue: 'message', icon, collapsible: false };
}
