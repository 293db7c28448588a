// RBAC for the dev cluster, with Kubernetes' semantics: a request is allowed when a
// ClusterRoleBinding, or a RoleBinding in the request's namespace, binds a subject matching the
// caller to a role with a rule that covers the request. Everything else is denied.
import type { Authorizer, AuthorizationDecision, KubeObject, ObjectStore, RequestAttributes, ResourceType, UserInfo } from '../types';

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const resourceType = (resource: string): ResourceType => ({ group: RBAC_GROUP, version: 'v1', resource });
export const ROLES = resourceType('roles');
export const ROLE_BINDINGS = resourceType('rolebindings');
export const CLUSTER_ROLES = resourceType('clusterroles');
export const CLUSTER_ROLE_BINDINGS = resourceType('clusterrolebindings');

/** Members of this group are allowed everything, without any binding (as in Kubernetes). */
export const SUPERUSER_GROUP = 'system:masters';

export interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface Subject {
  kind?: string;
  name?: string;
  namespace?: string;
}

interface RoleRef {
  kind?: string;
  name?: string;
}

/** A binding with where it lives, for the reason string. */
interface BindingView {
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  name: string;
  namespace: string | undefined;
  roleRef: RoleRef;
  subjects: Subject[];
}

/**
 * The authorizer reads RBAC objects through an index that store watches keep current (the
 * store notifies watchers synchronously, so a new binding applies to the very next request);
 * a decision then costs no copying of objects.
 */
export function createRbacAuthorizer(store: ObjectStore): Authorizer {
  const index = new RbacIndex(store);
  return (user, request) => authorize(index, user, request);
}

function authorize(index: RbacIndex, user: UserInfo, request: RequestAttributes): AuthorizationDecision {
  if (user.groups.includes(SUPERUSER_GROUP)) return { allowed: true, reason: '' };
  for (const binding of index.bindingsFor(request)) {
    const subject = binding.subjects.find((candidate) => subjectMatches(candidate, user, binding.namespace));
    if (!subject) continue;
    const rules = index.rulesOf(binding);
    if (!rules?.some((rule) => ruleAllows(rule, request))) continue;
    return { allowed: true, reason: allowedReason(binding, subject) };
  }
  return { allowed: false, reason: '' };
}

/** Bindings and role rules by name, kept in step with the store by watches. */
class RbacIndex {
  private readonly clusterRoleBindings = new Map<string, BindingView>();
  private readonly roleBindings = new Map<string, Map<string, BindingView>>();
  private readonly clusterRoles = new Map<string, PolicyRule[]>();
  private readonly roles = new Map<string, PolicyRule[]>();

  constructor(store: ObjectStore) {
    store.watch(CLUSTER_ROLE_BINDINGS, {}, (event) => {
      const name = event.object.metadata.name ?? '';
      if (event.type === 'DELETED') this.clusterRoleBindings.delete(name);
      else this.clusterRoleBindings.set(name, bindingView(event.object, 'ClusterRoleBinding'));
    });
    store.watch(ROLE_BINDINGS, {}, (event) => {
      const namespace = event.object.metadata.namespace ?? '';
      const name = event.object.metadata.name ?? '';
      let bindings = this.roleBindings.get(namespace);
      if (!bindings) this.roleBindings.set(namespace, (bindings = new Map()));
      if (event.type === 'DELETED') bindings.delete(name);
      else bindings.set(name, bindingView(event.object, 'RoleBinding'));
    });
    store.watch(CLUSTER_ROLES, {}, (event) =>
      updateRules(this.clusterRoles, event.object.metadata.name ?? '', event.type === 'DELETED' ? undefined : event.object),
    );
    store.watch(ROLES, {}, (event) => {
      const key = `${event.object.metadata.namespace ?? ''}/${event.object.metadata.name ?? ''}`;
      updateRules(this.roles, key, event.type === 'DELETED' ? undefined : event.object);
    });
  }

  /** Cluster-wide bindings always apply; namespaced ones only to requests in their namespace. */
  *bindingsFor(request: RequestAttributes): Generator<BindingView> {
    yield* this.clusterRoleBindings.values();
    if (!request.namespace || request.resource === '') return;
    yield* this.roleBindings.get(request.namespace)?.values() ?? [];
  }

  /** The rules of the bound role; undefined when it does not exist (the binding grants nothing). */
  rulesOf(binding: BindingView): PolicyRule[] | undefined {
    const { kind, name } = binding.roleRef;
    if (!name) return undefined;
    if (kind === 'ClusterRole') {
      const rules = this.clusterRoles.get(name);
      // A ClusterRole's non-resource rules only mean something cluster-wide.
      return binding.kind === 'RoleBinding' ? rules?.filter((rule) => !rule.nonResourceURLs?.length) : rules;
    }
    if (kind === 'Role' && binding.kind === 'RoleBinding') return this.roles.get(`${binding.namespace ?? ''}/${name}`);
    return undefined;
  }
}

function updateRules(rules: Map<string, PolicyRule[]>, key: string, role: KubeObject | undefined): void {
  if (!role) {
    rules.delete(key);
    return;
  }
  rules.set(key, Array.isArray(role.rules) ? ((role.rules as unknown[]).filter(isRecord) as PolicyRule[]) : []);
}

function bindingView(object: KubeObject, kind: BindingView['kind']): BindingView {
  return {
    kind,
    name: object.metadata.name ?? '',
    namespace: kind === 'RoleBinding' ? object.metadata.namespace : undefined,
    roleRef: isRecord(object.roleRef) ? (object.roleRef as RoleRef) : {},
    subjects: Array.isArray(object.subjects) ? (object.subjects.filter(isRecord) as Subject[]) : [],
  };
}

function subjectMatches(subject: Subject, user: UserInfo, bindingNamespace: string | undefined): boolean {
  switch (subject.kind) {
    case 'User':
      return subject.name === user.username;
    case 'Group':
      return subject.name !== undefined && user.groups.includes(subject.name);
    case 'ServiceAccount': {
      const namespace = subject.namespace || bindingNamespace;
      return !!namespace && !!subject.name && user.username === serviceAccountUsername(namespace, subject.name);
    }
    default:
      return false;
  }
}

export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** The groups Kubernetes gives a service account's token. */
export function serviceAccountGroups(namespace: string): string[] {
  return ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'];
}

export function ruleAllows(rule: PolicyRule, request: RequestAttributes): boolean {
  if (!matchesAny(rule.verbs, request.verb)) return false;
  if (request.resource === '') return nonResourceUrlMatches(rule.nonResourceURLs, request.nonResourcePath ?? '');
  if (!rule.resources?.length) return false;
  if (!matchesAny(rule.apiGroups, request.apiGroup)) return false;
  if (!resourceMatches(rule.resources, request.resource, request.subresource)) return false;
  if (rule.resourceNames?.length) return !!request.name && rule.resourceNames.includes(request.name);
  return true;
}

function matchesAny(values: string[] | undefined, wanted: string): boolean {
  return !!values && (values.includes('*') || values.includes(wanted));
}

/** "pods" covers only pods; "pods/log" its subresource; "*" everything; "*\/log" every log. */
function resourceMatches(resources: string[], resource: string, subresource: string | undefined): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  return resources.some((candidate) => candidate === '*' || candidate === combined || (!!subresource && candidate === `*/${subresource}`));
}

/** Exact paths, "*" for every path, or a prefix ending in "*" such as "/apis/*". */
function nonResourceUrlMatches(urls: string[] | undefined, path: string): boolean {
  return !!urls?.some((url) => url === '*' || url === path || (url.endsWith('*') && path.startsWith(url.slice(0, -1))));
}

function allowedReason(binding: BindingView, subject: Subject): string {
  const where =
    binding.kind === 'RoleBinding' ? `RoleBinding "${binding.name}/${binding.namespace ?? ''}"` : `ClusterRoleBinding "${binding.name}"`;
  const who =
    subject.kind === 'ServiceAccount'
      ? `ServiceAccount "${subject.name ?? ''}/${subject.namespace || (binding.namespace ?? '')}"`
      : `${subject.kind ?? ''} "${subject.name ?? ''}"`;
  return `RBAC: allowed by ${where} of ${binding.roleRef.kind ?? ''} "${binding.roleRef.name ?? ''}" to ${who}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// The default roles a fresh dev cluster starts with (the API server creates what is missing).

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'update', 'patch', 'delete', 'deletecollection'];

/** What namespaced users work with; admin additionally manages RBAC inside the namespace. */
const WORKLOAD_RESOURCES = ['pods', 'configmaps', 'secrets', 'serviceaccounts'];
const POD_SUBRESOURCES = ['pods/log', 'pods/status'];
const POD_INTERACTION = ['pods/exec', 'pods/attach', 'pods/portforward'];

function clusterRole(name: string, rules: PolicyRule[], description: string): KubeObject {
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'ClusterRole',
    metadata: {
      name,
      labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' },
      annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true', 'devcluster/description': description },
    },
    rules,
  };
}

function clusterRoleBinding(name: string, role: string, group: string): KubeObject {
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: {
      name,
      labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' },
      annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
    },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: role },
    subjects: [{ apiGroup: RBAC_GROUP, kind: 'Group', name: group }],
  };
}

const viewRules: PolicyRule[] = [
  { apiGroups: [''], resources: ['pods', 'pods/log', 'pods/status', 'configmaps', 'serviceaccounts', 'events', 'namespaces'], verbs: READ },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: READ },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: READ },
];

const editRules: PolicyRule[] = [
  { apiGroups: [''], resources: [...WORKLOAD_RESOURCES, ...POD_SUBRESOURCES, 'events'], verbs: [...READ, ...WRITE] },
  { apiGroups: [''], resources: POD_INTERACTION, verbs: ['get', 'create'] },
  { apiGroups: [''], resources: ['namespaces'], verbs: READ },
  { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: READ },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: [...READ, ...WRITE] },
];

const adminRules: PolicyRule[] = [
  ...editRules,
  { apiGroups: [RBAC_GROUP], resources: ['roles', 'rolebindings'], verbs: [...READ, ...WRITE] },
  { apiGroups: ['authorization.k8s.io'], resources: ['localsubjectaccessreviews'], verbs: ['create'] },
];

/** cluster-admin, admin, edit, view, and what every authenticated user may do. */
export function defaultClusterRoles(): KubeObject[] {
  return [
    clusterRole(
      'cluster-admin',
      [
        { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
        { nonResourceURLs: ['*'], verbs: ['*'] },
      ],
      'Everything, everywhere.',
    ),
    clusterRole('admin', adminRules, 'Everything inside a namespace, including its Roles and RoleBindings; bind it with a RoleBinding.'),
    clusterRole('edit', editRules, 'Read and write workloads, configuration and secrets in a namespace; no RBAC.'),
    clusterRole('view', viewRules, 'Read most objects in a namespace; not secrets.'),
    clusterRole(
      'system:basic-user',
      [
        { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] },
        { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
      ],
      'Any authenticated user may ask what it is allowed to do.',
    ),
    clusterRole(
      'system:discovery',
      [
        {
          nonResourceURLs: [
            '/api',
            '/api/*',
            '/apis',
            '/apis/*',
            '/version',
            '/version/',
            '/openapi',
            '/openapi/*',
            '/healthz',
            '/livez',
            '/readyz',
          ],
          verbs: ['get'],
        },
      ],
      'Any authenticated user may read API discovery and the OpenAPI documents.',
    ),
  ];
}

/** Binds system:basic-user and system:discovery to every authenticated user, as Kubernetes does. */
export function defaultClusterRoleBindings(): KubeObject[] {
  return [
    clusterRoleBinding('system:basic-user', 'system:basic-user', 'system:authenticated'),
    clusterRoleBinding('system:discovery', 'system:discovery', 'system:authenticated'),
  ];
}

/** Creates the default roles and bindings that are missing; existing ones are left as they are. */
export function ensureDefaultRbac(store: ObjectStore): void {
  for (const role of defaultClusterRoles()) {
    if (!store.get(CLUSTER_ROLES, undefined, role.metadata.name ?? '')) store.create(CLUSTER_ROLES, role);
  }
  for (const binding of defaultClusterRoleBindings()) {
    if (!store.get(CLUSTER_ROLE_BINDINGS, undefined, binding.metadata.name ?? '')) store.create(CLUSTER_ROLE_BINDINGS, binding);
  }
}
