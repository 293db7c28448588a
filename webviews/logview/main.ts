// The log view: receives lines from the extension and shows them with follow (auto-scroll),
// pause/resume (lines are kept while paused and shown on resume), a text filter, highlighting
// by the workbench's TextMate log grammar (highlight.ts), a marked break line per container
// restart, download, and a button for the previous instance's logs. Text is only ever
// inserted with textContent.
import rawLogGrammar from '../../syntaxes/workbench-log.tmLanguage.json';
import { createLogHighlighter, LINE_TIME_LIMIT_MS, type LogHighlighter } from './highlight';
import type { ExtensionToWebview, LogViewState, WebviewToExtension } from './messages';

interface VsCodeApi {
  postMessage(message: WebviewToExtension): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** Lines kept in the view; older ones are dropped so a chatty pod cannot exhaust memory. */
const MAX_LINES = 50_000;
/**
 * Highlighting runs in slices of this many milliseconds between frames, so a burst of lines
 * (a long --tail, a chatty pod) shows at once as plain text and is coloured just after,
 * without freezing scrolling or the filter box.
 */
const HIGHLIGHT_SLICE_MS = 12;
/**
 * A line whose tokenizing hit its time limit is tried again, after every other queued line, with
 * four times the limit, at most this many times (20, 80, 320, 1280 ms): on a loaded machine ordinary
 * lines hit the first limit now and then and used to stay uncoloured; a line that needs more than
 * the last limit is pathological and keeps its plain tail.
 */
const HIGHLIGHT_RETRIES = 3;

/** A line and its row; the row is kept (highlighted once) while the filter hides it. */
interface Entry {
  text: string;
  row: HTMLDivElement;
  /** Highlight attempts that stopped at their time limit. */
  stoppedEarly?: number;
  /** A restart break: not highlighted, and shown whatever the filter. */
  marker?: boolean;
}

const vscode = acquireVsCodeApi();
const entries: Entry[] = [];
/** Rows still to highlight; newest last, and highlighted first (what a following view shows). */
let unhighlighted: Entry[] = [];
/** Rows whose last attempt stopped at its time limit, for another try once `unhighlighted` is empty. */
let retries: Entry[] = [];
let highlighter: LogHighlighter | undefined;
let sliceScheduled = false;
let held: Entry[] = [];
let paused = false;
let filter = '';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const output = $<HTMLDivElement>('log');
const banner = $<HTMLDivElement>('state');
const followBox = $<HTMLInputElement>('follow');
const pauseButton = $<HTMLButtonElement>('pause');
const filterInput = $<HTMLInputElement>('filter');
const title = $<HTMLSpanElement>('title');
const previousButton = $<HTMLButtonElement>('previous');

function createEntry(text: string): Entry {
  const row = document.createElement('div');
  row.className = 'line';
  row.textContent = text;
  return { text, row };
}

function createRestartMarker(restartCount: number): Entry {
  const entry = createEntry(`── container restarted (restart ${restartCount}) ──`);
  entry.row.className = 'line restart';
  entry.marker = true;
  return entry;
}

function highlightRow(entry: Entry, using: LogHighlighter): void {
  const attempt = entry.stoppedEarly ?? 0;
  const result = using.highlight(entry.text, LINE_TIME_LIMIT_MS * 4 ** attempt);
  if (result.stoppedEarly && attempt < HIGHLIGHT_RETRIES) {
    entry.stoppedEarly = attempt + 1;
    retries.push(entry);
  }
  const spans = result.spans.map(({ text, className }) => {
    if (className === undefined) return document.createTextNode(text);
    const span = document.createElement('span');
    span.className = className;
    span.textContent = text;
    return span;
  });
  entry.row.replaceChildren(...spans);
}

/** Highlights queued rows, newest first, for one time slice; schedules the next slice. */
function highlightSlice(): void {
  sliceScheduled = false;
  if (highlighter === undefined) return;
  const deadline = performance.now() + HIGHLIGHT_SLICE_MS;
  while (performance.now() < deadline) {
    const next = unhighlighted.pop() ?? retries.shift();
    if (next === undefined) break;
    highlightRow(next, highlighter);
  }
  scheduleHighlighting();
}

/**
 * The next slice runs as a new task: the page renders and handles input in between. A message
 * to ourselves rather than setTimeout(0), which browsers stretch to 4 ms when it repeats.
 */
const sliceChannel = new MessageChannel();
sliceChannel.port1.onmessage = highlightSlice;

function scheduleHighlighting(): void {
  if (highlighter === undefined || (unhighlighted.length === 0 && retries.length === 0) || sliceScheduled) return;
  sliceScheduled = true;
  sliceChannel.port2.postMessage(undefined);
}

/** onig.wasm is served next to this script; its URL comes from the page (logViewHtml.ts). */
async function loadHighlighter(): Promise<void> {
  const wasmUrl = document.body.dataset.onigWasm;
  if (!wasmUrl) return; // a page without the grammar runtime: lines stay plain
  const response = await fetch(wasmUrl);
  if (!response.ok) throw new Error(`onig.wasm: HTTP ${response.status}`);
  highlighter = await createLogHighlighter(await response.arrayBuffer(), rawLogGrammar);
  scheduleHighlighting();
}

function matches(entry: Entry): boolean {
  return filter === '' || entry.marker === true || entry.text.toLowerCase().includes(filter);
}

function append(added: Entry[]): void {
  for (const entry of added) {
    entries.push(entry);
    if (!entry.marker) unhighlighted.push(entry);
  }
  dropOldest(entries.length - MAX_LINES);
  // A batch larger than the view keeps only its newest lines.
  const kept = added.slice(Math.max(0, added.length - entries.length));
  output.append(rowsOf(kept.filter(matches)));
  scrollIfFollowing();
  scheduleHighlighting();
}

/** Rows in a fragment: one DOM insertion, and no argument list of 50,000 rows. */
function rowsOf(shown: Entry[]): DocumentFragment {
  const fragment = document.createDocumentFragment();
  for (const entry of shown) fragment.append(entry.row);
  return fragment;
}

function dropOldest(count: number): void {
  if (count <= 0) return;
  const dropped = entries.splice(0, count);
  for (const entry of dropped) entry.row.remove();
  // Rows queued but dropped before their turn are not worth highlighting.
  if (unhighlighted.length > entries.length) unhighlighted = unhighlighted.slice(unhighlighted.length - entries.length);
  if (retries.length > 0) {
    const gone = new Set(dropped);
    retries = retries.filter((entry) => !gone.has(entry));
  }
}

function rerender(): void {
  output.replaceChildren(rowsOf(entries.filter(matches)));
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

function receive(added: Entry[]): void {
  if (paused) held.push(...added);
  else append(added);
}

function onMessage(message: ExtensionToWebview): void {
  switch (message.type) {
    case 'init':
      title.textContent = `${message.target.namespace}/${message.target.pod} · ${message.target.container}${message.previous ? ' (previous instance)' : ''}`;
      previousButton.hidden = message.previous === true;
      followBox.checked = message.follow;
      break;
    case 'lines':
      receive(message.lines.map(createEntry));
      break;
    case 'restarted':
      receive([createRestartMarker(message.restartCount)]);
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
  const shown = entries.filter(matches).map((entry) => entry.text);
  vscode.postMessage({ type: 'download', text: shown.join('\n') + '\n' });
});
previousButton.addEventListener('click', () => vscode.postMessage({ type: 'previous' }));
window.addEventListener('message', (event: MessageEvent<ExtensionToWebview>) => onMessage(event.data));
vscode.postMessage({ type: 'ready' });
// Lines show at once; colours follow when the grammar runtime has loaded. Should it fail to
// load, the view keeps working with plain lines.
loadHighlighter().catch((error: unknown) => console.warn('log highlighting is off:', error));
