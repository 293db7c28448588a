// From the palette, a command asks which agent it acts on: among the cached agents of every
// connection (the Agents view's stale-while-revalidate list; no request here), none asked when
// there is one.
import * as vscode from 'vscode';
import type { Services } from '../services';

export interface AgentTarget {
  connectionId: string;
  agentId: string;
  agentName: string;
}

export async function pickAgent(services: Services): Promise<AgentTarget | undefined> {
  const items = services.store.list().flatMap((connection) =>
    (services.model.readAgents(connection.id) ?? []).map((agent) => ({
      label: agent.name,
      description: connection.label,
      target: { connectionId: connection.id, agentId: agent.id, agentName: agent.name },
    })),
  );
  if (items.length === 0) {
    void vscode.window.showInformationMessage('No agents yet: add a connection (or start the local pair) in the Kubernetes Agents view.');
    return undefined;
  }
  if (items.length === 1) return items[0]?.target;
  return (await vscode.window.showQuickPick(items, { title: 'Agent' }))?.target;
}
