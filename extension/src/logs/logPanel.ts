// Show Pod Logs: a webview panel per container, fed by a LogSession. The page is static HTML
// with a strict Content Security Policy (scripts and styles only with a per-panel nonce),
// themed through VS Code's CSS variables.
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import type { ExtensionToWebview, LogTarget } from '../../../webviews/logview/messages';
import { isWebviewToExtension } from '../../../webviews/logview/messages';
import type { KubeClient } from '../kasClient/kubeClient';
import { LogSession } from './logSession';

export const LOG_VIEW_TYPE = 'kubernetesAgents.podLogs';

export function openLogPanel(extensionUri: vscode.Uri, client: KubeClient, target: LogTarget, options: { follow: boolean; tailLines: number }): vscode.WebviewPanel {
  const panel = vscode.window.createWebviewPanel(LOG_VIEW_TYPE, `Logs: ${target.pod}/${target.container}`, vscode.ViewColumn.Active, {
    enableScripts: true,
    retainContextWhenHidden: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webviews')],
  });
  const nonce = randomBytes(18).toString('base64');
  const script = panel.webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webviews', 'logview.js'));
  panel.webview.html = logViewHtml(panel.webview.cspSource, nonce, script.toString());

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
  });
  panel.webview.onDidReceiveMessage(async (message: unknown) => {
    if (!isWebviewToExtension(message)) return;
    if (message.type === 'ready') {
      ready = true;
      for (const queued of queue.splice(0)) void panel.webview.postMessage(queued);
    } else {
      await saveLogs(target, message.text);
    }
  });
  panel.onDidDispose(() => void session.stop());
  session.start();
  return panel;
}

async function saveLogs(target: LogTarget, text: string): Promise<void> {
  const uri = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(`${target.pod}-${target.container}.log`), filters: { Logs: ['log', 'txt'] } });
  if (!uri) return;
  await vscode.workspace.fs.writeFile(uri, Buffer.from(text, 'utf8'));
}

export function logViewHtml(cspSource: string, nonce: string, scriptUri: string): string {
  const csp = `default-src 'none'; img-src ${cspSource}; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style nonce="${nonce}">
  body { margin: 0; padding: 0; color: var(--vscode-editor-foreground); background: var(--vscode-editor-background); font-family: var(--vscode-font-family); display: flex; flex-direction: column; height: 100vh; }
  header { display: flex; gap: 8px; align-items: center; padding: 4px 8px; border-bottom: 1px solid var(--vscode-panel-border); flex-wrap: wrap; }
  #title { font-weight: 600; margin-right: auto; }
  button { color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 2px 10px; cursor: pointer; }
  button:hover { background: var(--vscode-button-hoverBackground); }
  input[type=text] { color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); padding: 2px 4px; }
  #state { padding: 4px 8px; color: var(--vscode-descriptionForeground); }
  body[data-state=podFailed] #state, body[data-state=error] #state { color: var(--vscode-errorForeground); }
  body[data-state=podDeleted] #state, body[data-state=waiting] #state { color: var(--vscode-editorWarning-foreground); }
  #log { flex: 1; overflow: auto; font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); white-space: pre-wrap; padding: 0 8px; }
  .timestamp { color: var(--vscode-descriptionForeground); }
  span.level-error { color: var(--vscode-errorForeground); font-weight: 600; }
  span.level-warn { color: var(--vscode-editorWarning-foreground); font-weight: 600; }
  span.level-info { color: var(--vscode-editorInfo-foreground); }
  span.level-debug { color: var(--vscode-descriptionForeground); }
</style>
<title>Pod logs</title>
</head>
<body>
<header>
  <span id="title"></span>
  <label><input type="checkbox" id="follow" checked> Follow</label>
  <button id="pause">Pause</button>
  <input type="text" id="filter" placeholder="Filter" aria-label="Filter lines">
  <button id="download">Download</button>
</header>
<div id="state" role="status"></div>
<div id="log" role="log"></div>
<script nonce="${nonce}" src="${scriptUri}"></script>
</body>
</html>`;
}
