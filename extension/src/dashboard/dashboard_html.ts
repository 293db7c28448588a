// The agent dashboard's page: static markup and a Content Security Policy as strict as the log
// view's without its grammar grants: only our script and our style, each with the panel's
// nonce; no fetch, no eval, nothing inline. Colours come from VS Code's theme variables (light,
// dark, high contrast: the high-contrast themes define the contrast borders used here).

export function dashboardHtml(cspSource: string, nonce: string, scriptUri: string): string {
  const csp = `default-src 'none'; img-src ${cspSource}; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style nonce="${nonce}">${STYLE}</style>
<title>Agent dashboard</title>
</head>
<body data-state="loading">
<header>
  <h1 id="title">Agent</h1>
  <label>Namespace <select id="namespace" aria-label="Namespace"></select></label>
  <input type="text" id="filter" placeholder="Filter (/)" aria-label="Filter resources">
</header>
<div id="state" role="status" data-state="loading">Loading…</div>
<section id="overview" aria-label="Counts by status"></section>
<div id="main">
  <section id="resources" aria-labelledby="table-title">
    <h2 id="table-title"></h2>
    <div id="table-header" class="row header" role="row"></div>
    <div id="table" role="grid" tabindex="0" aria-labelledby="table-title"></div>
    <div id="empty" class="muted" hidden></div>
  </section>
  <aside id="drawer" role="dialog" aria-labelledby="drawer-title" hidden></aside>
  <aside id="side">
    <section id="health" aria-label="Agent health"><p class="muted">Waiting for kas…</p></section>
    <section id="apps" aria-label="Managed apps"></section>
  </aside>
</div>
<script nonce="${nonce}" src="${scriptUri}"></script>
</body>
</html>`;
}

/** Status words shown in colour: bad ones in the error colour, in-between ones as warnings. */
const BAD = ['Failed', 'CrashLoopBackOff', 'Deleted', 'errored', 'update_errored', 'uninstall_errored'];
const WARN = ['Pending', 'Progressing', 'Active', 'Terminating', 'Unknown', 'installing', 'updating', 'uninstalling', 'scheduled'];
const GOOD = ['Running', 'Succeeded', 'Available', 'Ready', 'Complete', 'installed', 'updated'];
const statusRule = (words: string[], colour: string) =>
  `${words.map((w) => `span[data-status="${w}"], li[data-status="${w}"] strong, .row[data-status="${w}"] .cell:nth-child(3)`).join(', ')} { color: ${colour}; }`;

const STYLE = `
  body { margin: 0; padding: 0; color: var(--vscode-editor-foreground); background: var(--vscode-editor-background); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); display: flex; flex-direction: column; height: 100vh; }
  h1 { font-size: 1.2em; margin: 0 auto 0 0; }
  h2 { font-size: 1.05em; margin: 4px 0; }
  h3 { font-size: 1em; margin: 8px 0 4px; }
  header { display: flex; gap: 8px; align-items: center; padding: 4px 8px; border-bottom: 1px solid var(--vscode-panel-border); flex-wrap: wrap; }
  button { color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); border: 1px solid var(--vscode-contrastBorder, transparent); padding: 2px 8px; cursor: pointer; font: inherit; }
  button:hover { background: var(--vscode-button-secondaryHoverBackground); }
  button[aria-pressed=true] { color: var(--vscode-button-foreground); background: var(--vscode-button-background); outline: 1px solid var(--vscode-contrastActiveBorder, transparent); }
  button.link { background: none; border: none; color: var(--vscode-textLink-foreground); padding: 0 2px; text-decoration: underline; }
  :focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: -1px; }
  input[type=text], select { color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); padding: 2px 4px; font: inherit; }
  select { color: var(--vscode-dropdown-foreground); background: var(--vscode-dropdown-background); border-color: var(--vscode-dropdown-border, transparent); }
  #state { padding: 4px 8px; color: var(--vscode-descriptionForeground); }
  #state[hidden] { display: none; }
  #state[data-state=kasUnreachable], #state[data-state=agentNotConnected], #state[data-state=error] { color: var(--vscode-errorForeground); background: var(--vscode-inputValidation-errorBackground, transparent); border: 1px solid var(--vscode-inputValidation-errorBorder, transparent); }
  #overview { display: flex; flex-wrap: wrap; gap: 6px; padding: 6px 8px; }
  .card { border: 1px solid var(--vscode-panel-border); padding: 4px; display: flex; flex-direction: column; gap: 4px; min-width: 10em; }
  .card[data-wired=false] { opacity: 0.6; }
  .card-title { display: flex; justify-content: space-between; gap: 8px; font-weight: 600; }
  .chips { display: flex; flex-wrap: wrap; gap: 2px; }
  .chip { padding: 0 4px; font-size: 0.9em; }
  .chip[data-nonzero=false] { opacity: 0.7; }
  #main { flex: 1; display: flex; min-height: 0; border-top: 1px solid var(--vscode-panel-border); }
  #resources { flex: 2; display: flex; flex-direction: column; min-width: 0; padding: 0 8px; }
  #table { flex: 1; overflow: auto; position: relative; font-family: var(--vscode-editor-font-family); }
  .spacer { width: 1px; }
  .row { display: grid; grid-template-columns: minmax(8em, 3fr) minmax(7.5em, 1.2fr) minmax(6.5em, 10em) minmax(3.5em, 5em) minmax(4.5em, 6em) minmax(3.5em, 5em); height: 24px; line-height: 24px; white-space: nowrap; }
  #table .row { position: absolute; top: 0; left: 0; right: 0; cursor: pointer; }
  #table .row[hidden] { display: none; }
  .row .cell { overflow: hidden; text-overflow: ellipsis; padding: 0 4px; }
  .row.header { font-weight: 600; border-bottom: 1px solid var(--vscode-panel-border); }
  #table .row:hover { background: var(--vscode-list-hoverBackground); }
  #table .row[aria-selected=true] { background: var(--vscode-list-inactiveSelectionBackground); color: var(--vscode-list-inactiveSelectionForeground, inherit); outline: 1px dotted var(--vscode-contrastActiveBorder, transparent); }
  #table:focus .row[aria-selected=true] { background: var(--vscode-list-activeSelectionBackground); color: var(--vscode-list-activeSelectionForeground); }
  #empty { padding: 16px 4px; }
  #drawer { flex: 1.6; overflow: auto; padding: 0 8px 8px; border-left: 1px solid var(--vscode-panel-border); background: var(--vscode-sideBar-background, transparent); min-width: 0; }
  #drawer[hidden] { display: none; }
  .drawer-header { display: flex; gap: 8px; align-items: center; position: sticky; top: 0; background: inherit; }
  .drawer-header h2 { margin-right: auto; overflow-wrap: anywhere; }
  .actions { display: flex; gap: 4px; flex-wrap: wrap; margin: 4px 0; }
  .kv { display: grid; grid-template-columns: minmax(8em, max-content) 1fr; gap: 2px 8px; margin: 0; }
  .kv dt { color: var(--vscode-debugTokenExpression-name); overflow-wrap: anywhere; }
  .kv dd { margin: 0; overflow-wrap: anywhere; }
  ul.tree, ul.conditions, ol.events { margin: 0; padding-left: 1.2em; }
  ol.events li { display: grid; grid-template-columns: 3.5em 5em 1fr; gap: 0 4px; margin-bottom: 4px; }
  ol.events li > span:last-child { grid-column: 2 / -1; overflow-wrap: anywhere; }
  ol.events li[data-type=Warning] .event-type { color: var(--vscode-editorWarning-foreground); }
  pre.yaml { font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); background: var(--vscode-textCodeBlock-background); padding: 4px; overflow: auto; margin: 0; border: 1px solid var(--vscode-contrastBorder, transparent); }
  span.yaml-key { color: var(--vscode-debugTokenExpression-name); }
  span.yaml-string { color: var(--vscode-debugTokenExpression-string); }
  span.yaml-number { color: var(--vscode-debugTokenExpression-number); }
  span.yaml-constant { color: var(--vscode-debugTokenExpression-boolean); }
  span.yaml-comment { color: var(--vscode-descriptionForeground); }
  span.yaml-punct { color: var(--vscode-descriptionForeground); }
  #side { flex: 1; overflow: auto; padding: 0 8px; border-left: 1px solid var(--vscode-panel-border); min-width: 16em; }
  #side ul { padding-left: 1.2em; margin: 0; }
  .figures { display: flex; flex-wrap: wrap; gap: 8px; }
  .figure { display: flex; flex-direction: column; }
  .figure-value { font-size: 1.2em; font-weight: 600; }
  canvas { width: 100%; max-width: 300px; height: 60px; margin-top: 4px; }
  .muted { color: var(--vscode-descriptionForeground); }
  .ok { color: var(--vscode-testing-iconPassed, var(--vscode-charts-green)); }
  .error { color: var(--vscode-errorForeground); }
  .warning { color: var(--vscode-editorWarning-foreground); }
  ${statusRule(BAD, 'var(--vscode-errorForeground)')}
  ${statusRule(WARN, 'var(--vscode-editorWarning-foreground)')}
  ${statusRule(GOOD, 'var(--vscode-testing-iconPassed, var(--vscode-charts-green))')}
  .chip[data-nonzero=true] .count { font-weight: 600; }
  body.vscode-high-contrast .card, body.vscode-high-contrast-light .card { border-color: var(--vscode-contrastBorder); }
  @media (max-width: 700px) { #main { flex-direction: column; } #side, #drawer { border-left: none; border-top: 1px solid var(--vscode-panel-border); } }
`;
