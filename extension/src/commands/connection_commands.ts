// Add Connection (also "Connect") and Remove Connection (also "Disconnect").
import * as vscode from 'vscode';
import type { NewConnection } from '../connections/connection_store';
import { ConnectionInputError } from '../connections/connection_store';
import { createSession } from '../connections/sessions';
import { KasClientError, userMessage } from '../kas_client/errors';
import { parseHttpUrl, readCaFile } from '../kas_client/http';
import type { Services } from '../services';
import type { ConnectionNode } from '../trees/nodes';

/** Arguments for scripted use (tests, other extensions); anything missing is asked for. */
export interface AddConnectionArgs {
  label?: string;
  apiUrl?: string;
  k8sProxyUrl?: string;
  token?: string;
  caFile?: string;
}

const urlProblem = (value: string) => {
  try {
    parseHttpUrl(value.trim());
    return undefined;
  } catch {
    return 'Enter an http:// or https:// URL';
  }
};

async function ask(args: AddConnectionArgs): Promise<{ connection: NewConnection; token: string } | undefined> {
  const apiUrl =
    args.apiUrl ??
    (await vscode.window.showInputBox({
      title: 'Add Connection (1/4)',
      prompt: 'kas API URL',
      placeHolder: 'https://kas.example.com/',
      ignoreFocusOut: true,
      validateInput: urlProblem,
    }));
  if (!apiUrl) return undefined;
  const suggestedProxy = new URL('k8s-proxy/', parseHttpUrl(apiUrl.trim())).toString();
  const k8sProxyUrl =
    args.k8sProxyUrl ??
    (await vscode.window.showInputBox({
      title: 'Add Connection (2/4)',
      prompt: 'kas Kubernetes API proxy URL',
      value: suggestedProxy,
      ignoreFocusOut: true,
      validateInput: urlProblem,
    }));
  if (!k8sProxyUrl) return undefined;
  const token =
    args.token ??
    (await vscode.window.showInputBox({
      title: 'Add Connection (3/4)',
      prompt: 'Personal access token (kept in secret storage)',
      password: true,
      ignoreFocusOut: true,
    }));
  if (!token) return undefined;
  const caFile =
    args.caFile ??
    (await vscode.window.showInputBox({
      title: 'Add Connection (4/4)',
      prompt: 'CA certificate file (PEM) for kas; leave empty when its certificate is publicly trusted',
      ignoreFocusOut: true,
    }));
  if (caFile === undefined) return undefined;
  const label = args.label ?? new URL(apiUrl.trim()).host;
  return {
    connection: { label, apiUrl: apiUrl.trim(), k8sProxyUrl: k8sProxyUrl.trim(), caFile: caFile.trim() || undefined, origin: 'user' },
    token: token.trim(),
  };
}

export async function addConnection(services: Services, args: AddConnectionArgs = {}): Promise<boolean> {
  let input: Awaited<ReturnType<typeof ask>>;
  try {
    input = await ask(args);
  } catch (error) {
    void vscode.window.showErrorMessage(`Could not add the connection: ${userMessage(error)}`);
    return false;
  }
  if (!input) return false;
  try {
    // Check the token before saving anything, so a typo does not leave a broken connection.
    const probe = createSession({ ...input.connection, id: 'probe' }, input.token, await readCaFile(input.connection.caFile));
    await probe.kas.agents();
    await services.store.add(input.connection, input.token);
    services.output.appendLine(`connection added: ${input.connection.apiUrl}`);
    return true;
  } catch (error) {
    const text = userMessage(error);
    services.output.appendLine(
      `add connection to ${input.connection.apiUrl} failed: ${error instanceof KasClientError || error instanceof ConnectionInputError ? error.code : text}`,
    );
    void vscode.window.showErrorMessage(`Could not connect to ${input.connection.apiUrl}: ${text}`);
    return false;
  }
}

export async function removeConnection(services: Services, node?: ConnectionNode): Promise<void> {
  let id = node?.connectionId;
  if (!id) {
    const picked = await vscode.window.showQuickPick(
      services.store.list().map((c) => ({ label: c.label, description: c.apiUrl, id: c.id })),
      { title: 'Remove Connection' },
    );
    id = picked?.id;
  }
  if (!id) return;
  await services.store.remove(id);
  await services.model.prune();
}
