// Controllers that keep a number of pods from a template: ReplicaSets (any names, newest
// extras removed first), StatefulSets (ordinal names, one at a time in order, replaced from the
// highest ordinal down on a template change) and DaemonSets (one pod per node).
import type { KubeObject } from '../types';
import type { ControllerContext } from './context';
import {
  isOwnedBy,
  isPodActive,
  isPodReady,
  numberOr,
  TYPES,
  templateHash,
  type LabelSelector,
  type OwnerReference,
  type PodTemplate,
} from './objects';

interface SetSpec {
  replicas?: number;
  selector?: LabelSelector;
  template?: PodTemplate;
}

function ownerRef(owner: KubeObject, kind: string): OwnerReference {
  return {
    apiVersion: 'apps/v1',
    kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** A pod from an owner's template; `name` for StatefulSets, generateName otherwise. */
export function podFromTemplate(
  owner: KubeObject,
  ref: OwnerReference,
  template: PodTemplate | undefined,
  extra: { name?: string; labels?: Record<string, string>; nodeName?: string } = {},
): KubeObject {
  const spec = { ...(template?.spec ?? {}) };
  if (extra.nodeName) spec.nodeName = extra.nodeName;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...(extra.name ? { name: extra.name } : { generateName: `${owner.metadata.name}-` }),
      namespace: owner.metadata.namespace,
      labels: { ...(template?.metadata?.labels ?? {}), ...(extra.labels ?? {}) },
      ...(template?.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
      ownerReferences: [ref],
    },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      serviceAccountName: 'default',
      ...spec,
    },
    status: { phase: 'Pending', qosClass: 'BestEffort' },
  };
}

function ownedPods(ctx: ControllerContext, owner: KubeObject): KubeObject[] {
  return ctx.store.list(TYPES.pods, { namespace: owner.metadata.namespace }).items.filter((pod) => isOwnedBy(pod, owner));
}

function deletePod(ctx: ControllerContext, pod: KubeObject): void {
  ctx.store.delete(TYPES.pods, pod.metadata.namespace, pod.metadata.name ?? '');
}

function byCreation(a: KubeObject, b: KubeObject): number {
  return (
    (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
    (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '')
  );
}

function writeSetStatus(
  ctx: ControllerContext,
  type: (typeof TYPES)[keyof typeof TYPES],
  owner: KubeObject,
  status: Record<string, unknown>,
): void {
  ctx.writeIfChanged(type, { ...owner, status: { observedGeneration: numberOr(owner.metadata.generation, 1), ...status } });
}

export function reconcileReplicaSet(ctx: ControllerContext, namespace: string, name: string): void {
  const rs = ctx.store.get(TYPES.replicaSets, namespace, name);
  if (!rs) return;
  const spec = (rs.spec ?? {}) as SetSpec;
  const desired = numberOr(spec.replicas, 1);
  const pods = ownedPods(ctx, rs);
  // Finished pods do not count; a real ReplicaSet's pods restart in place, so this is rare.
  for (const pod of pods.filter((p) => !isPodActive(p))) deletePod(ctx, pod);
  const active = pods.filter(isPodActive);
  for (let i = active.length; i < desired; i++)
    ctx.store.create(TYPES.pods, podFromTemplate(rs, ownerRef(rs, 'ReplicaSet'), spec.template));
  // Extras go not-ready first, then newest first, as the ReplicaSet controller ranks them.
  const extras = [...active]
    .sort((a, b) => Number(isPodReady(a)) - Number(isPodReady(b)) || byCreation(b, a))
    .slice(0, Math.max(0, active.length - desired));
  for (const pod of extras) deletePod(ctx, pod);
  const kept = ownedPods(ctx, rs).filter(isPodActive);
  const ready = kept.filter(isPodReady).length;
  writeSetStatus(ctx, TYPES.replicaSets, rs, {
    replicas: kept.length,
    fullyLabeledReplicas: kept.length,
    readyReplicas: ready,
    availableReplicas: ready,
  });
}

const STS_REVISION_LABEL = 'controller-revision-hash';

export function reconcileStatefulSet(ctx: ControllerContext, namespace: string, name: string): void {
  const sts = ctx.store.get(TYPES.statefulSets, namespace, name);
  if (!sts) return;
  const spec = (sts.spec ?? {}) as SetSpec;
  const desired = numberOr(spec.replicas, 1);
  const revision = `${name}-${templateHash(spec.template ?? {})}`;
  const pods = new Map(ownedPods(ctx, sts).map((pod) => [pod.metadata.name ?? '', pod]));
  let blocked = false;
  // OrderedReady: ordinal i is created only once every lower ordinal is ready.
  for (let i = 0; i < desired && !blocked; i++) {
    const podName = `${name}-${i}`;
    const pod = pods.get(podName);
    if (!pod) {
      const labels = {
        [STS_REVISION_LABEL]: revision,
        'statefulset.kubernetes.io/pod-name': podName,
        'apps.kubernetes.io/pod-index': String(i),
      };
      ctx.store.create(TYPES.pods, podFromTemplate(sts, ownerRef(sts, 'StatefulSet'), spec.template, { name: podName, labels }));
      blocked = true;
    } else if (!isPodReady(pod)) blocked = true;
  }
  // Scale down from the highest ordinal; then replace out-of-date pods from the top, one at a time.
  for (const [podName, pod] of pods) if (ordinalOf(podName, name) >= desired) deletePod(ctx, pod);
  const current = [...pods.values()].filter((p) => ordinalOf(p.metadata.name ?? '', name) < desired);
  const outdated = current
    .filter((p) => p.metadata.labels?.[STS_REVISION_LABEL] !== revision)
    .sort((a, b) => ordinalOf(b.metadata.name ?? '', name) - ordinalOf(a.metadata.name ?? '', name));
  if (!blocked && outdated.length > 0 && current.length === desired && current.every(isPodReady)) deletePod(ctx, outdated[0]!);
  const ready = current.filter(isPodReady).length;
  const updated = current.filter((p) => p.metadata.labels?.[STS_REVISION_LABEL] === revision).length;
  writeSetStatus(ctx, TYPES.statefulSets, sts, {
    replicas: current.length,
    readyReplicas: ready,
    currentReplicas: updated,
    updatedReplicas: updated,
    availableReplicas: ready,
    currentRevision:
      outdated.length === 0
        ? revision
        : (current.find((p) => p.metadata.labels?.[STS_REVISION_LABEL] !== revision)?.metadata.labels?.[STS_REVISION_LABEL] ?? revision),
    updateRevision: revision,
    collisionCount: 0,
  });
}

function ordinalOf(podName: string, setName: string): number {
  const suffix = podName.slice(setName.length + 1);
  return /^\d+$/.test(suffix) ? Number(suffix) : Number.MAX_SAFE_INTEGER;
}

export function reconcileDaemonSet(ctx: ControllerContext, namespace: string, name: string): void {
  const ds = ctx.store.get(TYPES.daemonSets, namespace, name);
  if (!ds) return;
  const spec = (ds.spec ?? {}) as SetSpec;
  const hash = templateHash(spec.template ?? {});
  const nodes = ctx.store.list(TYPES.nodes).items.map((node) => node.metadata.name ?? '');
  const pods = ownedPods(ctx, ds).filter(isPodActive);
  for (const node of nodes) {
    const onNode = pods.filter((p) => (p.spec as { nodeName?: string }).nodeName === node);
    const stale = onNode.filter((p) => p.metadata.labels?.[STS_REVISION_LABEL] !== hash);
    for (const pod of stale) deletePod(ctx, pod);
    if (onNode.length === stale.length) {
      ctx.store.create(
        TYPES.pods,
        podFromTemplate(ds, ownerRef(ds, 'DaemonSet'), spec.template, { nodeName: node, labels: { [STS_REVISION_LABEL]: hash } }),
      );
    }
  }
  const current = ownedPods(ctx, ds).filter(isPodActive);
  const ready = current.filter(isPodReady).length;
  writeSetStatus(ctx, TYPES.daemonSets, ds, {
    currentNumberScheduled: current.length,
    desiredNumberScheduled: nodes.length,
    numberMisscheduled: 0,
    numberReady: ready,
    numberAvailable: ready,
    ...(nodes.length - ready > 0 ? { numberUnavailable: nodes.length - ready } : {}),
    updatedNumberScheduled: current.filter((p) => p.metadata.labels?.[STS_REVISION_LABEL] === hash).length,
  });
}
