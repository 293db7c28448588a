// The agent health panel (connected agentk replicas, configuration commit and validity, the
// tunnel's figures from kas with a 15-minute chart drawn on a canvas in theme colours) and the
// managed apps list. Both are small: redrawn whole on each update.
import type { TunnelFiguresView } from '../../agent/shared/kas_api';
import type { AgentHealth, ManagedAppRow } from './messages';
import { el } from './dom';

export interface HealthCallbacks {
  openConfig(): void;
  openManagedApps(): void;
}

/** The figures charted last, so the chart can be drawn again in another theme's colours. */
let charted: TunnelFiguresView | undefined;

export function renderHealth(root: HTMLElement, health: AgentHealth, callbacks: HealthCallbacks): void {
  root.replaceChildren(el('h2', `Agent ${health.agentName}`), replicas(health), config(health, callbacks), figures(health.figures));
  charted = health.figures;
  redrawChart(root);
}

/** A canvas keeps the colours it was drawn in: the page calls this when the theme changes. */
export function redrawChart(root: HTMLElement): void {
  const canvas = root.querySelector('canvas');
  if (canvas && charted) drawChart(canvas, charted);
}

function replicas(health: AgentHealth): HTMLElement {
  const part = el('section', '', 'health-part');
  part.dataset.part = 'replicas';
  part.append(el('h3', `Connected agentk replicas: ${health.connections.length}`));
  if (health.connections.length === 0) {
    part.append(el('p', 'No agentk replica is connected.', 'warning'));
    return part;
  }
  const list = el('ul', '');
  for (const c of health.connections) {
    list.append(el('li', `${c.podNamespace}/${c.podName} · ${c.version} · since ${new Date(c.connectedSince).toLocaleString()}`));
  }
  part.append(list);
  return part;
}

function config(health: AgentHealth, callbacks: HealthCallbacks): HTMLElement {
  const part = el('section', '', 'health-part');
  part.dataset.part = 'config';
  const commit = health.config.commit ? health.config.commit.slice(0, 12) : 'none';
  const validity = el('span', health.config.valid ? 'valid' : 'invalid', health.config.valid ? 'ok' : 'error');
  part.append(el('h3', 'Configuration'), el('span', `commit ${commit} · `), validity);
  const first = health.config.firstError;
  if (first) {
    const link = el('button', `${first.file}:${first.line}:${first.column}`, 'link');
    link.addEventListener('click', () => callbacks.openConfig());
    part.append(el('div', first.message, 'error'), link);
  }
  return part;
}

function figures(view: TunnelFiguresView | undefined): HTMLElement {
  const part = el('section', '', 'health-part');
  part.dataset.part = 'figures';
  part.append(el('h3', 'Tunnel (last 15 minutes)'));
  if (!view) {
    part.append(el('p', 'No figures from kas yet.', 'muted'));
    return part;
  }
  const figure = (name: string, value: string, key: string) => {
    const item = el('div', '', 'figure');
    item.dataset.figure = key;
    item.append(el('span', value, 'figure-value'), el('span', name, 'muted'));
    return item;
  };
  const ms = (value: number | null) => (value === null ? '–' : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`);
  const grid = el('div', '', 'figures');
  grid.append(
    figure('requests/min', view.requestsPerMinute.toFixed(1), 'requests'),
    figure('errors/min', view.errorsPerMinute.toFixed(1), 'errors'),
    figure('p50', ms(view.p50Ms), 'p50'),
    figure('p99', ms(view.p99Ms), 'p99'),
    figure('open streams', String(view.openStreams), 'streams'),
  );
  const canvas = document.createElement('canvas');
  canvas.width = 300;
  canvas.height = 60;
  canvas.setAttribute('role', 'img');
  const total = view.minutes.reduce((sum, m) => sum + m.requests, 0);
  canvas.setAttribute('aria-label', `Requests per minute over 15 minutes: ${total} in all`);
  part.append(grid, canvas);
  return part;
}

/** Requests per minute as bars, errors in the error colour on top of them. */
function drawChart(canvas: HTMLCanvasElement, view: TunnelFiguresView): void {
  const context = canvas.getContext('2d');
  if (!context) return;
  const style = getComputedStyle(document.documentElement);
  const colour = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  const max = Math.max(1, ...view.minutes.map((m) => m.requests));
  const width = canvas.width / Math.max(1, view.minutes.length);
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.strokeStyle = colour('--vscode-charts-lines', '#808080');
  context.beginPath();
  context.moveTo(0, canvas.height - 0.5);
  context.lineTo(canvas.width, canvas.height - 0.5);
  context.stroke();
  view.minutes.forEach((minute, i) => {
    const height = (minute.requests / max) * (canvas.height - 4);
    const errors = (minute.errors / max) * (canvas.height - 4);
    context.fillStyle = colour('--vscode-charts-blue', '#3794ff');
    context.fillRect(i * width + 1, canvas.height - height, width - 2, height - errors);
    context.fillStyle = colour('--vscode-charts-red', '#f14c4c');
    context.fillRect(i * width + 1, canvas.height - errors, width - 2, errors);
  });
}

export function renderApps(root: HTMLElement, apps: ManagedAppRow[] | null, callbacks: HealthCallbacks): void {
  const link = el('button', 'Open Managed Apps view', 'link');
  link.addEventListener('click', () => callbacks.openManagedApps());
  if (apps === null) {
    root.replaceChildren(el('h2', 'Managed apps'), el('p', 'Not available for this agent.', 'muted'), link);
    return;
  }
  const list = el('ul', '');
  for (const app of apps) {
    const item = el('li', `${app.name}: `);
    const state = el('span', app.state, 'status');
    state.dataset.status = app.state;
    item.append(state);
    list.append(item);
  }
  root.replaceChildren(el('h2', 'Managed apps'), apps.length > 0 ? list : el('p', 'None installed.', 'muted'), link);
}
