// The one table of resource types the dev cluster serves. Discovery, routing, OpenAPI and
// validation all read it, so adding a resource is adding a row here.
import type { ResourceType } from '../types';
import { WORKLOAD_ROWS } from './workload_resources';

export const READ_VERBS = ['get', 'list', 'watch'];
export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export interface ResourceDefinition {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  verbs: string[];
  /** Subresources served under <resource>/<name>/<sub>, with their verbs. */
  subresources: Record<string, string[]>;
  categories?: string[];
  /** The @kubernetes/client-node model whose fields the kind has (schema/structure.ts). */
  model?: string;
  /**
   * Set for the kinds a CustomResourceDefinition serves (custom_resources.ts): the version its
   * objects are stored under, whichever served version a request names (conversion `None`).
   */
  storageVersion?: string;
}

type Row = Omit<ResourceDefinition, 'shortNames' | 'verbs' | 'subresources'> & Partial<ResourceDefinition>;

function row(definition: Row): ResourceDefinition {
  return { shortNames: [], verbs: ALL_VERBS, subresources: {}, ...definition };
}

const CORE_ROWS: readonly ResourceDefinition[] = [
  row({
    group: '',
    version: 'v1',
    kind: 'Namespace',
    model: 'V1Namespace',
    plural: 'namespaces',
    singular: 'namespace',
    shortNames: ['ns'],
    namespaced: false,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: { status: ['get', 'patch', 'update'] },
  }),
  row({
    group: '',
    version: 'v1',
    kind: 'Pod',
    model: 'V1Pod',
    plural: 'pods',
    singular: 'pod',
    shortNames: ['po'],
    namespaced: true,
    categories: ['all'],
    subresources: {
      status: ['get', 'patch', 'update'],
      log: ['get'],
      exec: ['create', 'get'],
      attach: ['create', 'get'],
      portforward: ['create', 'get'],
    },
  }),
  row({
    group: '',
    version: 'v1',
    kind: 'ServiceAccount',
    model: 'V1ServiceAccount',
    plural: 'serviceaccounts',
    singular: 'serviceaccount',
    shortNames: ['sa'],
    namespaced: true,
  }),
  row({ group: '', version: 'v1', kind: 'Secret', model: 'V1Secret', plural: 'secrets', singular: 'secret', namespaced: true }),
  row({
    group: '',
    version: 'v1',
    kind: 'ConfigMap',
    model: 'V1ConfigMap',
    plural: 'configmaps',
    singular: 'configmap',
    shortNames: ['cm'],
    namespaced: true,
  }),
  row({ group: '', version: 'v1', kind: 'Event', plural: 'events', singular: 'event', shortNames: ['ev'], namespaced: true }),
  row({
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'Role',
    model: 'V1Role',
    plural: 'roles',
    singular: 'role',
    namespaced: true,
  }),
  row({
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'RoleBinding',
    model: 'V1RoleBinding',
    plural: 'rolebindings',
    singular: 'rolebinding',
    namespaced: true,
  }),
  row({
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'ClusterRole',
    model: 'V1ClusterRole',
    plural: 'clusterroles',
    singular: 'clusterrole',
    namespaced: false,
  }),
  row({
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'ClusterRoleBinding',
    model: 'V1ClusterRoleBinding',
    plural: 'clusterrolebindings',
    singular: 'clusterrolebinding',
    namespaced: false,
  }),
  row({
    group: 'coordination.k8s.io',
    version: 'v1',
    kind: 'Lease',
    model: 'V1Lease',
    plural: 'leases',
    singular: 'lease',
    namespaced: true,
  }),
  row({
    group: 'apps',
    version: 'v1',
    kind: 'Deployment',
    model: 'V1Deployment',
    plural: 'deployments',
    singular: 'deployment',
    shortNames: ['deploy'],
    namespaced: true,
    categories: ['all'],
    subresources: { status: ['get', 'patch', 'update'], scale: ['get', 'patch', 'update'] },
  }),
  row({
    group: '',
    version: 'v1',
    kind: 'Service',
    model: 'V1Service',
    plural: 'services',
    singular: 'service',
    shortNames: ['svc'],
    namespaced: true,
    categories: ['all'],
    subresources: { status: ['get', 'patch', 'update'] },
  }),
  row({
    group: '',
    version: 'v1',
    kind: 'PersistentVolumeClaim',
    model: 'V1PersistentVolumeClaim',
    plural: 'persistentvolumeclaims',
    singular: 'persistentvolumeclaim',
    shortNames: ['pvc'],
    namespaced: true,
    subresources: { status: ['get', 'patch', 'update'] },
  }),
  row({
    group: 'policy',
    version: 'v1',
    kind: 'PodDisruptionBudget',
    model: 'V1PodDisruptionBudget',
    plural: 'poddisruptionbudgets',
    singular: 'poddisruptionbudget',
    shortNames: ['pdb'],
    namespaced: true,
    subresources: { status: ['get', 'patch', 'update'] },
  }),
  row({
    group: 'apiextensions.k8s.io',
    version: 'v1',
    kind: 'CustomResourceDefinition',
    model: 'V1CustomResourceDefinition',
    plural: 'customresourcedefinitions',
    singular: 'customresourcedefinition',
    shortNames: ['crd', 'crds'],
    namespaced: false,
    categories: ['api-extensions'],
    subresources: { status: ['get', 'patch', 'update'] },
  }),
  row({
    group: 'authorization.k8s.io',
    version: 'v1',
    kind: 'SelfSubjectAccessReview',
    plural: 'selfsubjectaccessreviews',
    singular: 'selfsubjectaccessreview',
    namespaced: false,
    verbs: ['create'],
  }),
];

/** The core rows, then the workload rows (controllers/). */
export const RESOURCES: readonly ResourceDefinition[] = [...CORE_ROWS, ...WORKLOAD_ROWS];

/** Resources that are only ever created and answered, never stored. */
export const VIRTUAL_RESOURCES = new Set(['selfsubjectaccessreviews']);

export function apiVersionOf(definition: ResourceDefinition): string {
  return definition.group ? `${definition.group}/${definition.version}` : definition.version;
}

export function resourceTypeOf(definition: ResourceDefinition): ResourceType {
  return { group: definition.group, version: definition.storageVersion ?? definition.version, resource: definition.plural };
}

/**
 * The lookups below take the table to search: the built-in rows by default, or a cluster's
 * live table (built-in rows plus what its CustomResourceDefinitions serve, custom_resources.ts).
 */
export function findResource(
  group: string,
  version: string,
  plural: string,
  table: readonly ResourceDefinition[] = RESOURCES,
): ResourceDefinition | undefined {
  return table.find((r) => r.group === group && r.version === version && r.plural === plural);
}

export function findByKind(
  apiVersion: string,
  kind: string,
  table: readonly ResourceDefinition[] = RESOURCES,
): ResourceDefinition | undefined {
  return table.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
}

/** Group → versions, in table order; '' is the legacy core group served under /api. */
export function groupVersions(table: readonly ResourceDefinition[] = RESOURCES): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const r of table) {
    const versions = groups.get(r.group) ?? [];
    if (!versions.includes(r.version)) versions.push(r.version);
    groups.set(r.group, versions);
  }
  return groups;
}

export function resourcesIn(group: string, version: string, table: readonly ResourceDefinition[] = RESOURCES): ResourceDefinition[] {
  return table.filter((r) => r.group === group && r.version === version);
}
