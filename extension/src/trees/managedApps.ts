// The Managed Apps view: per agent, the legacy managed applications found as pods in the
// `gitlab-managed-apps` namespace labelled `gitlab.org/application`. The state comes from the
// phase of the newest install/update/uninstall pod (the managed-apps issue deepens this).
import type { Pod } from '../kasClient/kubeTypes';
import { userMessage } from '../kasClient/errors';
import type { AgentsModel } from './agentsModel';
import type { AgentNode, MessageNode, NodePresentation } from './nodes';
import { nodeId, present } from './nodes';

export const MANAGED_APPS_NAMESPACE = 'gitlab-managed-apps';
export const APP_LABEL = 'gitlab.org/application';
export const ACTION_LABEL = 'gitlab.org/action';

export type ManagedAppState =
  | 'scheduled' | 'installing' | 'installed' | 'errored'
  | 'updating' | 'updated' | 'update_errored'
  | 'uninstalling' | 'uninstalled' | 'uninstall_errored';

export interface ManagedApp { name: string; state: ManagedAppState; podName: string }
export interface ManagedAppNode { kind: 'managedApp'; connectionId: string; agentId: string; app: ManagedApp }
export type ManagedAppsNode = AgentNode | ManagedAppNode | MessageNode;

type Action = 'install' | 'update' | 'uninstall';
const STATES: Record<Action, { pending: ManagedAppState; running: ManagedAppState; succeeded: ManagedAppState; failed: ManagedAppState }> = {
  install: { pending: 'scheduled', running: 'installing', succeeded: 'installed', failed: 'errored' },
  update: { pending: 'updating', running: 'updating', succeeded: 'updated', failed: 'update_errored' },
  uninstall: { pending: 'uninstalling', running: 'uninstalling', succeeded: 'uninstalled', failed: 'uninstall_errored' },
};

function actionOf(pod: Pod): Action {
  const label = pod.metadata.labels?.[ACTION_LABEL];
  if (label === 'uninstall' || pod.metadata.name.startsWith('uninstall-')) return 'uninstall';
  if (label === 'update' || label === 'upgrade') return 'update';
  return 'install';
}

export function appStateFromPod(pod: Pod): ManagedAppState {
  const states = STATES[actionOf(pod)];
  switch (pod.status?.phase) {
    case 'Running': return states.running;
    case 'Succeeded': return states.succeeded;
    case 'Failed': return states.failed;
    default: return states.pending;
  }
}

/** One entry per application: the state of its newest pod. */
export function managedApps(pods: readonly Pod[]): ManagedApp[] {
  const newest = new Map<string, Pod>();
  for (const pod of pods) {
    const app = pod.metadata.labels?.[APP_LABEL];
    if (!app) continue;
    const current = newest.get(app);
    if (!current || (pod.metadata.creationTimestamp ?? '') >= (current.metadata.creationTimestamp ?? '')) newest.set(app, pod);
  }
  return [...newest.entries()]
    .map(([name, pod]) => ({ name, state: appStateFromPod(pod), podName: pod.metadata.name }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

const STATE_ICONS: Partial<Record<ManagedAppState, { id: string; color?: string }>> = {
  installed: { id: 'pass-filled', color: 'charts.green' },
  updated: { id: 'pass-filled', color: 'charts.green' },
  errored: { id: 'error', color: 'charts.red' },
  update_errored: { id: 'error', color: 'charts.red' },
  uninstall_errored: { id: 'error', color: 'charts.red' },
  uninstalled: { id: 'circle-slash' },
};

export function presentManagedApp(node: ManagedAppsNode, now: number): NodePresentation {
  if (node.kind !== 'managedApp') return present(node, now);
  const { app } = node;
  return {
    id: `c/${node.connectionId}/a/${node.agentId}/app/${app.name}`,
    label: app.name,
    description: app.state.replace(/_/g, ' '),
    tooltip: `${app.name}: ${app.state} (pod ${MANAGED_APPS_NAMESPACE}/${app.podName})`,
    contextValue: `managedApp.${app.state}`,
    icon: STATE_ICONS[app.state] ?? { id: 'sync~spin' },
    collapsible: false,
  };
}

/** Children for the Managed Apps view, built on the Agents model's caches and feeds. */
export function managedAppsChildren(model: AgentsModel, connections: () => { id: string }[], node?: ManagedAppsNode): ManagedAppsNode[] {
  if (!node) return connections().flatMap((c) => agentsOf(model, c.id));
  if (node.kind !== 'agent') return [];
  const feed = model.feed(node.connectionId, node.agent.id, MANAGED_APPS_NAMESPACE, APP_LABEL);
  const apps = managedApps(feed.snapshot());
  const parentId = nodeId(node);
  if (apps.length > 0) return apps.map((app) => ({ kind: 'managedApp', connectionId: node.connectionId, agentId: node.agent.id, app }));
  if (feed.state === 'loading') return [{ kind: 'message', parentId, text: 'Loading…', severity: 'loading' }];
  if (feed.state === 'error') return [{ kind: 'message', parentId, text: userMessage(feed.error), severity: 'error' }];
  return [{ kind: 'message', parentId, text: 'No managed apps', severity: 'info' }];
}

function agentsOf(model: AgentsModel, connectionId: string): ManagedAppsNode[] {
  const agents = model.readAgents(connectionId) ?? [];
  return agents.map((agent) => ({ kind: 'agent', connectionId, agent }));
}
