// Managed Apps commands in VS Code: Install / Upgrade, Uninstall, Show Install Logs. The flows
// live in managedApps/actions.ts; this file only maps its UI interface onto quick picks, an
// untitled YAML editor for values, notifications, and the log view.
import * as vscode from 'vscode';
import { userMessage } from '../kas_client/errors';
import { openLogPanel } from '../logs/log_panel';
import { ManagedAppsActions, type ManagedAppsUi } from '../managed_apps/actions';
import { bundledCatalog, type CatalogApp } from '../managed_apps/catalog';
import type { ManagedAppsRegistry } from '../managed_apps/registry';
import type { AppNode } from '../managed_apps/tree';
import { valuesDocumentName } from '../managed_apps/values';
import { COMMAND_PREFIX, type Services } from '../services';
import type { AgentNode } from '../trees/nodes';
import { pickAgent } from './pick_agent';

type Target = { connectionId: string; agentId: string; app?: string };

export function registerManagedAppsCommands(services: Services, registry: ManagedAppsRegistry): vscode.Disposable[] {
  const run =
    (title: string, body: (actions: ManagedAppsActions, target: Target) => Promise<unknown>) => async (node?: AppNode | AgentNode) => {
      try {
        const target = node ? targetOf(node) : await pickAgent(services);
        if (!target) return;
        const model = await registry.model(target.connectionId, target.agentId);
        await body(new ManagedAppsActions(model, bundledCatalog(), vscodeUi(services, target)), target);
      } catch (error) {
        services.output.appendLine(`${title} failed: ${userMessage(error)}`);
        void vscode.window.showErrorMessage(`${title} failed: ${userMessage(error)}`);
      }
    };
  const commands: Record<string, (node?: AppNode | AgentNode) => Promise<void>> = {
    installManagedApp: run('Install Managed App', (actions, target) => actions.install(target.app)),
    upgradeManagedApp: run('Upgrade Managed App', (actions, target) => actions.install(target.app)),
    uninstallManagedApp: run('Uninstall Managed App', (actions, target) => actions.uninstall(target.app)),
    showManagedAppLogs: run('Show Install Logs', (actions, target) => actions.showLogs(target.app)),
  };
  return Object.entries(commands).map(([name, handler]) => vscode.commands.registerCommand(`${COMMAND_PREFIX}.${name}`, handler));
}

function targetOf(node: AppNode | AgentNode): Target {
  return node.kind === 'managedApp'
    ? { connectionId: node.connectionId, agentId: node.agentId, app: node.app.app }
    : { connectionId: node.connectionId, agentId: node.agent.id };
}

function vscodeUi(services: Services, target: Target): ManagedAppsUi {
  return {
    pickApp: async (apps, placeholder) =>
      (
        await vscode.window.showQuickPick(
          apps.map((app) => ({ label: app.title, description: app.state.replace(/_/g, ' '), app: app.app })),
          { placeHolder: placeholder },
        )
      )?.app,
    editValues: (app, text, problem) => editValues(app, text, problem),
    confirm: async (message, action) => (await vscode.window.showWarningMessage(message, { modal: true }, action)) === action,
    info: (message) => void vscode.window.showInformationMessage(message),
    error: (message, actions = []) => Promise.resolve(vscode.window.showErrorMessage(message, ...actions)),
    openLiveLog: (logTarget) => {
      void services.model.kube(target.connectionId, target.agentId).then(
        (client) => openLogPanel(services.context.extensionUri, client, logTarget, { follow: true, tailLines: 5000 }),
        (error: unknown) => void vscode.window.showErrorMessage(`Show Install Logs failed: ${userMessage(error)}`),
      );
    },
    openSavedLog: async (_title, text) => {
      const document = await vscode.workspace.openTextDocument({ content: text, language: 'log' });
      await vscode.window.showTextDocument(document, { preview: true });
    },
  };
}

/**
 * Values are edited in an untitled YAML editor named after the app; a notification waits for
 * Install or Cancel, so the user can edit while it is shown. The text is validated by the caller.
 */
async function editValues(app: CatalogApp, text: string, problem?: string): Promise<string | undefined> {
  // An untitled URI with a name: VS Code reuses the document if it is still open, so its text is set here.
  const uri = vscode.Uri.from({ scheme: 'untitled', path: valuesDocumentName(app.name) });
  let document = await vscode.workspace.openTextDocument(uri);
  const edit = new vscode.WorkspaceEdit();
  edit.replace(uri, new vscode.Range(0, 0, document.lineCount, 0), text);
  await vscode.workspace.applyEdit(edit);
  if (document.languageId !== 'yaml') document = await vscode.languages.setTextDocumentLanguage(document, 'yaml');
  await vscode.window.showTextDocument(document, { preview: false });
  const prompt = problem
    ? `${app.title}: ${problem}. Fix the values, then choose Install.`
    : `${app.title} ${app.version} (${app.chart}): edit the values, then choose Install.`;
  const choice = await vscode.window.showInformationMessage(prompt, 'Install', 'Cancel');
  const edited = choice === 'Install' ? document.getText() : undefined;
  await closeWithoutSaving(document);
  return edited;
}

/** The untitled values editor has served its purpose: close it without a save prompt. */
async function closeWithoutSaving(document: vscode.TextDocument): Promise<void> {
  if (document.isClosed) return;
  await vscode.window.showTextDocument(document, { preview: false });
  await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
}
