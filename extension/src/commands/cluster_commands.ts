// Commands on tree items: Show Pod Logs, Delete Pod, Copy Kubeconfig, Create Restricted
// Namespace, Open Agent Config, Validate Agent Config.
import * as vscode from 'vscode';
import { userMessage } from '../kas_client/errors';
import { podName } from '../kas_client/kube_client';
import { openLogPanel } from '../logs/log_panel';
import type { Services } from '../services';
import { containerNames } from '../trees/format';
import type { AgentNode, ContainerNode, NamespaceNode, PodNode } from '../trees/nodes';
import { ConfigEditorSupport, isAgentConfigDocument } from '../config_editor/config_editor';
import { buildKubeconfig } from './kubeconfig';
import { restrictedNamespaceObjects, validateNamespaceName } from './restricted_namespace';

/** Runs a command body; failures become a notification with a code, never a raw message. */
export async function reportFailure(services: Services, what: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    services.output.appendLine(`${what} failed: ${userMessage(error)}`);
    void vscode.window.showErrorMessage(`${what} failed: ${userMessage(error)}`);
  }
}

function pickHint(what: string): void {
  void vscode.window.showInformationMessage(`${what}: choose an item in the Kubernetes Agents view (right-click it).`);
}

export async function showPodLogs(services: Services, node?: PodNode | ContainerNode): Promise<void> {
  if (!node) return pickHint('Show Pod Logs');
  const podLabel = node.kind === 'pod' ? podName(node.pod) : node.podName;
  let container = node.kind === 'container' ? node.container : undefined;
  if (!container && node.kind === 'pod') {
    const names = containerNames(node.pod);
    container = names.length <= 1 ? names[0] : await vscode.window.showQuickPick(names, { title: `Container of ${podLabel}` });
  }
  if (!container) return;
  const settings = vscode.workspace.getConfiguration('kubernetesAgents.logs');
  const options = { follow: settings.get<boolean>('follow', true), tailLines: settings.get<number>('tailLines', 500) };
  const client = await services.model.kube(node.connectionId, node.agentId);
  openLogPanel(services.context.extensionUri, client, { namespace: node.namespace, pod: podLabel, container }, options);
}

export async function deletePod(services: Services, node?: PodNode): Promise<void> {
  if (!node) return pickHint('Delete Pod');
  const name = podName(node.pod);
  const answer = await vscode.window.showWarningMessage(`Delete pod ${node.namespace}/${name}?`, { modal: true }, 'Delete');
  if (answer !== 'Delete') return;
  const client = await services.model.kube(node.connectionId, node.agentId);
  await client.deletePod(node.namespace, name);
  void vscode.window.showInformationMessage(`Pod ${node.namespace}/${name} deleted.`);
}

export async function copyKubeconfig(services: Services, node?: AgentNode): Promise<void> {
  if (!node) return pickHint('Copy Kubeconfig');
  const session = await services.sessions.get(node.connectionId);
  const parts = session.kubeconfigParts(node.agent.id);
  await vscode.env.clipboard.writeText(
    buildKubeconfig({ contextName: `${session.record.label}-${node.agent.name}`.replace(/[^A-Za-z0-9_.-]/g, '-'), ...parts }),
  );
  void vscode.window.showInformationMessage(`Kubeconfig for agent ${node.agent.name} copied. It contains your token: keep it private.`);
}

export async function createRestrictedNamespace(services: Services, node?: AgentNode | NamespaceNode): Promise<void> {
  if (!node) return pickHint('Create Restricted Namespace');
  const agentId = node.kind === 'agent' ? node.agent.id : node.agentId;
  const project = await vscode.window.showInputBox({
    title: 'Create Restricted Namespace (1/2)',
    prompt: 'Project path (e.g. group/project)',
    ignoreFocusOut: true,
  });
  if (!project) return;
  const suggested = project
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
  const namespace = await vscode.window.showInputBox({
    title: 'Create Restricted Namespace (2/2)',
    prompt: 'Namespace name',
    value: suggested,
    validateInput: validateNamespaceName,
    ignoreFocusOut: true,
  });
  if (!namespace) return;
  const client = await services.model.kube(node.connectionId, agentId);
  await client.createRestrictedNamespace(restrictedNamespaceObjects(namespace, project));
  await services.model.refresh();
  void vscode.window.showInformationMessage(
    `Namespace ${namespace} created for ${project}, with service account ${namespace}-service-account bound to "edit".`,
  );
}

async function findAgentConfig(agentName: string): Promise<vscode.Uri | undefined> {
  const found = await vscode.workspace.findFiles(`.gitlab/agents/${agentName}/config.yaml`, '**/node_modules/**', 1);
  return found[0];
}

export async function openAgentConfig(services: Services, node?: AgentNode): Promise<void> {
  const name = node?.agent.name ?? (await vscode.window.showInputBox({ title: 'Open Agent Config', prompt: 'Agent name' }));
  if (!name) return;
  const uri = (await findAgentConfig(name)) ?? (node ? await localPairConfig(services, node) : undefined);
  if (!uri) {
    void vscode.window.showInformationMessage(
      `No .gitlab/agents/${name}/config.yaml in this workspace. Open the agent's configuration project${node?.agent.configProject ? ` (${node.agent.configProject})` : ''} to edit it.`,
    );
    return;
  }
  await vscode.window.showTextDocument(uri);
}

/** The local pair keeps its configuration repository in the extension's storage. */
async function localPairConfig(services: Services, node: AgentNode): Promise<vscode.Uri | undefined> {
  if (services.store.get(node.connectionId)?.origin !== 'localPair') return undefined;
  const uri = vscode.Uri.joinPath(
    services.context.globalStorageUri,
    'local-pair',
    'config-repo',
    '.gitlab',
    'agents',
    node.agent.name,
    'config.yaml',
  );
  try {
    await vscode.workspace.fs.stat(uri);
    return uri;
  } catch {
    return undefined;
  }
}

/**
 * Validate Agent Config. On an agent: the errors kas reported for its config, as problems on the
 * config file when the workspace has it. From the palette: the local validator (the one kas
 * runs) on the open config file, or on every agent config of the workspace.
 */
export async function validateAgentConfig(
  services: Services,
  diagnostics: vscode.DiagnosticCollection,
  editor: ConfigEditorSupport,
  node?: AgentNode,
): Promise<void> {
  if (!node) return validateLocally(editor);
  const agents = await services.model.loadAgents(node.connectionId);
  const agent = agents.find((a) => a.id === node.agent.id) ?? node.agent;
  const uri = await findAgentConfig(agent.name);
  if (uri) {
    diagnostics.set(
      uri,
      agent.config.errors.map(
        (e) =>
          new vscode.Diagnostic(
            new vscode.Range(Math.max(0, e.line - 1), Math.max(0, e.column - 1), Math.max(0, e.line - 1), Number.MAX_SAFE_INTEGER),
            e.message,
            vscode.DiagnosticSeverity.Error,
          ),
      ),
    );
  }
  const summary = agent.config.valid
    ? 'valid'
    : `invalid (${agent.config.errors.length} error${agent.config.errors.length === 1 ? '' : 's'})`;
  void vscode.window.showInformationMessage(`Agent ${agent.name}: configuration ${summary} according to kas.`);
}

async function validateLocally(editor: ConfigEditorSupport): Promise<void> {
  const active = vscode.window.activeTextEditor?.document;
  const documents =
    active && isAgentConfigDocument(active)
      ? [active]
      : await Promise.all(
          (await vscode.workspace.findFiles('**/.gitlab/agents/*/config.{yaml,yml}', '**/node_modules/**', 200)).map((uri) =>
            vscode.workspace.openTextDocument(uri),
          ),
        );
  if (documents.length === 0) {
    void vscode.window.showInformationMessage('No agent config (.gitlab/agents/<name>/config.yaml) is open or in this workspace.');
    return;
  }
  const problems = documents.map((d) => editor.validate(d).filter((f) => f.severity === 'error').length);
  const total = problems.reduce((a, b) => a + b, 0);
  const message =
    total === 0
      ? `Agent config valid (${documents.length} file${documents.length === 1 ? '' : 's'} checked).`
      : `Agent config: ${total} error${total === 1 ? '' : 's'} in ${problems.filter((p) => p > 0).length} of ${documents.length} file${documents.length === 1 ? '' : 's'}; see Problems.`;
  void (total === 0 ? vscode.window.showInformationMessage(message) : vscode.window.showWarningMessage(message));
}
