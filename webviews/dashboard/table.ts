// The resource table: a virtualised grid. Only the rows in view (plus a few either side) exist
// in the DOM, as a pool of row elements re-filled on scroll and on data changes, so 5,000 pods
// cost as much to draw as 40. Keyboard: arrows, Page Up/Down, Home/End move the active row,
// Enter opens it; the grid keeps focus and names the active row (aria-activedescendant).
import type { ResourceRow } from './messages';
import { formatAge } from './store';

export const ROW_HEIGHT = 24;
const OVERSCAN = 8;
const COLUMNS: Array<{ title: string; cell: (row: ResourceRow, now: number) => string }> = [
  { title: 'Name', cell: (row) => row.name },
  { title: 'Namespace', cell: (row) => row.namespace },
  { title: 'Status', cell: (row) => row.status },
  { title: 'Ready', cell: (row) => row.ready },
  { title: 'Restarts', cell: (row) => (row.kind === 'Pod' ? String(row.restarts) : '') },
  { title: 'Age', cell: (row, now) => formatAge(row.createdAt, now) },
];

export interface TableCallbacks {
  open(row: ResourceRow): void;
}

export class VirtualTable {
  private rows: ResourceRow[] = [];
  private readonly pool: HTMLDivElement[] = [];
  private readonly spacer: HTMLDivElement;
  private active = -1;
  private activeUid: string | undefined;

  constructor(
    private readonly viewport: HTMLDivElement,
    header: HTMLDivElement,
    private readonly callbacks: TableCallbacks,
  ) {
    header.replaceChildren(
      ...COLUMNS.map((column) => {
        const cell = document.createElement('div');
        cell.className = 'cell';
        cell.setAttribute('role', 'columnheader');
        cell.textContent = column.title;
        return cell;
      }),
    );
    this.spacer = document.createElement('div');
    this.spacer.className = 'spacer';
    viewport.append(this.spacer);
    viewport.addEventListener('scroll', () => this.draw());
    viewport.addEventListener('keydown', (event) => this.onKey(event));
    viewport.addEventListener('click', (event) => this.onClick(event));
    new ResizeObserver(() => this.draw()).observe(viewport);
  }

  /** New rows (the same array when nothing changed: then only ages and the window are redrawn). */
  setRows(rows: ResourceRow[]): void {
    this.rows = rows;
    // The active row follows its resource when rows move around it.
    const index = this.activeUid === undefined ? -1 : rows.findIndex((row) => row.uid === this.activeUid);
    this.active = index >= 0 ? index : Math.min(this.active, rows.length - 1);
    this.spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
    this.draw();
  }

  draw(): void {
    const now = Date.now();
    const first = Math.max(0, Math.floor(this.viewport.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const count = Math.min(this.rows.length - first, Math.ceil(this.viewport.clientHeight / ROW_HEIGHT) + 2 * OVERSCAN);
    for (let i = 0; i < Math.max(count, 0); i++) this.fill(this.element(i), first + i, now);
    for (let i = Math.max(count, 0); i < this.pool.length; i++) {
      // A spare row keeps no id: aria-activedescendant must find the row shown, not a stale one.
      this.pool[i]!.hidden = true;
      this.pool[i]!.removeAttribute('id');
    }
    const activeRow = this.rows[this.active];
    if (activeRow) this.viewport.setAttribute('aria-activedescendant', rowId(this.active));
    else this.viewport.removeAttribute('aria-activedescendant');
  }

  private element(slot: number): HTMLDivElement {
    let element = this.pool[slot];
    if (!element) {
      element = document.createElement('div');
      element.className = 'row';
      element.setAttribute('role', 'row');
      for (let c = 0; c < COLUMNS.length; c++) {
        const cell = document.createElement('div');
        cell.className = 'cell';
        cell.setAttribute('role', 'gridcell');
        element.append(cell);
      }
      this.pool.push(element);
      this.viewport.append(element);
    }
    return element;
  }

  private fill(element: HTMLDivElement, index: number, now: number): void {
    const row = this.rows[index]!;
    element.hidden = false;
    element.id = rowId(index);
    element.dataset.index = String(index);
    element.dataset.status = row.status;
    element.setAttribute('aria-rowindex', String(index + 2));
    element.setAttribute('aria-selected', String(index === this.active));
    element.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
    const cells = element.children;
    for (let c = 0; c < COLUMNS.length; c++) {
      const text = COLUMNS[c]!.cell(row, now);
      const cell = cells[c] as HTMLElement;
      if (cell.textContent !== text) cell.textContent = text;
    }
  }

  private onClick(event: MouseEvent): void {
    const element = (event.target as HTMLElement).closest<HTMLElement>('.row');
    if (!element?.dataset.index) return;
    this.setActive(Number(element.dataset.index));
    const row = this.rows[this.active];
    if (row) this.callbacks.open(row);
  }

  private onKey(event: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(this.viewport.clientHeight / ROW_HEIGHT) - 1);
    const moves: Record<string, number> = {
      ArrowDown: this.active + 1,
      ArrowUp: this.active - 1,
      PageDown: this.active + page,
      PageUp: this.active - page,
      Home: 0,
      End: this.rows.length - 1,
    };
    if (event.key in moves) {
      event.preventDefault();
      this.setActive(moves[event.key]!);
    } else if (event.key === 'Enter' || event.key === ' ') {
      const row = this.rows[this.active];
      if (!row) return;
      event.preventDefault();
      this.callbacks.open(row);
    }
  }

  private setActive(index: number): void {
    if (this.rows.length === 0) return;
    this.active = Math.max(0, Math.min(this.rows.length - 1, index));
    this.activeUid = this.rows[this.active]!.uid;
    const top = this.active * ROW_HEIGHT;
    if (top < this.viewport.scrollTop) this.viewport.scrollTop = top;
    else if (top + ROW_HEIGHT > this.viewport.scrollTop + this.viewport.clientHeight) {
      this.viewport.scrollTop = top + ROW_HEIGHT - this.viewport.clientHeight;
    }
    this.draw();
  }
}

function rowId(index: number): string {
  return `row-${index}`;
}
