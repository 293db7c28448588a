// The workload, network and node kinds the dev cluster's controllers (controllers/) act on.
// Kept apart from the core table (resources.ts) so each list can grow on its own; resources.ts
// appends these rows after its own (Deployments and Services are core rows there).

/** A row of the resource table (resources.ts checks it is one; importing its type here would be a cycle). */
interface ResourceDefinition {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  verbs: string[];
  subresources: Record<string, string[]>;
  categories?: string[];
}

const ALL = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const STATUS = { status: ['get', 'patch', 'update'] };
const SCALE_AND_STATUS = { ...STATUS, scale: ['get', 'patch', 'update'] };

type Row = Pick<ResourceDefinition, 'group' | 'version' | 'kind' | 'plural' | 'singular' | 'namespaced'> & Partial<ResourceDefinition>;

function row(definition: Row): ResourceDefinition {
  return { shortNames: [], verbs: ALL, subresources: {}, ...definition };
}

const apps = (kind: string, plural: string, shortNames: string[], scalable: boolean): ResourceDefinition =>
  row({
    group: 'apps',
    version: 'v1',
    kind,
    plural,
    singular: kind.toLowerCase(),
    shortNames,
    namespaced: true,
    categories: ['all'],
    subresources: scalable ? SCALE_AND_STATUS : STATUS,
  });

export const WORKLOAD_ROWS: readonly ResourceDefinition[] = [
  apps('ReplicaSet', 'replicasets', ['rs'], true),
  apps('StatefulSet', 'statefulsets', ['sts'], true),
  apps('DaemonSet', 'daemonsets', ['ds'], false),
  row({
    group: 'batch',
    version: 'v1',
    kind: 'Job',
    plural: 'jobs',
    singular: 'job',
    namespaced: true,
    categories: ['all'],
    subresources: STATUS,
  }),
  row({
    group: 'batch',
    version: 'v1',
    kind: 'CronJob',
    plural: 'cronjobs',
    singular: 'cronjob',
    shortNames: ['cj'],
    namespaced: true,
    categories: ['all'],
    subresources: STATUS,
  }),
  row({ group: '', version: 'v1', kind: 'Endpoints', plural: 'endpoints', singular: 'endpoints', shortNames: ['ep'], namespaced: true }),
  row({
    group: 'discovery.k8s.io',
    version: 'v1',
    kind: 'EndpointSlice',
    plural: 'endpointslices',
    singular: 'endpointslice',
    namespaced: true,
  }),
  row({
    group: 'networking.k8s.io',
    version: 'v1',
    kind: 'Ingress',
    plural: 'ingresses',
    singular: 'ingress',
    shortNames: ['ing'],
    namespaced: true,
    subresources: STATUS,
  }),
  row({
    group: '',
    version: 'v1',
    kind: 'Node',
    plural: 'nodes',
    singular: 'node',
    shortNames: ['no'],
    namespaced: false,
    subresources: STATUS,
  }),
];
