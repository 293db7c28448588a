// What a workload owns, by ownerReferences uid: a Deployment's pods through the ReplicaSets it
// owns, a CronJob's Jobs, the pods of a StatefulSet, DaemonSet, ReplicaSet or Job directly. Names
// say nothing (a pod "web-api-7d9f" may come from Deployment "web" or "web-api"); uids do. The
// index is built once per feed snapshot (a snapshot is an immutable array, replaced on change),
// so expanding every workload of a 5,000-pod namespace costs one pass over its pods.

/** What ownership reads of an object (client-node's typed objects fit too). */
export interface Owned {
  metadata?: { uid?: string; ownerReferences?: ReadonlyArray<{ uid: string }> };
}

/** The kinds whose tree node expands to what they own. */
export const OWNER_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob'] as const;
export type OwnerKind = (typeof OWNER_KINDS)[number];

export function isOwnerKind(kind: string): kind is OwnerKind {
  return (OWNER_KINDS as readonly string[]).includes(kind);
}

const indexes = new WeakMap<readonly Owned[], ReadonlyMap<string, readonly Owned[]>>();

/** Objects by the uid of each of their owners, in the snapshot's order; cached per snapshot. */
export function byOwnerUid<T extends Owned>(objects: readonly T[]): ReadonlyMap<string, readonly T[]> {
  let index = indexes.get(objects);
  if (!index) {
    const built = new Map<string, T[]>();
    for (const object of objects) {
      for (const ref of object.metadata?.ownerReferences ?? []) {
        const list = built.get(ref.uid);
        if (list) list.push(object);
        else built.set(ref.uid, [object]);
      }
    }
    index = built;
    indexes.set(objects, index);
  }
  return index as ReadonlyMap<string, readonly T[]>;
}

/** The objects of `objects` that name `owner` (by uid) among their owners. */
export function ownedBy<T extends Owned>(objects: readonly T[], owner: Owned): readonly T[] {
  const uid = owner.metadata?.uid;
  return uid ? (byOwnerUid(objects).get(uid) ?? []) : [];
}

/**
 * The pods a workload runs: a Deployment's through its ReplicaSets (old and new, so a rollout
 * shows both generations), every other pod owner's directly. Kept in the pods' snapshot order.
 */
export function podsOfWorkload<P extends Owned>(
  kind: Exclude<OwnerKind, 'CronJob'>,
  workload: Owned,
  pods: readonly P[],
  replicaSets: readonly Owned[],
): readonly P[] {
  if (kind !== 'Deployment') return ownedBy(pods, workload);
  const owners = ownedBy(replicaSets, workload);
  if (owners.length === 1) return ownedBy(pods, owners[0]!);
  const mine = new Set<Owned>(owners.flatMap((replicaSet) => ownedBy(pods, replicaSet)));
  return pods.filter((pod) => mine.has(pod));
}
