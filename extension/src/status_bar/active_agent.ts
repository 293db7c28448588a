// The status bar item for the active connection and agent: the agent of what the user works on
// (the selected tree item, or the k8s-agent document in the editor), with its connection state.
// Clicking it focuses the Kubernetes Agents view.
import * as vscode from 'vscode';
import type { Services } from '../services';
import { DOCUMENT_SCHEME, parseDocumentPath } from '../documents/resource_ref';
import type { AgentsNode } from '../trees/nodes';

interface Active {
  connectionId: string;
  agentId?: string;
}

export class ActiveAgentStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('kubernetesAgents.activeAgent', vscode.StatusBarAlignment.Left, 60);
  private readonly subscriptions: vscode.Disposable[];
  private active: Active | undefined;

  constructor(
    private readonly services: Services,
    agentsView: vscode.TreeView<AgentsNode>,
  ) {
    this.item.name = 'Kubernetes Agents: active agent';
    this.item.command = 'kubernetesAgents.agents.focus';
    this.subscriptions = [
      agentsView.onDidChangeSelection((event) => this.fromNode(event.selection[0])),
      vscode.window.onDidChangeActiveTextEditor((editor) => this.fromUri(editor?.document.uri)),
      services.store.onDidChange(() => this.render()),
    ];
    this.fromUri(vscode.window.activeTextEditor?.document.uri);
  }

  /** "agent (connection)" for messages; the ids when the names are not loaded. */
  agentLabel(target: { connectionId: string; agentId: string }): string {
    const connection = this.services.store.get(target.connectionId);
    const agent = this.services.model.cachedAgents(target.connectionId)?.find((a) => a.id === target.agentId);
    return `agent ${agent?.name ?? target.agentId} (${connection?.label ?? target.connectionId})`;
  }

  private fromNode(node: AgentsNode | undefined): void {
    if (!node || node.kind === 'message' || node.kind === 'portForwards' || node.kind === 'portForward') return;
    this.active = {
      connectionId: node.connectionId,
      agentId: node.kind === 'connection' ? undefined : node.kind === 'agent' ? node.agent.id : node.agentId,
    };
    this.render();
  }

  private fromUri(uri: vscode.Uri | undefined): void {
    if (uri?.scheme !== DOCUMENT_SCHEME) return;
    const parsed = parseDocumentPath(uri.path, uri.query);
    if (parsed) this.active = { connectionId: parsed.ref.connectionId, agentId: parsed.ref.agentId };
    this.render();
  }

  private render(): void {
    const connection = this.active ? this.services.store.get(this.active.connectionId) : this.services.store.list()[0];
    if (!connection) return void this.item.hide();
    const agentId = this.active?.connectionId === connection.id ? this.active.agentId : undefined;
    const agent = agentId ? this.services.model.cachedAgents(connection.id)?.find((a) => a.id === agentId) : undefined;
    const connected = agent ? agent.connections.length > 0 : undefined;
    const icon = connected === false ? '$(debug-disconnect)' : '$(cloud)';
    this.item.text = `${icon} ${connection.label}${agent ? ` › ${agent.name}` : agentId ? ` › agent ${agentId}` : ''}`;
    this.item.tooltip = agent
      ? `Connection ${connection.label}, agent ${agent.name}: ${connected ? `${agent.connections.length} agentk connected` : 'not connected'}`
      : `Connection ${connection.label} (${connection.apiUrl})`;
    this.item.show();
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.item.dispose();
  }
}
