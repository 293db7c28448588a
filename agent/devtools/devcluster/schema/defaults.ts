// Defaults the API server fills in, and the objects Kubernetes' controllers would create
// (a "default" service account in every namespace), so objects look as kubectl expects.
import type { KubeObject, ObjectStore } from '../types';
import { withWorkloadDefaults } from './workload_defaults';

const SERVICE_ACCOUNTS = { group: '', version: 'v1', resource: 'serviceaccounts' };

/** Fields the API server defaults on create. */
export function withDefaults(object: KubeObject): KubeObject {
  if (object.kind === 'Namespace') {
    object.metadata.labels = { ...(object.metadata.labels ?? {}), 'kubernetes.io/metadata.name': object.metadata.name ?? '' };
    object.spec = { finalizers: ['kubernetes'], ...((object.spec as object | undefined) ?? {}) };
    object.status = { phase: 'Active' };
  }
  if (object.kind === 'Secret') object.type ??= 'Opaque';
  if (object.kind === 'Pod') {
    const spec = (object.spec ?? {}) as Record<string, unknown>;
    object.spec = {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      serviceAccountName: 'default',
      ...spec,
    };
    object.status = { phase: 'Pending', qosClass: 'BestEffort', ...((object.status as object | undefined) ?? {}) };
  }
  return withWorkloadDefaults(object);
}

/** The "default" service account of a namespace, created when missing. */
export function ensureDefaultServiceAccount(store: ObjectStore, namespace: string): void {
  if (store.get(SERVICE_ACCOUNTS, namespace, 'default')) return;
  store.create(SERVICE_ACCOUNTS, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace } });
}
