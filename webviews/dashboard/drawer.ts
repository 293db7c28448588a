// The drawer: one resource's labels, annotations, conditions, status and spec (read-only,
// highlighted YAML), its owners and what it owns (Deployment → ReplicaSets → Pods, from the
// rows the page holds), its events as they arrive, and the actions the extension carries out.
// Escape closes it and gives focus back to the table.
import type { DashboardAction, EventRow, ResourceDetail, ResourceKind, ResourceRef, ResourceRow } from './messages';
import type { DashboardStore } from './store';
import { formatAge } from './store';
import { yamlLineTokens } from './yaml_highlight';
import { el } from './dom';

const ACTIONS_OF: Record<DashboardAction, { label: string; kinds: readonly ResourceKind[] | 'all' }> = {
  logs: { label: 'Logs', kinds: ['Pod'] },
  terminal: { label: 'Terminal', kinds: ['Pod'] },
  portForward: { label: 'Port-forward', kinds: ['Pod', 'Service', 'Deployment', 'StatefulSet'] },
  yaml: { label: 'YAML', kinds: 'all' },
  delete: { label: 'Delete', kinds: 'all' },
};

export interface DrawerCallbacks {
  action(action: DashboardAction, ref: ResourceRef): void;
  navigate(row: ResourceRow): void;
  closed(): void;
}

export class Drawer {
  /** What is shown: a row from the table, until its detail arrives. */
  ref: ResourceRef | undefined;
  private detail: ResourceDetail | undefined;
  private events: EventRow[] = [];
  private eventsLive = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly store: DashboardStore,
    private readonly callbacks: DrawerCallbacks,
  ) {
    root.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.close();
    });
  }

  open(row: ResourceRow): void {
    this.ref = { kind: row.kind, uid: row.uid, namespace: row.namespace, name: row.name };
    this.detail = undefined;
    this.events = [];
    this.eventsLive = false;
    this.root.hidden = false;
    this.render();
    this.root.querySelector<HTMLElement>('.drawer-close')?.focus();
  }

  close(): void {
    if (!this.ref) return;
    this.ref = undefined;
    this.root.hidden = true;
    this.root.replaceChildren();
    this.callbacks.closed();
  }

  showDetail(detail: ResourceDetail): void {
    if (detail.uid !== this.ref?.uid) return;
    this.detail = detail;
    this.render();
  }

  showEvents(uid: string, events: EventRow[], live: boolean): void {
    if (uid !== this.ref?.uid) return;
    this.events = events;
    this.eventsLive = live;
    this.renderEvents();
  }

  /** Rows changed: the owned resources and the header's status may have. */
  refresh(): void {
    if (!this.ref) return;
    this.renderHeader();
    this.renderRelations();
  }

  private render(): void {
    const focused = document.activeElement;
    this.root.replaceChildren(
      section('header', 'drawer-header'),
      this.actions(),
      section('relations'),
      section('events'),
      ...this.detailSections(),
    );
    this.renderHeader();
    this.renderRelations();
    this.renderEvents();
    if (focused instanceof HTMLElement && focused.isConnected) focused.focus();
  }

  private renderHeader(): void {
    const header = this.part('header');
    if (!header || !this.ref) return;
    const row = this.store.get(this.ref.uid);
    const title = el('h2', `${this.ref.kind} ${this.ref.namespace}/${this.ref.name}`);
    title.id = 'drawer-title';
    const status = el('span', row ? row.status : 'Deleted', 'status');
    status.dataset.status = row ? row.status : 'Deleted';
    const close = el('button', '×', 'drawer-close');
    close.setAttribute('aria-label', 'Close (Escape)');
    close.addEventListener('click', () => this.close());
    header.replaceChildren(title, status, close);
  }

  private actions(): HTMLElement {
    const bar = el('div', '', 'actions');
    const ref = this.ref!;
    for (const [action, { label, kinds }] of Object.entries(ACTIONS_OF) as Array<[DashboardAction, (typeof ACTIONS_OF)['logs']]>) {
      if (kinds !== 'all' && !kinds.includes(ref.kind)) continue;
      const button = el('button', label);
      button.dataset.action = action;
      button.addEventListener('click', () => this.callbacks.action(action, ref));
      bar.append(button);
    }
    return bar;
  }

  private renderRelations(): void {
    const part = this.part('relations');
    if (!part || !this.ref) return;
    const row = this.store.get(this.ref.uid);
    const owners = (row?.owners ?? []).map((owner) => this.store.get(owner.uid) ?? owner);
    const children = this.store.ownedBy(this.ref.uid);
    const list = el('ul', '', 'tree');
    for (const owner of owners) list.append(this.link(owner, 'owner'));
    for (const child of children) {
      const item = this.link(child, 'owned');
      const grandchildren = this.store.ownedBy(child.uid);
      if (grandchildren.length > 0) {
        const sub = el('ul', '', 'tree');
        for (const grandchild of grandchildren) sub.append(this.link(grandchild, 'owned'));
        item.append(sub);
      }
      list.append(item);
    }
    part.replaceChildren(el('h3', 'Owner and owned'), owners.length + children.length > 0 ? list : el('p', 'None', 'muted'));
  }

  private link(target: ResourceRow | { kind: string; name: string; uid: string }, relation: 'owner' | 'owned'): HTMLLIElement {
    const item = document.createElement('li');
    item.dataset.relation = relation;
    const label = `${relation === 'owner' ? '↑ ' : ''}${target.kind} ${target.name}`;
    if ('status' in target) {
      const button = el('button', label, 'link');
      button.addEventListener('click', () => this.callbacks.navigate(target));
      item.append(button, el('span', target.status, 'status'));
      item.lastElementChild!.setAttribute('data-status', target.status);
    } else item.append(el('span', label));
    return item;
  }

  private renderEvents(): void {
    const part = this.part('events');
    if (!part) return;
    const title = el('h3', this.eventsLive ? 'Events (live)' : 'Events');
    if (this.events.length === 0) {
      part.replaceChildren(title, el('p', this.detail ? 'No events' : 'Loading…', 'muted'));
      return;
    }
    const now = Date.now();
    const list = el('ol', '', 'events');
    list.setAttribute('aria-live', 'polite');
    for (const event of this.events) {
      const item = document.createElement('li');
      item.dataset.type = event.type;
      item.append(
        el('span', formatAge(event.lastSeen, now), 'muted'),
        el('span', event.type, 'event-type'),
        el('span', event.reason, 'event-reason'),
        el('span', event.count > 1 ? `${event.message} (×${event.count})` : event.message),
      );
      list.append(item);
    }
    part.replaceChildren(title, list);
  }

  private detailSections(): HTMLElement[] {
    const detail = this.detail;
    if (!detail) return [el('p', 'Loading…', 'muted')];
    return [
      keyValues('Labels', detail.labels),
      keyValues('Annotations', detail.annotations),
      conditions(detail),
      yamlSection('Status', detail.statusYaml),
      yamlSection('Spec', detail.specYaml),
    ];
  }

  private part(name: string): HTMLElement | null {
    return this.root.querySelector<HTMLElement>(`[data-part="${name}"]`);
  }
}

function section(part: string, className = 'drawer-section'): HTMLElement {
  const element = el('section', '', className);
  element.dataset.part = part;
  return element;
}

function keyValues(title: string, values: Record<string, string>): HTMLElement {
  const part = section(title.toLowerCase());
  const entries = Object.entries(values);
  if (entries.length === 0) {
    part.append(el('h3', title), el('p', 'None', 'muted'));
    return part;
  }
  const list = el('dl', '', 'kv');
  for (const [key, value] of entries) list.append(el('dt', key), el('dd', value));
  part.append(el('h3', title), list);
  return part;
}

function conditions(detail: ResourceDetail): HTMLElement {
  const part = section('conditions');
  part.append(el('h3', 'Conditions'));
  if (detail.conditions.length === 0) {
    part.append(el('p', 'None', 'muted'));
    return part;
  }
  const list = el('ul', '', 'conditions');
  for (const condition of detail.conditions) {
    const item = document.createElement('li');
    item.dataset.status = condition.status;
    const reason = condition.reason ? ` ${condition.reason}` : '';
    item.append(el('strong', `${condition.type}: ${condition.status}`), el('span', reason));
    if (condition.message) item.append(el('div', condition.message, 'muted'));
    list.append(item);
  }
  part.append(list);
  return part;
}

function yamlSection(title: string, text: string): HTMLElement {
  const part = section(title.toLowerCase());
  const pre = el('pre', '', 'yaml');
  pre.setAttribute('aria-label', `${title} (read-only YAML)`);
  pre.tabIndex = 0;
  for (const line of text.replace(/\n$/, '').split('\n')) {
    const row = el('div', '', 'yaml-line');
    for (const token of yamlLineTokens(line)) {
      if (token.className === undefined) row.append(document.createTextNode(token.text));
      else row.append(el('span', token.text, token.className));
    }
    pre.append(row);
  }
  part.append(el('h3', title), pre);
  return part;
}
