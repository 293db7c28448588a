// Create Restricted Namespace: the objects of a per-project namespace as the integration
// guidelines describe it — the namespace, a service account, and a RoleBinding of that account
// (and nobody else) to the built-in `edit` ClusterRole inside that namespace only.

import { UserFacingError } from '../kas_client/errors';
import type { RestrictedNamespaceObjects } from '../kas_client/kube_client';

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

export function restrictedNamespaceObjects(namespace: string, project: string): RestrictedNamespaceObjects {
  const problem = validateNamespaceName(namespace);
  if (problem) throw new NamespaceNameError(`invalid namespace name: ${problem}`);
  const labels = {
    'app.kubernetes.io/managed-by': 'kubernetes-agent-workbench',
    'gitlab.org/project': project.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 63),
  };
  const account = `${namespace}-service-account`;
  return {
    namespace: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels } },
    serviceAccount: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account, namespace, labels } },
    roleBinding: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${namespace}-edit`, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
      subjects: [{ kind: 'ServiceAccount', name: account, namespace }],
    },
  };
}
