// Kubeconfig files for a single cluster, user and context: what the dev cluster and the local
// pair hand to kubectl and @kubernetes/client-node.
import { stringify } from 'yaml';

export interface KubeconfigEntry {
  /** Used for the cluster, the user and the context. */
  name: string;
  server: string;
  caPem: string;
  token: string;
  namespace?: string;
}

export function kubeconfigYaml(entry: KubeconfigEntry): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: entry.name, cluster: { server: entry.server, 'certificate-authority-data': Buffer.from(entry.caPem).toString('base64') } },
    ],
    users: [{ name: entry.name, user: { token: entry.token } }],
    contexts: [{ name: entry.name, context: { cluster: entry.name, user: entry.name, namespace: entry.namespace ?? 'default' } }],
    'current-context': entry.name,
    preferences: {},
  });
}
