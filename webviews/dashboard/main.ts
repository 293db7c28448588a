// The agent dashboard page: an overview of counts by status per kind (each a filter), a
// virtualised table of the selected kind, a drawer per resource, the agent's health and its
// managed apps. The page holds no cluster connection: the extension posts snapshots and deltas
// (messages.ts). Messages only update the store; drawing happens once per animation frame, so
// a burst of watch events costs one redraw.
import type { ExtensionToWebview, ResourceKind, ResourceRow, WebviewToExtension } from './messages';
import { KIND_STATUSES, RESOURCE_KINDS } from './messages';
import { DashboardStore, type Selection } from './store';
import { VirtualTable } from './table';
import { Drawer } from './drawer';
import { redrawChart, renderApps, renderHealth, type HealthCallbacks } from './health';
import { el } from './dom';

interface VsCodeApi {
  postMessage(message: WebviewToExtension): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const KIND_TITLES: Record<ResourceKind, string> = {
  Deployment: 'Deployments',
  StatefulSet: 'StatefulSets',
  DaemonSet: 'DaemonSets',
  ReplicaSet: 'ReplicaSets',
  Job: 'Jobs',
  CronJob: 'CronJobs',
  Pod: 'Pods',
  Service: 'Services',
};

const STATE_TEXT = {
  loading: 'Loading…',
  live: '',
  kasUnreachable: 'kas is unreachable: retrying',
  agentNotConnected: 'The agent is not connected: retrying',
  error: 'Error',
} as const;

const vscode = acquireVsCodeApi();
const store = new DashboardStore();
const selection: Selection = { kind: 'Pod', text: '' };
let wiredKinds: ResourceKind[] = [];
let currentNamespace = '';
let frameRequested = false;
let renders = 0;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const overview = $<HTMLElement>('overview');
const banner = $<HTMLDivElement>('state');
const namespacePicker = $<HTMLSelectElement>('namespace');
const filterInput = $<HTMLInputElement>('filter');
const empty = $<HTMLDivElement>('empty');
const tableTitle = $<HTMLElement>('table-title');

const table = new VirtualTable($<HTMLDivElement>('table'), $<HTMLDivElement>('table-header'), { open: (row) => openDrawer(row) });
const drawer = new Drawer($<HTMLElement>('drawer'), store, {
  action: (action, ref) => vscode.postMessage({ type: 'action', action, ref }),
  navigate: (row) => openDrawer(row),
  closed: () => {
    vscode.postMessage({ type: 'closeDetail' });
    $<HTMLElement>('table').focus();
  },
});
const healthCallbacks: HealthCallbacks = {
  openConfig: () => vscode.postMessage({ type: 'openConfig' }),
  openManagedApps: () => vscode.postMessage({ type: 'openManagedApps' }),
};

function openDrawer(row: ResourceRow): void {
  drawer.open(row);
  vscode.postMessage({ type: 'openDetail', ref: { kind: row.kind, uid: row.uid, namespace: row.namespace, name: row.name } });
}

/** The overview's cards, built once per init; counts are updated in place on each frame. */
function buildOverview(): void {
  overview.replaceChildren(
    ...RESOURCE_KINDS.map((kind) => {
      const card = el('div', '', 'card');
      card.dataset.kind = kind;
      const title = el('button', '', 'card-title');
      title.dataset.kind = kind;
      title.append(el('span', KIND_TITLES[kind]), el('span', '', 'total'));
      title.addEventListener('click', () => select(kind, undefined));
      const chips = el('div', '', 'chips');
      for (const status of KIND_STATUSES[kind]) {
        const chip = el('button', '', 'chip');
        chip.dataset.kind = kind;
        chip.dataset.status = status;
        chip.append(el('span', '', 'count'), el('span', ` ${status}`));
        chip.addEventListener('click', () => select(kind, selection.kind === kind && selection.status === status ? undefined : status));
        chips.append(chip);
      }
      card.append(title, chips);
      return card;
    }),
  );
}

function select(kind: ResourceKind, status: string | undefined): void {
  selection.kind = kind;
  selection.status = status;
  scheduleRender();
}

function renderOverview(): void {
  for (const card of Array.from(overview.children) as HTMLElement[]) {
    const kind = card.dataset.kind as ResourceKind;
    const wired = wiredKinds.includes(kind);
    const counts = store.counts(kind);
    card.dataset.wired = String(wired);
    const title = card.querySelector<HTMLButtonElement>('.card-title')!;
    title.setAttribute('aria-pressed', String(selection.kind === kind && selection.status === undefined));
    setText(title.querySelector('.total')!, wired && store.has(kind) ? String(counts.total) : '–');
    for (const chip of Array.from(card.querySelectorAll<HTMLButtonElement>('.chip'))) {
      const status = chip.dataset.status!;
      const count = counts.byStatus.get(status) ?? 0;
      setText(chip.querySelector('.count')!, wired && store.has(kind) ? String(count) : '–');
      chip.dataset.nonzero = String(count > 0);
      chip.setAttribute('aria-pressed', String(selection.kind === kind && selection.status === status));
      chip.setAttribute('aria-label', `${KIND_TITLES[kind]} ${status}: ${count}`);
    }
  }
}

function renderTable(): void {
  const rows = store.visible(selection);
  table.setRows(rows);
  const what = KIND_TITLES[selection.kind];
  setText(tableTitle, `${what}${selection.status ? ` · ${selection.status}` : ''} · ${rows.length}`);
  empty.hidden = rows.length > 0;
  if (rows.length === 0) setText(empty, emptyText(what));
}

function emptyText(what: string): string {
  if (!wiredKinds.includes(selection.kind)) return `${what} are not available in the dashboard yet.`;
  if (!store.has(selection.kind)) return `Loading ${what.toLowerCase()}…`;
  if (selection.text !== '' || selection.status !== undefined) return `No ${what.toLowerCase()} match the filter.`;
  return `No ${what.toLowerCase()} in namespace ${currentNamespace}.`;
}

function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

function scheduleRender(): void {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(() => {
    frameRequested = false;
    const started = performance.now();
    renderOverview();
    renderTable();
    drawer.refresh();
    // For tests and the benchmark: how many frames drew, and the script time of the last one.
    document.body.dataset.renders = String(++renders);
    document.body.dataset.renderMs = (performance.now() - started).toFixed(2);
  });
}

function setNamespaces(namespaces: string[], namespace: string): void {
  currentNamespace = namespace;
  namespacePicker.replaceChildren(
    ...namespaces.map((name) => {
      const option = el('option', name);
      option.value = name;
      option.selected = name === namespace;
      return option;
    }),
  );
}

function onMessage(message: ExtensionToWebview): void {
  switch (message.type) {
    case 'init':
      // Also sent when another namespace is chosen: what was shown belongs to the old one.
      store.clear();
      drawer.close();
      setText($('title'), `Agent ${message.agentName}`);
      wiredKinds = message.kinds;
      setNamespaces(message.namespaces, message.namespace);
      buildOverview();
      break;
    case 'namespaces':
      setNamespaces(message.namespaces, message.namespace);
      break;
    case 'snapshot':
      store.setSnapshot(message.kind, message.rows);
      break;
    case 'delta':
      for (const row of message.upserts) store.upsert(row);
      for (const { kind, uid } of message.deletes) store.delete(kind, uid);
      break;
    case 'detail':
      drawer.showDetail(message.detail);
      break;
    case 'events':
      drawer.showEvents(message.uid, message.events, message.live);
      break;
    case 'health':
      renderHealth($('health'), message.health, healthCallbacks);
      break;
    case 'apps':
      renderApps($('apps'), message.apps, healthCallbacks);
      break;
    case 'state':
      banner.dataset.state = message.state;
      document.body.dataset.state = message.state;
      banner.hidden = message.state === 'live';
      setText(banner, message.state === 'live' ? '' : `${STATE_TEXT[message.state]}${message.detail ? ` — ${message.detail}` : ''}`);
      break;
  }
  scheduleRender();
}

namespacePicker.addEventListener('change', () => {
  currentNamespace = namespacePicker.value;
  drawer.close();
  vscode.postMessage({ type: 'selectNamespace', namespace: namespacePicker.value });
});
filterInput.addEventListener('input', () => {
  selection.text = filterInput.value.trim().toLowerCase();
  scheduleRender();
});
document.addEventListener('keydown', (event) => {
  // "/" jumps to the filter, as in GitLab's lists; not while typing somewhere.
  if (event.key === '/' && !(event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement)) {
    event.preventDefault();
    filterInput.focus();
  }
});
// VS Code switches themes by the body's class and the root's variables: the chart follows.
const themeWatch = new MutationObserver(() => redrawChart($('health')));
themeWatch.observe(document.body, { attributes: true, attributeFilter: ['class'] });
themeWatch.observe(document.documentElement, { attributes: true, attributeFilter: ['style'] });
// Ages move on by themselves.
setInterval(() => table.draw(), 10_000);
window.addEventListener('message', (event: MessageEvent<ExtensionToWebview>) => onMessage(event.data));
buildOverview();
vscode.postMessage({ type: 'ready' });
