import assert from 'node:assert/strict';
import {
  CLUSTER_ROLE_BINDINGS,
  CLUSTER_ROLES,
  createRbacAuthorizer,
  defaultClusterRoles,
  ensureDefaultRbac,
  ROLE_BINDINGS,
  ROLES,
  serviceAccountGroups,
  serviceAccountUsername,
  type PolicyRule,
  type Subject,
} from '../../../agent/devtools/devcluster/auth/rbac';
import { MemoryObjectStore } from '../../../agent/devtools/devcluster/store/store';
import type { Authorizer, RequestAttributes, UserInfo } from '../../../agent/devtools/devcluster/types';

const RBAC = 'rbac.authorization.k8s.io/v1';

const alice: UserInfo = { username: 'alice', groups: ['system:authenticated'] };
const bob: UserInfo = { username: 'bob', groups: ['developers', 'system:authenticated'] };

function role(store: MemoryObjectStore, namespace: string, name: string, rules: PolicyRule[]): void {
  store.create(ROLES, { apiVersion: RBAC, kind: 'Role', metadata: { namespace, name }, rules });
}

function clusterRole(store: MemoryObjectStore, name: string, rules: PolicyRule[]): void {
  store.create(CLUSTER_ROLES, { apiVersion: RBAC, kind: 'ClusterRole', metadata: { name }, rules });
}

function roleBinding(
  store: MemoryObjectStore,
  namespace: string,
  name: string,
  roleRef: { kind: string; name: string },
  subjects: Subject[],
): void {
  store.create(ROLE_BINDINGS, {
    apiVersion: RBAC,
    kind: 'RoleBinding',
    metadata: { namespace, name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...roleRef },
    subjects,
  });
}

function clusterRoleBinding(store: MemoryObjectStore, name: string, roleName: string, subjects: Subject[]): void {
  store.create(CLUSTER_ROLE_BINDINGS, {
    apiVersion: RBAC,
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
    subjects,
  });
}

const listPods = (namespace?: string): RequestAttributes => ({ verb: 'list', apiGroup: '', resource: 'pods', namespace });

describe('devcluster/rbac', () => {
  let store: MemoryObjectStore;
  let authorize: Authorizer;

  beforeEach(() => {
    store = new MemoryObjectStore();
    authorize = createRbacAuthorizer(store);
  });

  it('allows everything to system:masters without any binding', () => {
    const decision = authorize(
      { username: 'admin', groups: ['system:masters'] },
      { verb: 'delete', apiGroup: '', resource: 'namespaces', name: 'kube-system' },
    );
    assert.equal(decision.allowed, true);
  });

  it('denies a user without any binding', () => {
    assert.deepEqual(authorize(alice, listPods('demo')), { allowed: false, reason: '' });
  });

  it('applies a RoleBinding to a Role only in its own namespace, with a Kubernetes-style reason', () => {
    role(store, 'demo', 'pod-reader', [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }]);
    roleBinding(store, 'demo', 'read-pods', { kind: 'Role', name: 'pod-reader' }, [{ kind: 'User', name: 'alice' }]);
    assert.deepEqual(authorize(alice, listPods('demo')), {
      allowed: true,
      reason: 'RBAC: allowed by RoleBinding "read-pods/demo" of Role "pod-reader" to User "alice"',
    });
    assert.equal(authorize(alice, listPods('other')).allowed, false, 'other namespace');
    assert.equal(authorize(alice, listPods()).allowed, false, 'cluster-wide list');
    assert.equal(authorize(alice, { ...listPods('demo'), verb: 'delete' }).allowed, false, 'verb not in the rule');
    assert.equal(authorize(bob, listPods('demo')).allowed, false, 'another user');
  });

  it('applies a ClusterRole bound by a RoleBinding in that namespace only', () => {
    clusterRole(store, 'pod-viewer', [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }]);
    roleBinding(store, 'demo', 'view', { kind: 'ClusterRole', name: 'pod-viewer' }, [{ kind: 'Group', name: 'developers' }]);
    assert.equal(
      authorize(bob, listPods('demo')).reason,
      'RBAC: allowed by RoleBinding "view/demo" of ClusterRole "pod-viewer" to Group "developers"',
    );
    assert.equal(authorize(bob, listPods('other')).allowed, false);
  });

  it('applies a ClusterRoleBinding everywhere, including cluster-wide lists', () => {
    clusterRole(store, 'pod-viewer', [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }]);
    clusterRoleBinding(store, 'everyone-views-pods', 'pod-viewer', [{ kind: 'Group', name: 'developers' }]);
    assert.equal(
      authorize(bob, listPods()).reason,
      'RBAC: allowed by ClusterRoleBinding "everyone-views-pods" of ClusterRole "pod-viewer" to Group "developers"',
    );
    assert.equal(authorize(bob, listPods('any')).allowed, true);
  });

  it('follows changes at once: an edited role, a removed binding, a role created after its binding', () => {
    roleBinding(store, 'demo', 'early', { kind: 'Role', name: 'late' }, [{ kind: 'User', name: 'alice' }]);
    assert.equal(authorize(alice, listPods('demo')).allowed, false);
    role(store, 'demo', 'late', [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }]);
    assert.equal(authorize(alice, listPods('demo')).allowed, true, 'the role now exists');
    const stored = store.get(ROLES, 'demo', 'late');
    assert.ok(stored);
    store.update(ROLES, { ...stored, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] });
    assert.equal(authorize(alice, listPods('demo')).allowed, false, 'list was removed from the role');
    assert.equal(authorize(alice, { ...listPods('demo'), verb: 'get' }).allowed, true);
    store.delete(ROLE_BINDINGS, 'demo', 'early');
    assert.equal(authorize(alice, { ...listPods('demo'), verb: 'get' }).allowed, false, 'the binding is gone');
  });

  it('grants nothing through a binding whose role does not exist', () => {
    roleBinding(store, 'demo', 'dangling', { kind: 'Role', name: 'missing' }, [{ kind: 'User', name: 'alice' }]);
    assert.equal(authorize(alice, listPods('demo')).allowed, false);
  });

  it('restricts rules with resourceNames to requests that name one of them', () => {
    role(store, 'demo', 'one-config', [
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['settings'], verbs: ['get', 'list'] },
    ]);
    roleBinding(store, 'demo', 'b', { kind: 'Role', name: 'one-config' }, [{ kind: 'User', name: 'alice' }]);
    const get = (name?: string): RequestAttributes => ({ verb: 'get', apiGroup: '', resource: 'configmaps', namespace: 'demo', name });
    assert.equal(authorize(alice, get('settings')).allowed, true);
    assert.equal(authorize(alice, get('other')).allowed, false);
    assert.equal(authorize(alice, { ...get(), verb: 'list' }).allowed, false, 'a list names nothing');
  });

  it('treats subresources separately: pods does not grant pods/log, pods/log and */log do', () => {
    role(store, 'demo', 'pods-only', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]);
    role(store, 'demo', 'logs', [{ apiGroups: [''], resources: ['pods/log'], verbs: ['get'] }]);
    role(store, 'demo', 'any-log', [{ apiGroups: ['*'], resources: ['*/log'], verbs: ['get'] }]);
    roleBinding(store, 'demo', 'a', { kind: 'Role', name: 'pods-only' }, [{ kind: 'User', name: 'alice' }]);
    roleBinding(store, 'demo', 'b', { kind: 'Role', name: 'logs' }, [{ kind: 'User', name: 'bob' }]);
    roleBinding(store, 'demo', 'c', { kind: 'Role', name: 'any-log' }, [{ kind: 'User', name: 'carol' }]);
    const log: RequestAttributes = { verb: 'get', apiGroup: '', resource: 'pods', subresource: 'log', namespace: 'demo', name: 'web' };
    assert.equal(authorize(alice, log).allowed, false);
    assert.equal(authorize(alice, { ...log, subresource: undefined }).allowed, true);
    assert.equal(authorize(bob, log).allowed, true);
    assert.equal(authorize(bob, { ...log, subresource: undefined }).allowed, false);
    assert.equal(authorize({ username: 'carol', groups: [] }, log).allowed, true);
  });

  it('matches apiGroups: a rule for one group does not cover another', () => {
    clusterRole(store, 'leases', [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['*'] }]);
    clusterRoleBinding(store, 'leases', 'leases', [{ kind: 'User', name: 'alice' }]);
    assert.equal(authorize(alice, { verb: 'update', apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'x' }).allowed, true);
    assert.equal(authorize(alice, { verb: 'update', apiGroup: '', resource: 'leases', namespace: 'x' }).allowed, false);
  });

  it('matches ServiceAccount subjects by their username, defaulting to the binding namespace, and their groups', () => {
    role(store, 'demo', 'reader', [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }]);
    roleBinding(store, 'demo', 'sa', { kind: 'Role', name: 'reader' }, [{ kind: 'ServiceAccount', name: 'builder' }]);
    const builder: UserInfo = { username: serviceAccountUsername('demo', 'builder'), groups: serviceAccountGroups('demo') };
    const elsewhere: UserInfo = { username: serviceAccountUsername('other', 'builder'), groups: serviceAccountGroups('other') };
    assert.equal(
      authorize(builder, listPods('demo')).reason,
      'RBAC: allowed by RoleBinding "sa/demo" of Role "reader" to ServiceAccount "builder/demo"',
    );
    assert.equal(authorize(elsewhere, listPods('demo')).allowed, false);

    clusterRole(store, 'lister', [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }]);
    clusterRoleBinding(store, 'all-sa-in-other', 'lister', [{ kind: 'Group', name: 'system:serviceaccounts:other' }]);
    assert.equal(authorize(elsewhere, { verb: 'list', apiGroup: '', resource: 'configmaps', namespace: 'x' }).allowed, true);
    assert.equal(authorize(builder, { verb: 'list', apiGroup: '', resource: 'configmaps', namespace: 'x' }).allowed, false);
  });

  it('matches nonResourceURLs exactly or by a trailing *, and only through ClusterRoleBindings', () => {
    clusterRole(store, 'metrics', [{ nonResourceURLs: ['/metrics', '/debug/*'], verbs: ['get'] }]);
    roleBinding(store, 'demo', 'ns-scoped', { kind: 'ClusterRole', name: 'metrics' }, [{ kind: 'User', name: 'bob' }]);
    clusterRoleBinding(store, 'metrics', 'metrics', [{ kind: 'User', name: 'alice' }]);
    const get = (path: string): RequestAttributes => ({ verb: 'get', apiGroup: '', resource: '', nonResourcePath: path });
    assert.equal(authorize(alice, get('/metrics')).allowed, true);
    assert.equal(authorize(alice, get('/debug/pprof')).allowed, true);
    assert.equal(authorize(alice, get('/metricsz')).allowed, false);
    assert.equal(authorize(alice, { ...get('/metrics'), verb: 'post' }).allowed, false);
    assert.equal(authorize(bob, get('/metrics')).allowed, false);
  });

  it('lets any authenticated user read discovery and review its own access with the default roles', () => {
    ensureDefaultRbac(store);
    ensureDefaultRbac(store); // idempotent
    assert.equal(authorize(alice, { verb: 'get', apiGroup: '', resource: '', nonResourcePath: '/apis/apps/v1' }).allowed, true);
    assert.equal(authorize(alice, { verb: 'get', apiGroup: '', resource: '', nonResourcePath: '/openapi/v3' }).allowed, true);
    assert.equal(
      authorize(alice, { verb: 'create', apiGroup: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews' }).allowed,
      true,
    );
    assert.equal(authorize(alice, listPods('demo')).allowed, false);
    assert.equal(
      authorize(
        { username: 'system:anonymous', groups: ['system:unauthenticated'] },
        { verb: 'get', apiGroup: '', resource: '', nonResourcePath: '/api' },
      ).allowed,
      false,
    );
  });

  it('ships cluster-admin, admin, edit and view with the expected reach', () => {
    ensureDefaultRbac(store);
    assert.deepEqual(
      defaultClusterRoles()
        .map((r) => r.metadata.name)
        .slice(0, 4),
      ['cluster-admin', 'admin', 'edit', 'view'],
    );
    roleBinding(store, 'demo', 'viewer', { kind: 'ClusterRole', name: 'view' }, [{ kind: 'User', name: 'alice' }]);
    roleBinding(store, 'demo', 'editor', { kind: 'ClusterRole', name: 'edit' }, [{ kind: 'User', name: 'bob' }]);
    clusterRoleBinding(store, 'root', 'cluster-admin', [{ kind: 'User', name: 'root' }]);
    const secret: RequestAttributes = { verb: 'get', apiGroup: '', resource: 'secrets', namespace: 'demo', name: 's' };
    assert.equal(authorize(alice, { verb: 'get', apiGroup: '', resource: 'pods', subresource: 'log', namespace: 'demo' }).allowed, true);
    assert.equal(authorize(alice, secret).allowed, false, 'view does not read secrets');
    assert.equal(authorize(alice, { verb: 'create', apiGroup: '', resource: 'pods', namespace: 'demo' }).allowed, false);
    assert.equal(authorize(bob, { verb: 'create', apiGroup: '', resource: 'pods', namespace: 'demo' }).allowed, true);
    assert.equal(
      authorize(bob, { verb: 'create', apiGroup: 'rbac.authorization.k8s.io', resource: 'rolebindings', namespace: 'demo' }).allowed,
      false,
      'edit has no RBAC',
    );
    assert.equal(authorize({ username: 'root', groups: [] }, { verb: 'delete', apiGroup: '', resource: 'nodes', name: 'n' }).allowed, true);
  });
});
