// The dashboard page's data, without the DOM: rows per kind as the extension sent them, status
// counts kept up to date per change (not recounted), an owner index for the drawer's owned
// resources, and the filtered, sorted list of the selected kind, computed only when its kind
// changed since the last ask. One watch event therefore costs a map update and, at the next
// frame, one filter-and-sort of the shown kind.
import type { ResourceKind, ResourceRow } from './messages';

export interface Selection {
  kind: ResourceKind;
  /** Only rows of this status; undefined: all. */
  status?: string;
  /** Lower-cased; matched against name, namespace and status. */
  text: string;
}

export interface KindCounts {
  total: number;
  byStatus: Map<string, number>;
}

interface KindRows {
  rows: Map<string, ResourceRow>;
  counts: KindCounts;
  /** Bumped on every change, so the visible list knows when to recompute. */
  version: number;
}

export class DashboardStore {
  private readonly kinds = new Map<ResourceKind, KindRows>();
  private readonly kindOfUid = new Map<string, ResourceKind>();
  /** owner uid → uids it owns. */
  private readonly owned = new Map<string, Set<string>>();
  private visibleCache: { key: string; version: number; rows: ResourceRow[] } | undefined;

  /** Forgets every row (another namespace is being shown). */
  clear(): void {
    this.kinds.clear();
    this.kindOfUid.clear();
    this.owned.clear();
    this.visibleCache = undefined;
  }

  setSnapshot(kind: ResourceKind, rows: readonly ResourceRow[]): void {
    const previous = this.kinds.get(kind);
    for (const row of previous?.rows.values() ?? []) this.unindex(row);
    const entry: KindRows = { rows: new Map(), counts: { total: 0, byStatus: new Map() }, version: (previous?.version ?? 0) + 1 };
    this.kinds.set(kind, entry);
    for (const row of rows) this.insert(entry, row);
  }

  upsert(row: ResourceRow): void {
    const entry = this.entryOf(row.kind);
    const old = entry.rows.get(row.uid);
    if (old) this.remove(entry, old);
    this.insert(entry, row);
    entry.version++;
  }

  delete(kind: ResourceKind, uid: string): void {
    const entry = this.kinds.get(kind);
    const old = entry?.rows.get(uid);
    if (!entry || !old) return;
    this.remove(entry, old);
    entry.version++;
  }

  /** Whether any snapshot of `kind` arrived (an unwired kind has none). */
  has(kind: ResourceKind): boolean {
    return this.kinds.has(kind);
  }

  counts(kind: ResourceKind): KindCounts {
    return this.kinds.get(kind)?.counts ?? { total: 0, byStatus: new Map() };
  }

  get(uid: string): ResourceRow | undefined {
    const kind = this.kindOfUid.get(uid);
    return kind === undefined ? undefined : this.kinds.get(kind)?.rows.get(uid);
  }

  /** The resources `uid` owns (a Deployment's ReplicaSets, a ReplicaSet's Pods), by name. */
  ownedBy(uid: string): ResourceRow[] {
    const uids = this.owned.get(uid);
    if (!uids) return [];
    return [...uids]
      .map((child) => this.get(child))
      .filter((row): row is ResourceRow => row !== undefined)
      .sort(byName);
  }

  /** The rows the table shows; the same array until the kind changes or the selection does. */
  visible(selection: Selection): ResourceRow[] {
    const entry = this.kinds.get(selection.kind);
    const key = `${selection.kind}\u0000${selection.status ?? ''}\u0000${selection.text}`;
    const version = entry?.version ?? -1;
    if (this.visibleCache?.key === key && this.visibleCache.version === version) return this.visibleCache.rows;
    const rows: ResourceRow[] = [];
    for (const row of entry?.rows.values() ?? []) if (matches(row, selection)) rows.push(row);
    rows.sort(byName);
    this.visibleCache = { key, version, rows };
    return rows;
  }

  private entryOf(kind: ResourceKind): KindRows {
    let entry = this.kinds.get(kind);
    if (!entry) {
      entry = { rows: new Map(), counts: { total: 0, byStatus: new Map() }, version: 0 };
      this.kinds.set(kind, entry);
    }
    return entry;
  }

  private insert(entry: KindRows, row: ResourceRow): void {
    entry.rows.set(row.uid, row);
    entry.counts.total++;
    entry.counts.byStatus.set(row.status, (entry.counts.byStatus.get(row.status) ?? 0) + 1);
    this.kindOfUid.set(row.uid, row.kind);
    for (const owner of row.owners) {
      let children = this.owned.get(owner.uid);
      if (!children) this.owned.set(owner.uid, (children = new Set()));
      children.add(row.uid);
    }
  }

  private remove(entry: KindRows, row: ResourceRow): void {
    entry.rows.delete(row.uid);
    entry.counts.total--;
    const left = (entry.counts.byStatus.get(row.status) ?? 1) - 1;
    if (left > 0) entry.counts.byStatus.set(row.status, left);
    else entry.counts.byStatus.delete(row.status);
    this.unindex(row);
  }

  private unindex(row: ResourceRow): void {
    this.kindOfUid.delete(row.uid);
    for (const owner of row.owners) this.owned.get(owner.uid)?.delete(row.uid);
  }
}

function matches(row: ResourceRow, selection: Selection): boolean {
  if (selection.status !== undefined && row.status !== selection.status) return false;
  if (selection.text === '') return true;
  return (
    row.name.toLowerCase().includes(selection.text) ||
    row.namespace.toLowerCase().includes(selection.text) ||
    row.status.toLowerCase().includes(selection.text)
  );
}

function byName(a: ResourceRow, b: ResourceRow): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0;
}

/** "42s", "5m", "3h", "12d": the age column. */
export function formatAge(createdAt: number, now: number): string {
  if (createdAt <= 0) return '';
  const seconds = Math.max(0, Math.floor((now - createdAt) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours}h` : `${Math.floor(hours / 24)}d`;
}
