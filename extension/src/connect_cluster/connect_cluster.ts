// Connect a Cluster: from a connection (tree or palette), choose an agent or name a new one (kas
// registers it by committing its config.yaml), have kas create its token and install manifest,
// then open the manifest, copy it or its one-line install command, or apply it to the current
// kubeconfig context; then wait until agentk connects, and say so. The token goes into
// SecretStorage and the manifest only: never into a log or the output channel.
import * as vscode from 'vscode';
import type { CreateAgentInstallResponse } from '../../../agent/shared/kas_api';
import { userMessage } from '../kas_client/errors';
import type { AgentInfo } from '../kas_client/kas_api';
import type { Services } from '../services';
import type { ConnectionNode } from '../trees/nodes';
import { agentNameProblem } from './agent_name';
import { applyManifest, currentContext } from './apply_manifest';
import { adminTarget, createInstall, registerAgent } from './kas_admin';

const NEW_AGENT = '$(add) Register a new agent…';
/** How often the agents list is read while waiting for agentk, and for how long at most. */
const POLL_MS = 2000;
const WAIT_LIMIT_MS = 30 * 60_000;

export function agentTokenSecretKey(connectionId: string, agentName: string): string {
  return `kubernetesAgents.agentToken/${connectionId}/${agentName}`;
}

export async function connectCluster(services: Services, node?: ConnectionNode): Promise<void> {
  const connectionId = node?.connectionId ?? (await pickConnection(services));
  if (!connectionId) return;
  const session = await services.sessions.get(connectionId);
  const agents = await session.kas.agents();
  const chosen = await chooseAgent(agents);
  if (!chosen) return;
  const target = await adminTarget(services.store, connectionId);
  const install = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Connect a Cluster: agent "${chosen.name}"` },
    async (progress) => {
      let agentId = chosen.id;
      if (agentId === undefined) {
        progress.report({ message: 'registering the agent in the config repository…' });
        const registered = await registerAgent(target, chosen.name);
        agentId = registered.agent.id;
        services.output.appendLine(`agent ${chosen.name} registered (id ${agentId}, commit ${registered.commit.slice(0, 12)})`);
      }
      progress.report({ message: 'creating the agent token…' });
      return createInstall(target, agentId);
    },
  );
  await services.context.secrets.store(agentTokenSecretKey(connectionId, install.agentName), install.token.value);
  services.output.appendLine(`agent ${install.agentName}: token "${install.token.name}" (id ${install.token.id}) created`);
  await services.model.refresh();
  await showManifest(install);
  void offerInstall(services, install);
  await waitForConnection(services, connectionId, install);
}

async function pickConnection(services: Services): Promise<string | undefined> {
  const connections = services.store.list();
  if (connections.length === 0) {
    void vscode.window.showInformationMessage('Connect a Cluster: add a connection to kas first.');
    return undefined;
  }
  if (connections.length === 1) return connections[0]!.id;
  const picked = await vscode.window.showQuickPick(
    connections.map((c) => ({ label: c.label, description: c.apiUrl, id: c.id })),
    { title: 'Connect a Cluster: which kas?' },
  );
  return picked?.id;
}

async function chooseAgent(agents: AgentInfo[]): Promise<{ id?: number; name: string } | undefined> {
  const items = [
    { label: NEW_AGENT, agent: undefined as AgentInfo | undefined },
    ...agents.map((a) => ({ label: a.name, description: a.connections.length ? 'connected' : 'not connected', agent: a })),
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'Connect a Cluster (1/2): agent', ignoreFocusOut: true });
  if (!picked) return undefined;
  if (picked.agent) return { id: Number(picked.agent.id), name: picked.agent.name };
  const names = agents.map((a) => a.name);
  const name = await vscode.window.showInputBox({
    title: 'Connect a Cluster (2/2): new agent name',
    prompt: 'The folder .gitlab/agents/<name>/ kas creates in the config repository (lowercase letters, digits, "-")',
    placeHolder: 'production',
    ignoreFocusOut: true,
    validateInput: (value) => agentNameProblem(value, names),
  });
  return name ? { name: name.trim() } : undefined;
}

async function showManifest(install: CreateAgentInstallResponse): Promise<void> {
  const document = await vscode.workspace.openTextDocument({ language: 'yaml', content: install.manifest });
  await vscode.window.showTextDocument(document, { preview: false });
}

async function offerInstall(services: Services, install: CreateAgentInstallResponse): Promise<void> {
  const actions = ['Apply to Current Context…', 'Copy Install Command', 'Copy Manifest'] as const;
  const choice = await vscode.window.showInformationMessage(
    `Agent "${install.agentName}" has a new token. Install agentk with the manifest (opened; it holds the token) or its one-line command: kubectl apply -f - with the manifest.`,
    ...actions,
  );
  try {
    if (choice === 'Copy Install Command') await vscode.env.clipboard.writeText(install.installCommand);
    if (choice === 'Copy Manifest') await vscode.env.clipboard.writeText(install.manifest);
    if (choice === 'Apply to Current Context…') await confirmAndApply(services, install);
  } catch (error) {
    services.output.appendLine(`Connect a Cluster: installing ${install.agentName} failed: ${userMessage(error)}`);
    void vscode.window.showErrorMessage(`Could not install agentk: ${userMessage(error)}`);
  }
}

async function confirmAndApply(services: Services, install: CreateAgentInstallResponse): Promise<void> {
  const { context, server } = await currentContext();
  const confirmed = await vscode.window.showWarningMessage(
    `Apply the agentk manifest for agent "${install.agentName}" to kubeconfig context "${context}" (${server})?`,
    { modal: true, detail: 'It creates a namespace, a service account bound to cluster-admin, the token Secret and a Deployment.' },
    'Apply',
  );
  if (confirmed !== 'Apply') return;
  const applied = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Applying agentk for "${install.agentName}" to ${context}…` },
    () => applyManifest(install.manifest),
  );
  services.output.appendLine(`Connect a Cluster: applied to ${context}: ${applied.join(', ')}`);
  void vscode.window.showInformationMessage(`Applied ${applied.length} objects to "${context}"; waiting for agentk to connect.`);
}

/** Reads the agents list until the agent has a connection (or the user cancels). */
async function waitForConnection(services: Services, connectionId: string, install: CreateAgentInstallResponse): Promise<void> {
  const connected = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `Waiting for agent ${install.agentName} to connect`, cancellable: true },
    async (_progress, cancel) => {
      const deadline = Date.now() + WAIT_LIMIT_MS;
      while (!cancel.isCancellationRequested && Date.now() < deadline) {
        const agent = await services.sessions
          .get(connectionId)
          .then((s) => s.kas.agents())
          .then((all) => all.find((a) => Number(a.id) === install.agentId))
          .catch(() => undefined);
        if (agent && agent.connections.length > 0) return agent;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      return undefined;
    },
  );
  if (!connected) return;
  await services.model.refresh();
  services.output.appendLine(`Connect a Cluster: agent ${install.agentName} connected`);
  const pods = connected.connections.map((c) => `${c.podNamespace}/${c.podName}`).join(', ');
  void vscode.window.showInformationMessage(`Agent "${install.agentName}" is connected (${pods}).`);
}
