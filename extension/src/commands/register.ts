// Every command of the extension, bound to its handler. Command ids are listed in package.json
// (contributes.commands) with their menus.
import * as vscode from 'vscode';
import type { ConfigEditorSupport } from '../config_editor/config_editor';
import type { LocalPairController } from '../local_pair/local_pair_controller';
import { COMMAND_PREFIX, Services } from '../services';
import type { AgentsNode } from '../trees/nodes';
import { connectCluster } from '../connect_cluster/connect_cluster';
import { argumentOrSelection } from './command_target';
import { showPreviousLogs } from '../logs/log_commands';
import { openTerminal, PortForwards } from './stream_commands';
import { addConnection, removeConnection } from './connection_commands';
import {
  copyKubeconfig,
  createRestrictedNamespace,
  deletePod,
  openAgentConfig,
  reportFailure,
  showPodLogs,
  validateAgentConfig,
} from './cluster_commands';

export function registerCommands(
  services: Services,
  localPair: LocalPairController,
  configEditor: ConfigEditorSupport,
  agentsView: vscode.TreeView<AgentsNode>,
): vscode.Disposable[] {
  const diagnostics = vscode.languages.createDiagnosticCollection('kubernetesAgents.agentConfig');
  const portForwards = new PortForwards(services.model.forwards);
  const target = <K extends AgentsNode['kind']>(arg: unknown, ...kinds: K[]) => argumentOrSelection(arg, agentsView.selection, kinds);
  const handlers: Record<string, (...args: unknown[]) => Promise<unknown>> = {
    addConnection: (args) => addConnection(services, isPlainObject(args) ? args : {}),
    removeConnection: (node) => removeConnection(services, target(node, 'connection')),
    connectCluster: (node) => reportFailure(services, 'Connect a Cluster', () => connectCluster(services, target(node, 'connection'))),
    refresh: () => services.model.refresh(),
    showPodLogs: (node) => reportFailure(services, 'Show Pod Logs', () => showPodLogs(services, target(node, 'pod', 'container'))),
    showPreviousLogs: (node) =>
      reportFailure(services, 'Show Previous Logs', () => showPreviousLogs(services, target(node, 'pod', 'container'))),
    deletePod: (node) => reportFailure(services, 'Delete Pod', () => deletePod(services, target(node, 'pod'))),
    copyKubeconfig: (node) => reportFailure(services, 'Copy Kubeconfig', () => copyKubeconfig(services, target(node, 'agent'))),
    createRestrictedNamespace: (node) =>
      reportFailure(services, 'Create Restricted Namespace', () => createRestrictedNamespace(services, target(node, 'agent', 'namespace'))),
    openAgentConfig: (node) => reportFailure(services, 'Open Agent Config', () => openAgentConfig(services, target(node, 'agent'))),
    validateAgentConfig: (node) =>
      reportFailure(services, 'Validate Agent Config', () =>
        validateAgentConfig(services, diagnostics, configEditor, target(node, 'agent')),
      ),
    openTerminal: (node) => reportFailure(services, 'Open Terminal', () => openTerminal(services, target(node, 'pod', 'container'))),
    portForward: (node) =>
      reportFailure(services, 'Port Forward', async () => {
        const pod = target(node, 'pod');
        if (pod) await portForwards.start(services, pod);
      }),
    stopPortForward: (node) => reportFailure(services, 'Stop Port Forward', () => portForwards.stop(target(node, 'portForward'))),
    startLocalPair: () => reportFailure(services, 'Start Local Pair', () => localPair.start()),
    stopLocalPair: () => reportFailure(services, 'Stop Local Pair', () => localPair.stop()),
  };
  return [
    diagnostics,
    portForwards,
    ...Object.entries(handlers).map(([name, handler]) => vscode.commands.registerCommand(`${COMMAND_PREFIX}.${name}`, handler)),
  ];
}

function isPlainObject(value: unknown): value is Record<string, string> {
  // A tree item passes its node as the first argument; only a plain argument object counts.
  return typeof value === 'object' && value !== null && !('kind' in value);
}
