// The one-call actions on an object: scale (the scale subresource), restart a rollout (the
// restartedAt annotation on the pod template, as `kubectl rollout restart` writes it).
import type { KubeObject, ResourceApi } from './resource_api';
import type { ObjectIdentity } from './resource_ref';

export const SCALABLE_KINDS = new Set(['Deployment', 'StatefulSet', 'ReplicaSet']);
export const RESTARTABLE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

export function scale(api: ResourceApi, ref: ObjectIdentity, replicas: number): Promise<KubeObject> {
  return api.mergePatch(ref, { spec: { replicas } }, 'scale');
}

export function restartRollout(api: ResourceApi, ref: ObjectIdentity, at: Date): Promise<KubeObject> {
  const restartedAt = at.toISOString().replace(/\.\d+Z$/, 'Z');
  return api.mergePatch(ref, { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': restartedAt } } } } });
}

/** The events of an object: the field selector the API server indexes. */
export function involvedObjectSelector(ref: ObjectIdentity): string {
  return [
    `involvedObject.kind=${ref.kind}`,
    `involvedObject.name=${ref.name}`,
    ...(ref.namespace ? [`involvedObject.namespace=${ref.namespace}`] : []),
  ].join(',');
}
