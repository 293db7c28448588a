// Checks that run inside a desktop VS Code's extension host (loaded by @vscode/test-electron
// through run.ts). Plain assertions: the host calls run() and a rejection fails the run.
import { strict as assert } from 'node:assert';
import * as vscode from 'vscode';

const EXTENSION_ID = 'agent-workbench.kubernetes-agent-workbench';
const COMMANDS = [
  'addConnection',
  'removeConnection',
  'refresh',
  'showPodLogs',
  'copyKubeconfig',
  'openAgentConfig',
  'startLocalPair',
  'stopLocalPair',
  'createRestrictedNamespace',
  'deletePod',
  'validateAgentConfig',
];

export async function run(): Promise<void> {
  const extension = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is installed in the development host`);
  assert.equal(extension.isActive, false, 'nothing activates the extension before its view or a command');
  await vscode.commands.executeCommand('workbench.view.extension.kubernetesAgents');
  await waitUntil(() => extension.isActive, 'activation when the view opens');
  const registered = new Set(await vscode.commands.getCommands(true));
  for (const name of COMMANDS) assert.ok(registered.has(`kubernetesAgents.${name}`), `command kubernetesAgents.${name} is registered`);
  // A bad URL passed to Add Connection is refused without saving anything.
  const added = await vscode.commands.executeCommand<boolean>('kubernetesAgents.addConnection', {
    apiUrl: 'ftp://nowhere/',
    k8sProxyUrl: 'ftp://nowhere/',
    token: 't',
    caFile: '',
  });
  assert.equal(added, false);
}

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
