// The Deployment controller: one ReplicaSet per pod template (named by its hash), the newest
// scaled to the Deployment's replicas and the older ones to zero once the new one is ready
// (a rolling update with a 100% surge), revision annotations as kubectl rollout reads them,
// and a status `kubectl rollout status` follows.
import type { KubeObject } from '../types';
import type { ControllerContext } from './context';
import { isOwnedBy, numberOr, TYPES, templateHash, withCondition, type Condition, type LabelSelector, type PodTemplate } from './objects';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';

interface DeploymentSpec {
  replicas?: number;
  selector?: LabelSelector;
  template?: PodTemplate;
  paused?: boolean;
  revisionHistoryLimit?: number;
}

interface ReplicaSetStatus {
  replicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
}

function revisionOf(object: KubeObject): number {
  return Number(object.metadata.annotations?.[REVISION_ANNOTATION] ?? 0) || 0;
}

function replicaSetStatus(rs: KubeObject): ReplicaSetStatus {
  return (rs.status ?? {}) as ReplicaSetStatus;
}

function newReplicaSet(deployment: KubeObject, spec: DeploymentSpec, hash: string, revision: number): KubeObject {
  const template = spec.template ?? {};
  const labels = { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash };
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${deployment.metadata.name}-${hash}`,
      namespace: deployment.metadata.namespace,
      labels,
      annotations: { [REVISION_ANNOTATION]: String(revision) },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: deployment.metadata.name ?? '',
          uid: deployment.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      replicas: 0,
      selector: { ...(spec.selector ?? {}), matchLabels: { ...(spec.selector?.matchLabels ?? {}), 'pod-template-hash': hash } },
      template: { ...template, metadata: { ...(template.metadata ?? {}), labels } },
    },
  };
}

function setReplicas(ctx: ControllerContext, rs: KubeObject, replicas: number, desired: number, revision?: number): KubeObject {
  const annotations: Record<string, string> = { ...(rs.metadata.annotations ?? {}), [DESIRED_REPLICAS_ANNOTATION]: String(desired) };
  if (revision !== undefined) annotations[REVISION_ANNOTATION] = String(revision);
  return ctx.writeIfChanged(TYPES.replicaSets, {
    ...rs,
    metadata: { ...rs.metadata, annotations },
    spec: { ...(rs.spec as object), replicas },
  });
}

export function reconcileDeployment(ctx: ControllerContext, namespace: string, name: string): void {
  const deployment = ctx.store.get(TYPES.deployments, namespace, name);
  if (!deployment) return;
  deployment.apiVersion = 'apps/v1';
  deployment.kind = 'Deployment';
  const spec = (deployment.spec ?? {}) as DeploymentSpec;
  const desired = numberOr(spec.replicas, 1);
  const owned = ctx.store.list(TYPES.replicaSets, { namespace }).items.filter((rs) => isOwnedBy(rs, deployment));
  const hash = templateHash(spec.template ?? {});
  const maxRevision = owned.reduce((max, rs) => Math.max(max, revisionOf(rs)), 0);
  let current = owned.find((rs) => rs.metadata.labels?.['pod-template-hash'] === hash);
  const olds = owned.filter((rs) => rs !== current);
  if (spec.paused) return writeStatus(ctx, deployment, desired, current, owned);
  // The current template's ReplicaSet becomes the newest revision (a rollback reuses the old one).
  const revision = current && revisionOf(current) === maxRevision ? maxRevision : maxRevision + 1;
  current = current
    ? setReplicas(ctx, current, desired, desired, revision)
    : ctx.store.create(TYPES.replicaSets, newReplicaSet(deployment, spec, hash, revision));
  const newReady = numberOr(replicaSetStatus(current).readyReplicas, 0) >= desired;
  for (const old of olds) if (newReady || desired === 0) setReplicas(ctx, old, 0, desired);
  pruneHistory(ctx, olds, numberOr(spec.revisionHistoryLimit, 10));
  writeStatus(
    ctx,
    deployment,
    desired,
    current,
    ctx.store.list(TYPES.replicaSets, { namespace }).items.filter((rs) => isOwnedBy(rs, deployment)),
  );
}

/** Old ReplicaSets scaled to zero beyond revisionHistoryLimit are deleted, oldest first. */
function pruneHistory(ctx: ControllerContext, olds: KubeObject[], limit: number): void {
  const idle = olds
    .filter((rs) => numberOr((rs.spec as { replicas?: number }).replicas, 0) === 0 && numberOr(replicaSetStatus(rs).replicas, 0) === 0)
    .sort((a, b) => revisionOf(a) - revisionOf(b));
  for (const rs of idle.slice(0, Math.max(0, idle.length - limit)))
    ctx.store.delete(TYPES.replicaSets, rs.metadata.namespace, rs.metadata.name ?? '');
}

function sum(sets: KubeObject[], field: keyof ReplicaSetStatus): number {
  return sets.reduce((total, rs) => total + numberOr(replicaSetStatus(rs)[field], 0), 0);
}

function writeStatus(
  ctx: ControllerContext,
  deployment: KubeObject,
  desired: number,
  current: KubeObject | undefined,
  all: KubeObject[],
): void {
  const replicas = sum(all, 'replicas');
  const updated = current ? numberOr(replicaSetStatus(current).replicas, 0) : 0;
  const ready = sum(all, 'readyReplicas');
  const available = sum(all, 'availableReplicas');
  const complete = updated === desired && replicas === desired && available >= desired;
  const previous = (deployment.status ?? {}) as { conditions?: Condition[] };
  let conditions = withCondition(
    previous.conditions,
    available >= desired
      ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
      : {
          type: 'Available',
          status: 'False',
          reason: 'MinimumReplicasUnavailable',
          message: 'Deployment does not have minimum availability.',
        },
    true,
  );
  const rsName = current?.metadata.name ?? '';
  conditions = withCondition(
    conditions,
    complete
      ? {
          type: 'Progressing',
          status: 'True',
          reason: 'NewReplicaSetAvailable',
          message: `ReplicaSet "${rsName}" has successfully progressed.`,
        }
      : { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${rsName}" is progressing.` },
    true,
  );
  const status = {
    observedGeneration: numberOr(deployment.metadata.generation, 1),
    replicas,
    updatedReplicas: updated,
    readyReplicas: ready,
    availableReplicas: available,
    ...(desired - available > 0 ? { unavailableReplicas: desired - available } : {}),
    conditions,
  };
  const annotations = { ...(deployment.metadata.annotations ?? {}) };
  if (current) annotations[REVISION_ANNOTATION] = String(revisionOf(current));
  ctx.writeIfChanged(TYPES.deployments, { ...deployment, metadata: { ...deployment.metadata, annotations }, status });
}
