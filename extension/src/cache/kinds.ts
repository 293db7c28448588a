// The resource kinds the workbench knows by itself, and how a kind becomes an API path. Custom
// resources found by discovery use the same shape (cache/discovery.ts).

export interface KindInfo {
  kind: string;
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

export const BUILTIN_KINDS = {
  Pod: { kind: 'Pod', group: '', version: 'v1', plural: 'pods', namespaced: true },
  Deployment: { kind: 'Deployment', group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
  StatefulSet: { kind: 'StatefulSet', group: 'apps', version: 'v1', plural: 'statefulsets', namespaced: true },
  DaemonSet: { kind: 'DaemonSet', group: 'apps', version: 'v1', plural: 'daemonsets', namespaced: true },
  ReplicaSet: { kind: 'ReplicaSet', group: 'apps', version: 'v1', plural: 'replicasets', namespaced: true },
  Job: { kind: 'Job', group: 'batch', version: 'v1', plural: 'jobs', namespaced: true },
  CronJob: { kind: 'CronJob', group: 'batch', version: 'v1', plural: 'cronjobs', namespaced: true },
  Service: { kind: 'Service', group: '', version: 'v1', plural: 'services', namespaced: true },
  Ingress: { kind: 'Ingress', group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', namespaced: true },
  ConfigMap: { kind: 'ConfigMap', group: '', version: 'v1', plural: 'configmaps', namespaced: true },
  Secret: { kind: 'Secret', group: '', version: 'v1', plural: 'secrets', namespaced: true },
  Event: { kind: 'Event', group: '', version: 'v1', plural: 'events', namespaced: true },
  Node: { kind: 'Node', group: '', version: 'v1', plural: 'nodes', namespaced: false },
  Namespace: { kind: 'Namespace', group: '', version: 'v1', plural: 'namespaces', namespaced: false },
  CustomResourceDefinition: {
    kind: 'CustomResourceDefinition',
    group: 'apiextensions.k8s.io',
    version: 'v1',
    plural: 'customresourcedefinitions',
    namespaced: false,
  },
} as const satisfies Record<string, KindInfo>;

export type BuiltinKind = keyof typeof BUILTIN_KINDS;

/** The collection path of a kind, in one namespace or (namespace undefined) across the cluster. */
export function collectionPath(info: KindInfo, namespace?: string): string {
  const base = info.group === '' ? `/api/${info.version}` : `/apis/${info.group}/${info.version}`;
  const scope = info.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${scope}/${info.plural}`;
}

/** The cache key of a kind: group/version/plural, unique across built-in and custom kinds. */
export function kindKey(info: KindInfo): string {
  return `${info.group}/${info.version}/${info.plural}`;
}

/** A tree/menu-friendly lower-case id of a kind (`deployment`, `customresourcedefinition`, `widget.example.com`). */
export function kindId(info: KindInfo): string {
  const lower = info.kind.toLowerCase();
  return info.group === '' || info.group.endsWith('.k8s.io') || info.group === 'apps' || info.group === 'batch'
    ? lower
    : `${lower}.${info.group}`;
}
