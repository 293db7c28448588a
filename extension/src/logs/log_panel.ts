// Show Pod Logs: a webview panel per container, fed by a LogSession. The page is static HTML
// with a strict Content Security Policy (scripts and styles only with a per-panel nonce),
// themed through VS Code's CSS variables; the page highlights lines itself with the log grammar
// (onig.wasm is one of its resources), so the extension host only forwards text.
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import type { ExtensionToWebview, LogTarget } from '../../../webviews/logview/messages';
import { isWebviewToExtension } from '../../../webviews/logview/messages';
import type { KubeClient } from '../kas_client/kube_client';
import { LogSession } from './log_session';
import { logViewHtml } from './log_view_html';

export const LOG_VIEW_TYPE = 'kubernetesAgents.podLogs';

export function openLogPanel(
  extensionUri: vscode.Uri,
  client: KubeClient,
  target: LogTarget,
  options: { follow: boolean; tailLines: number; previous?: boolean },
): vscode.WebviewPanel {
  const title = `Logs: ${target.pod}/${target.container}${options.previous ? ' (previous)' : ''}`;
  const panel = vscode.window.createWebviewPanel(LOG_VIEW_TYPE, title, vscode.ViewColumn.Active, {
    enableScripts: true,
    retainContextWhenHidden: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webviews')],
  });
  const nonce = randomBytes(18).toString('base64');
  const resource = (name: string) => panel.webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webviews', name)).toString();
  panel.webview.html = logViewHtml(panel.webview.cspSource, nonce, resource('logview.js'), resource('onig.wasm'));

  // Messages wait until the page says it is ready, so none is lost while it loads.
  const queue: ExtensionToWebview[] = [{ type: 'init', target, ...options }];
  let ready = false;
  const post = (message: ExtensionToWebview) => {
    if (ready) void panel.webview.postMessage(message);
    else queue.push(message);
  };
  const session = new LogSession(client, target, options, {
    lines: (lines) => post({ type: 'lines', lines }),
    state: (state, detail) => post({ type: 'state', state, detail }),
    restarted: (restartCount) => post({ type: 'restarted', restartCount }),
  });
  panel.webview.onDidReceiveMessage(async (message: unknown) => {
    if (!isWebviewToExtension(message)) return;
    if (message.type === 'ready') {
      ready = true;
      for (const queued of queue.splice(0)) void panel.webview.postMessage(queued);
    } else if (message.type === 'previous') {
      openLogPanel(extensionUri, client, target, { follow: false, tailLines: options.tailLines, previous: true });
    } else {
      await saveLogs(target, message.text);
    }
  });
  panel.onDidDispose(() => void session.stop());
  session.start();
  return panel;
}

async function saveLogs(target: LogTarget, text: string): Promise<void> {
  const uri = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(`${target.pod}-${target.container}.log`),
    filters: { Logs: ['log', 'txt'] },
  });
  if (!uri) return;
  await vscode.workspace.fs.writeFile(uri, Buffer.from(text, 'utf8'));
}
