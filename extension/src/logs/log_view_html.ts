// The log view's page: static markup, a Content Security Policy that allows only our script and
// style (each carrying the panel's nonce), and colours from VS Code's theme variables.
// Highlighting needs two more grants, both as narrow as they can be: 'wasm-unsafe-eval' lets the
// script compile the Oniguruma WebAssembly module (no JavaScript eval), and connect-src lets it
// fetch that module from the extension's own files.

/**
 * @param onigWasmUri webview URI of dist/webviews/onig.wasm; without it the lines are shown
 *   plain (the page asks for no WebAssembly or fetch grant then).
 */
export function logViewHtml(cspSource: string, nonce: string, scriptUri: string, onigWasmUri?: string): string {
  const highlighting = onigWasmUri === undefined ? '' : ` 'wasm-unsafe-eval'; connect-src ${cspSource}`;
  const csp = `default-src 'none'; img-src ${cspSource}; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'${highlighting};`;
  const wasmAttribute = onigWasmUri === undefined ? '' : ` data-onig-wasm="${escapeAttribute(onigWasmUri)}"`;
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
  /* Rows off screen skip layout and paint: a view of 50,000 lines stays quick to append to and colour. */
  .line { content-visibility: auto; contain-intrinsic-block-size: auto 1.4em; }
  .line.restart { color: var(--vscode-editorWarning-foreground); font-style: italic; margin: 4px 0; }
  /* Token classes from webviews/logview/highlight.ts (grammar scopes), in theme colours. */
  span.level-error { color: var(--vscode-errorForeground); font-weight: 600; }
  span.level-warn { color: var(--vscode-editorWarning-foreground); font-weight: 600; }
  span.level-info { color: var(--vscode-editorInfo-foreground); }
  span.level-debug { color: var(--vscode-descriptionForeground); }
  span.log-date { color: var(--vscode-descriptionForeground); }
  span.log-key { color: var(--vscode-debugTokenExpression-name); }
  span.log-string { color: var(--vscode-debugTokenExpression-string); }
  span.log-number { color: var(--vscode-debugTokenExpression-number); }
  span.log-constant { color: var(--vscode-debugTokenExpression-boolean); }
  span.log-source { color: var(--vscode-textLink-foreground); }
  span.log-keyword { color: var(--vscode-symbolIcon-keywordForeground, var(--vscode-debugTokenExpression-name)); font-weight: 600; }
  span.log-message { color: var(--vscode-editor-foreground); }
</style>
<title>Pod logs</title>
</head>
<body${wasmAttribute}>
<header>
  <span id="title"></span>
  <label><input type="checkbox" id="follow" checked> Follow</label>
  <button id="pause">Pause</button>
  <input type="text" id="filter" placeholder="Filter" aria-label="Filter lines">
  <button id="download">Download</button>
  <button id="previous" title="The container's logs from before its last restart">Previous logs</button>
</header>
<div id="state" role="status"></div>
<div id="log" role="log"></div>
<script nonce="${nonce}" src="${scriptUri}"></script>
</body>
</html>`;
}

/** URIs are ours, but a quote in a path must not end the attribute. */
function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}
