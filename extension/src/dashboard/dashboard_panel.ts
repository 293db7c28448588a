// The agent dashboard panel: one webview per (connection, agent), with the page's strict CSP
// (dashboard_html.ts), fed by a DashboardController from the watch cache and kas's REST API.
// The page's actions hand over to the workbench's commands (logs, delete, config, managed
// apps); actions a kind has no command for yet say so instead of failing silently.
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import type { DashboardAction, ExtensionToWebview, ManagedAppRow, ResourceRef } from '../../../webviews/dashboard/messages';
import { isWebviewToExtension } from '../../../webviews/dashboard/messages';
import type { KubeObject, Pod } from '../kas_client/kube_client';
import type { ManagedAppsRegistry } from '../managed_apps/registry';
import { COMMAND_PREFIX, type Services } from '../services';
import type { AgentNode, PodNode, ResourceNode } from '../trees/nodes';
import { DashboardController } from './dashboard_controller';
import { BUILTIN_KINDS } from '../cache/kinds';
import { dashboardHtml } from './dashboard_html';
import { cacheSource } from './source';

export const DASHBOARD_VIEW_TYPE = 'kubernetesAgents.dashboard';

export interface DashboardTarget {
  connectionId: string;
  agentId: string;
  agentName: string;
  namespace?: string;
}

interface OpenPanel {
  panel: vscode.WebviewPanel;
  controller: DashboardController;
}

const open = new Map<string, OpenPanel>();

/** Opens (or reveals, switching namespace when one is given) the agent's dashboard. */
export function openDashboard(services: Services, apps: ManagedAppsRegistry, target: DashboardTarget): vscode.WebviewPanel {
  const key = `${target.connectionId}\u0000${target.agentId}`;
  const existing = open.get(key);
  if (existing) {
    existing.panel.reveal();
    if (target.namespace) existing.controller.handle({ type: 'selectNamespace', namespace: target.namespace });
    return existing.panel;
  }
  const extensionUri = services.context.extensionUri;
  const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, `Dashboard: ${target.agentName}`, vscode.ViewColumn.Active, {
    enableScripts: true,
    retainContextWhenHidden: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webviews')],
  });
  const nonce = randomBytes(18).toString('base64');
  const script = panel.webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webviews', 'dashboard.js')).toString();
  panel.webview.html = dashboardHtml(panel.webview.cspSource, nonce, script);

  // Messages wait until the page says it is ready, so none is lost while it loads.
  const queue: ExtensionToWebview[] = [];
  let ready = false;
  const post = (message: ExtensionToWebview) => {
    if (ready) void panel.webview.postMessage(message);
    else queue.push(message);
  };
  const source = cacheSource(services.model.caches.forAgent(target.connectionId, target.agentId), async () =>
    (await services.sessions.get(target.connectionId)).kubeconfigParts(target.agentId),
  );
  const controller = new DashboardController({
    agentId: target.agentId,
    agentName: target.agentName,
    namespace: target.namespace,
    source,
    agent: async () => (await services.model.loadAgents(target.connectionId)).find((a) => a.id === target.agentId),
    figures: async (signal) => (await services.sessions.get(target.connectionId)).kas.tunnelFigures(target.agentId, signal),
    apps: () => appRows(apps, target),
    post,
  });
  panel.webview.onDidReceiveMessage((message: unknown) => {
    if (!isWebviewToExtension(message)) return;
    if (message.type === 'ready') {
      ready = true;
      for (const queued of queue.splice(0)) void panel.webview.postMessage(queued);
      return;
    }
    if (message.type === 'action') void runAction(services, controller, target, message.action, message.ref);
    else if (message.type === 'openConfig') void openConfig(services, target);
    else if (message.type === 'openManagedApps') void vscode.commands.executeCommand('kubernetesAgents.managedApps.focus');
    else controller.handle(message);
  });
  panel.onDidDispose(() => {
    open.delete(key);
    void controller.stop(); // never rejects
  });
  open.set(key, { panel, controller });
  controller.start();
  return panel;
}

function appRows(apps: ManagedAppsRegistry, target: DashboardTarget): ManagedAppRow[] | null {
  const view = apps.view(target.connectionId, target.agentId);
  if (view.state !== 'ready') return null;
  return view.apps.filter((app) => app.state !== 'installable').map((app) => ({ name: app.title, state: app.state }));
}

/** The workbench commands a drawer action hands over to: pod-only ones, and ones for any kind (h15yaml's). */
const POD_COMMANDS: Partial<Record<DashboardAction, string>> = {
  logs: `${COMMAND_PREFIX}.showPodLogs`,
  terminal: `${COMMAND_PREFIX}.openTerminal`,
  portForward: `${COMMAND_PREFIX}.portForward`,
};
const ANY_KIND_COMMANDS: Partial<Record<DashboardAction, string>> = {
  yaml: `${COMMAND_PREFIX}.openYaml`,
  delete: `${COMMAND_PREFIX}.deleteResource`,
};

async function runAction(
  services: Services,
  controller: DashboardController,
  target: DashboardTarget,
  action: DashboardAction,
  ref: ResourceRef,
): Promise<void> {
  const object = controller.objectOf(ref);
  if (!object) {
    void vscode.window.showInformationMessage(`${ref.kind} ${ref.namespace}/${ref.name} no longer exists.`);
    return;
  }
  const available = new Set(await vscode.commands.getCommands(true));
  const node = nodeOf(target, ref, object);
  const command = [ANY_KIND_COMMANDS[action], ref.kind === 'Pod' ? POD_COMMANDS[action] : undefined].find(
    (id): id is string => id !== undefined && available.has(id),
  );
  if (command) {
    services.output.info(`dashboard: ${action} ${ref.kind} ${ref.namespace}/${ref.name}`);
    await vscode.commands.executeCommand(command, node);
    return;
  }
  if (action === 'yaml') {
    // Until a YAML document provider is registered: a read-only-by-intent untitled copy.
    const document = await vscode.workspace.openTextDocument({ language: 'yaml', content: stringify(JSON.parse(JSON.stringify(object))) });
    await vscode.window.showTextDocument(document, { preview: true });
    return;
  }
  if (action === 'delete' && ref.kind === 'Pod' && available.has(`${COMMAND_PREFIX}.deletePod`)) {
    await vscode.commands.executeCommand(`${COMMAND_PREFIX}.deletePod`, node);
    return;
  }
  void vscode.window.showInformationMessage(`${actionTitle(action)} of a ${ref.kind} is not available in this version yet.`);
}

/** The tree node the workbench commands take: a pod node for pods, a resource node otherwise. */
function nodeOf(target: DashboardTarget, ref: ResourceRef, object: unknown): PodNode | ResourceNode {
  const base = { connectionId: target.connectionId, agentId: target.agentId, namespace: ref.namespace };
  if (ref.kind === 'Pod') return { kind: 'pod', ...base, pod: object as Pod };
  return { kind: 'resource', ...base, info: BUILTIN_KINDS[ref.kind], object: object as KubeObject };
}

function actionTitle(action: DashboardAction): string {
  return { logs: 'Logs', terminal: 'A terminal', portForward: 'Port-forward', yaml: 'YAML', delete: 'Delete' }[action];
}

async function openConfig(services: Services, target: DashboardTarget): Promise<void> {
  const agent = services.model.cachedAgents(target.connectionId)?.find((a) => a.id === target.agentId);
  if (!agent) return;
  const node: AgentNode = { kind: 'agent', connectionId: target.connectionId, agent };
  await vscode.commands.executeCommand(`${COMMAND_PREFIX}.openAgentConfig`, node);
}
