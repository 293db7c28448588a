// Commands of the resource tree itself: the namespace filter of an agent.
import * as vscode from 'vscode';
import { argumentOrSelection } from '../commands/command_target';
import { reportFailure } from '../commands/cluster_commands';
import { BUILTIN_KINDS } from '../cache/kinds';
import { COMMAND_PREFIX, type Services } from '../services';
import type { AgentsNode } from './nodes';

export function registerTreeCommands(services: Services, agentsView: vscode.TreeView<AgentsNode>): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(`${COMMAND_PREFIX}.filterNamespaces`, (arg: unknown) =>
      reportFailure(services, 'Filter Namespaces', async () => {
        const node = argumentOrSelection(arg, agentsView.selection, ['agent']);
        if (!node) return;
        const { model } = services;
        const agentId = node.agent.id;
        // The names come from the cache's Namespace feed the tree already holds: no request here.
        const names = model
          .feed(node.connectionId, agentId, BUILTIN_KINDS.Namespace)
          .snapshot()
          .map((n) => n.metadata?.name ?? '');
        const current = model.namespaceFilter(node.connectionId, agentId);
        const picked = await vscode.window.showQuickPick(
          names.map((label) => ({ label, picked: current ? current.has(label) : false })),
          { title: `Namespaces shown for ${node.agent.name} (none picked: all)`, canPickMany: true },
        );
        if (picked)
          model.setNamespaceFilter(
            node.connectionId,
            agentId,
            picked.map((p) => p.label),
          );
      }),
    ),
  ];
}
