// The log view: receives lines from the extension and shows them with follow (auto-scroll),
// pause/resume (lines are kept while paused and shown on resume), a text filter, highlighting
// of log levels and timestamps, and download. Text is only ever inserted with textContent.
import type { ExtensionToWebview, LogViewState, WebviewToExtension } from './messages';

interface VsCodeApi {
  postMessage(message: WebviewToExtension): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** Lines kept in the view; older ones are dropped so a chatty pod cannot exhaust memory. */
const MAX_LINES = 50_000;
const LEVEL = /\b(ERROR|ERR|FATAL|PANIC|WARN(?:ING)?|INFO|DEBUG|TRACE)\b/i;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?/;

const vscode = acquireVsCodeApi();
const lines: string[] = [];
let held: string[] = [];
let paused = false;
let filter = '';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const output = $<HTMLDivElement>('log');
const banner = $<HTMLDivElement>('state');
const followBox = $<HTMLInputElement>('follow');
const pauseButton = $<HTMLButtonElement>('pause');
const filterInput = $<HTMLInputElement>('filter');
const title = $<HTMLSpanElement>('title');

function levelClass(level: string): string {
  const upper = level.toUpperCase();
  if (upper.startsWith('ERR') || upper === 'FATAL' || upper === 'PANIC') return 'level-error';
  if (upper.startsWith('WARN')) return 'level-warn';
  if (upper === 'INFO') return 'level-info';
  return 'level-debug';
}

function renderLine(text: string): HTMLDivElement {
  const row = document.createElement('div');
  row.className = 'line';
  let rest = text;
  const stamp = TIMESTAMP.exec(rest);
  if (stamp) {
    const span = document.createElement('span');
    span.className = 'timestamp';
    span.textContent = stamp[0];
    row.append(span);
    rest = rest.slice(stamp[0].length);
  }
  const level = LEVEL.exec(rest);
  if (level) {
    row.append(document.createTextNode(rest.slice(0, level.index)));
    const span = document.createElement('span');
    span.className = levelClass(level[0]);
    span.textContent = level[0];
    row.append(span, document.createTextNode(rest.slice(level.index + level[0].length)));
    row.classList.add(levelClass(level[0]));
  } else {
    row.append(document.createTextNode(rest));
  }
  return row;
}

function matches(text: string): boolean {
  return filter === '' || text.toLowerCase().includes(filter);
}

function append(newLines: string[]): void {
  lines.push(...newLines);
  const overflow = lines.length - MAX_LINES;
  if (overflow > 0) {
    lines.splice(0, overflow);
    rerender();
    return;
  }
  const fragment = document.createDocumentFragment();
  for (const line of newLines) if (matches(line)) fragment.append(renderLine(line));
  output.append(fragment);
  scrollIfFollowing();
}

function rerender(): void {
  output.replaceChildren(...lines.filter(matches).map(renderLine));
  scrollIfFollowing();
}

function scrollIfFollowing(): void {
  if (followBox.checked) output.scrollTop = output.scrollHeight;
}

const STATE_TEXT: Record<LogViewState, string> = {
  connecting: 'Connecting…',
  streaming: 'Streaming',
  waiting: 'No logs yet',
  ended: 'Stream ended',
  podFailed: 'Pod failed',
  podDeleted: 'Pod deleted',
  error: 'Error',
};

function showState(state: LogViewState, detail: string): void {
  banner.dataset.state = state;
  banner.textContent = `${STATE_TEXT[state]} — ${detail}`;
  document.body.dataset.state = state;
}

function onMessage(message: ExtensionToWebview): void {
  switch (message.type) {
    case 'init':
      title.textContent = `${message.target.namespace}/${message.target.pod} · ${message.target.container}`;
      followBox.checked = message.follow;
      break;
    case 'lines':
      if (paused) held.push(...message.lines);
      else append(message.lines);
      break;
    case 'state':
      showState(message.state, message.detail);
      break;
  }
}

pauseButton.addEventListener('click', () => {
  paused = !paused;
  pauseButton.textContent = paused ? `Resume` : 'Pause';
  if (!paused && held.length > 0) {
    const release = held;
    held = [];
    append(release);
  }
});
followBox.addEventListener('change', scrollIfFollowing);
filterInput.addEventListener('input', () => {
  filter = filterInput.value.toLowerCase();
  rerender();
});
$<HTMLButtonElement>('download').addEventListener('click', () => {
  vscode.postMessage({ type: 'download', text: lines.filter(matches).join('\n') + '\n' });
});
window.addEventListener('message', (event: MessageEvent<ExtensionToWebview>) => onMessage(event.data));
vscode.postMessage({ type: 'ready' });
