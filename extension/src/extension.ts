// Entry point: wires the stores, the model, the two tree views and the commands. All logic
// lives in the feature folders; this file only connects them.
import { moduleStartedAt } from './start_time';
import * as vscode from 'vscode';
import { ConnectionStore } from './connections/connection_store';
import { SessionRegistry } from './connections/sessions';
import { registerCommands } from './commands/register';
import { ConfigEditorSupport } from './config_editor/config_editor';
import { LocalPairController } from './local_pair/local_pair_controller';
import type { Services } from './services';
import { AgentsModel } from './trees/agents_model';
import { registerManagedAppsCommands } from './commands/managed_apps_commands';
import { registerDashboardCommands } from './dashboard/dashboard_commands';
import { registerResourceCommands } from './commands/resource_commands';
import { registerTreeCommands } from './trees/tree_commands';
import { kubeConfigFromParts } from './managed_apps/kube';
import { ManagedAppsRegistry } from './managed_apps/registry';
import { AppsTreeNode, appsTreeChildren, presentAppsTreeNode } from './managed_apps/tree';
import { AgentsNode, present } from './trees/nodes';
import { ModelTreeProvider } from './trees/tree_provider';

/** Set when the bundle's module code has run (all imports initialised). */
const moduleEvaluatedAt = performance.now();
let localPair: LocalPairController | undefined;
let model: AgentsModel | undefined;
let managedApps: ManagedAppsRegistry | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const started = performance.now();
  // A log channel: also written to the extension host's log folder, where tests can read it.
  const output = vscode.window.createOutputChannel('Kubernetes Agents', { log: true });
  const store = new ConnectionStore(context.globalState, context.secrets);
  const sessions = new SessionRegistry(store);
  const refreshViews = coalesce(() => {
    agents.refresh();
    apps.refresh();
  }, 100);
  model = new AgentsModel({ connections: () => store.list(), session: (id) => sessions.get(id), onChange: refreshViews });
  const services: Services = { context, store, sessions, model, output, refreshViews };
  const agentsModel = model;
  const agents = new ModelTreeProvider<AgentsNode>({ children: (node) => agentsModel.children(node), present });
  // One managed-apps model per agent, watching gitlab-managed-apps in the background.
  const appsRegistry = new ManagedAppsRegistry({
    kubeConfigFor: async (connectionId, agentId) => kubeConfigFromParts((await sessions.get(connectionId)).kubeconfigParts(agentId)),
    onChange: () => refreshViews(),
    onBackgroundError: (error) => output.warn(`managed apps: ${error.message}`),
  });
  managedApps = appsRegistry;
  const apps = new ModelTreeProvider<AppsTreeNode>({
    children: (node) => appsTreeChildren(appsRegistry, agentsModel, () => store.list(), node),
    present: presentAppsTreeNode,
  });
  localPair = new LocalPairController(services);
  const configEditor = new ConfigEditorSupport();

  const updateConnectionContext = () =>
    void vscode.commands.executeCommand('setContext', 'kubernetesAgents.connectionCount', store.list().length);
  updateConnectionContext();
  const agentsView = vscode.window.createTreeView('kubernetesAgents.agents', { treeDataProvider: agents, showCollapseAll: true });
  context.subscriptions.push(
    output,
    agents,
    apps,
    localPair,
    configEditor,
    agentsView,
    vscode.window.createTreeView('kubernetesAgents.managedApps', { treeDataProvider: apps }),
    store.onDidChange(() => {
      updateConnectionContext();
      refreshViews();
      appsRegistry
        .retainConnections(new Set(store.list().map((c) => c.id)))
        .catch((error: unknown) => output.warn(`managed apps: ${String(error)}`));
    }),
    ...registerCommands(services, localPair, configEditor, agentsView),
    ...registerManagedAppsCommands(services, appsRegistry),
    ...registerDashboardCommands(services, appsRegistry, agentsView),
    ...registerResourceCommands(services, agentsView),
    ...registerTreeCommands(services, agentsView),
  );
  const activateMs = performance.now() - started;
  const moduleMs = moduleEvaluatedAt - moduleStartedAt;
  output.info(`activated in ${activateMs.toFixed(1)} ms (${(activateMs + moduleMs).toFixed(1)} ms with module initialisation)`);
}

export async function deactivate(): Promise<void> {
  await localPair?.stop();
  await model?.dispose();
  await managedApps?.dispose();
}

/** Runs `action` once, `ms` after the first of a burst of calls (watch events come in bursts). */
function coalesce(action: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      action();
    }, ms);
  };
}
