// Turns a kind's objects, as the watch cache holds them, into what the page needs: the first
// time a snapshot, then only deltas. An object the cache did not replace is the same object
// (identity), so it is neither summarised again nor sent: 100 watch events a second among
// 5,000 pods cost 100 summaries, not 500,000.
import type { ResourceKind, ResourceRow } from '../../../webviews/dashboard/messages';
import { objectUid, summarise, type KubeObject } from './summarise';

export type RowUpdate =
  | { type: 'snapshot'; kind: ResourceKind; rows: ResourceRow[] }
  | { type: 'delta'; upserts: ResourceRow[]; deletes: Array<{ kind: ResourceKind; uid: string }> };

export class RowDiffer {
  private sent = new Map<string, { object: KubeObject; row: ResourceRow }>();
  private snapshotSent = false;

  constructor(readonly kind: ResourceKind) {}

  /** What changed since the last call; undefined when nothing did. */
  update(objects: readonly KubeObject[]): RowUpdate | undefined {
    const next = new Map<string, { object: KubeObject; row: ResourceRow }>();
    const upserts: ResourceRow[] = [];
    for (const object of objects) {
      const uid = objectUid(this.kind, object);
      const previous = this.sent.get(uid);
      if (previous?.object === object) {
        next.set(uid, previous);
        continue;
      }
      const row = summarise(this.kind, object);
      next.set(row.uid, { object, row });
      if (!previous || !sameRow(previous.row, row)) upserts.push(row);
    }
    const deletes = [...this.sent.keys()].filter((uid) => !next.has(uid)).map((uid) => ({ kind: this.kind, uid }));
    this.sent = next;
    if (!this.snapshotSent) {
      this.snapshotSent = true;
      return { type: 'snapshot', kind: this.kind, rows: [...next.values()].map((entry) => entry.row) };
    }
    return upserts.length + deletes.length > 0 ? { type: 'delta', upserts, deletes } : undefined;
  }

  /** The object of a row, as last seen. */
  object(uid: string): KubeObject | undefined {
    return this.sent.get(uid)?.object;
  }
}

/** A watch event that changed nothing the table shows (a resourceVersion bump) sends nothing. */
function sameRow(a: ResourceRow, b: ResourceRow): boolean {
  return (
    a.status === b.status &&
    a.ready === b.ready &&
    a.restarts === b.restarts &&
    a.name === b.name &&
    a.namespace === b.namespace &&
    a.createdAt === b.createdAt &&
    a.owners.length === b.owners.length &&
    a.owners.every((owner, i) => owner.uid === b.owners[i]!.uid)
  );
}
