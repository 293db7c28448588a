// Create Restricted Namespace: the objects of a per-project namespace as the integration
// guidelines describe it — the namespace, a service account, and a RoleBinding of that account
// (and nobody else) to the built-in `edit` ClusterRole inside that namespace only.

import { UserFacingError } from '../kasClient/errors';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export class NamespaceNameError extends UserFacingError {
  override name = 'NamespaceNameError';
  constructor(explanation: string) {
    super('INVALID_NAMESPACE', explanation);
  }
}

export function validateNamespaceName(name: string): string | undefined {
  if (name.length === 0) return 'a name is required';
  if (name.length > 63) return 'at most 63 characters';
  if (!DNS_LABEL.test(name)) return 'lower-case letters, digits and "-", starting and ending with a letter or digit';
  return undefined;
}

export interface RestrictedNamespaceRequest {
  /** The API path to POST to, and the object. */
  path: string;
  object: Record<string, unknown>;
}

export function restrictedNamespaceObjects(namespace: string, project: string): RestrictedNamespaceRequest[] {
  const problem = validateNamespaceName(namespace);
  if (problem) throw new NamespaceNameError(`invalid namespace name: ${problem}`);
  const labels = { 'app.kubernetes.io/managed-by': 'kubernetes-agent-workbench', 'gitlab.org/project': project.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 63) };
  const account = `${namespace}-service-account`;
  return [
    { path: 'api/v1/namespaces', object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels } } },
    { path: `api/v1/namespaces/${namespace}/serviceaccounts`, object: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account, namespace, labels } } },
    {
      path: `apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`,
      object: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: `${namespace}-edit`, namespace, labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
        subjects: [{ kind: 'ServiceAccount', name: account, namespace }],
      },
    },
  ];
}
