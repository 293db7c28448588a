// The Managed Apps view's children and looks, vscode-free: agents at the top, under each its
// apps as the agent's ManagedAppsModel sees them. Answers from the registry's snapshots only,
// never waiting for the cluster (a model still starting shows "Loading…").
import { userMessage } from '../kas_client/errors';
import type { AgentsModel } from '../trees/agents_model';
import type { AgentNode, MessageNode, NodePresentation } from '../trees/nodes';
import { nodeId, present } from '../trees/nodes';
import type { AppStatus } from './model';
import { presentAppStatus } from './presentation';
import type { ManagedAppsRegistry } from './registry';

export interface AppNode {
  kind: 'managedApp';
  connectionId: string;
  agentId: string;
  app: AppStatus;
}
export type AppsTreeNode = AgentNode | AppNode | MessageNode;

export function appsTreeChildren(
  registry: ManagedAppsRegistry,
  agents: AgentsModel,
  connections: () => { id: string }[],
  node?: AppsTreeNode,
): AppsTreeNode[] {
  if (!node)
    return connections().flatMap((c) =>
      (agents.readAgents(c.id) ?? []).map((agent): AppsTreeNode => ({ kind: 'agent', connectionId: c.id, agent })),
    );
  if (node.kind !== 'agent') return [];
  const parentId = nodeId(node);
  const view = registry.view(node.connectionId, node.agent.id);
  if (view.state === 'loading') return [{ kind: 'message', parentId, text: 'Loading…', severity: 'loading' }];
  if (view.state === 'error') return [{ kind: 'message', parentId, text: userMessage(view.error), severity: 'error' }];
  return view.apps.map((app) => ({ kind: 'managedApp', connectionId: node.connectionId, agentId: node.agent.id, app }));
}

export function presentAppsTreeNode(node: AppsTreeNode, now: number): NodePresentation {
  if (node.kind !== 'managedApp') return present(node, now);
  return presentAppStatus(`c/${node.connectionId}/a/${node.agentId}`, node.app);
}
