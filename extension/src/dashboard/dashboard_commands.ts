// Open Agent Dashboard: from an agent or namespace item of the Agents view, or from the
// palette (then a pick of the connected agents of every connection).
import * as vscode from 'vscode';
import { argumentOrSelection } from '../commands/command_target';
import { reportFailure } from '../commands/cluster_commands';
import type { ManagedAppsRegistry } from '../managed_apps/registry';
import { COMMAND_PREFIX, type Services } from '../services';
import type { AgentsNode } from '../trees/nodes';
import { openDashboard, type DashboardTarget } from './dashboard_panel';

export function registerDashboardCommands(
  services: Services,
  apps: ManagedAppsRegistry,
  agentsView: vscode.TreeView<AgentsNode>,
): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(`${COMMAND_PREFIX}.openDashboard`, (arg: unknown) =>
      reportFailure(services, 'Open Agent Dashboard', async () => {
        const node = argumentOrSelection(arg, agentsView.selection, ['agent', 'namespace']);
        const target = node ? targetOf(services, node) : await pickAgent(services);
        if (target) openDashboard(services, apps, target);
      }),
    ),
  ];
}

function targetOf(services: Services, node: Extract<AgentsNode, { kind: 'agent' | 'namespace' }>): DashboardTarget {
  if (node.kind === 'agent') return { connectionId: node.connectionId, agentId: node.agent.id, agentName: node.agent.name };
  const name = services.model.cachedAgents(node.connectionId)?.find((a) => a.id === node.agentId)?.name ?? node.agentId;
  return { connectionId: node.connectionId, agentId: node.agentId, agentName: name, namespace: node.namespace };
}

async function pickAgent(services: Services): Promise<DashboardTarget | undefined> {
  const items = Promise.all(
    services.store.list().map(async (connection) => {
      const agents = await services.model.loadAgents(connection.id).catch(() => []);
      return agents.map((agent) => ({
        label: agent.name,
        description: connection.label,
        detail: agent.connections.length > 0 ? `${agent.connections.length} agentk connected` : 'not connected',
        target: { connectionId: connection.id, agentId: agent.id, agentName: agent.name },
      }));
    }),
  ).then((lists) => lists.flat());
  const picked = await vscode.window.showQuickPick(items, { title: 'Open Agent Dashboard', placeHolder: 'Agent' });
  return picked?.target;
}
