// The kubeconfig written for the dev cluster: its CA, the admin token, context "devcluster".
import { stringify } from 'yaml';
import { writeFileAtomic } from './persistence';

export const KUBECONFIG_CONTEXT = 'devcluster';

export function kubeconfigFor(url: string, caPem: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: KUBECONFIG_CONTEXT, cluster: { server: url, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'devcluster-admin', user: { token } }],
    contexts: [{ name: KUBECONFIG_CONTEXT, context: { cluster: KUBECONFIG_CONTEXT, user: 'devcluster-admin', namespace: 'default' } }],
    'current-context': KUBECONFIG_CONTEXT,
    preferences: {},
  });
}

export function writeKubeconfig(file: string, url: string, caPem: string, token: string): Promise<void> {
  return writeFileAtomic(file, kubeconfigFor(url, caPem, token));
}
