// The kubeconfig written for the dev cluster: its CA, the admin token, context "devcluster".
import { kubeconfigYaml } from '../../internal/kubeconfig';
import { writeFileAtomic } from './persistence';

export const KUBECONFIG_CONTEXT = 'devcluster';

export function writeKubeconfig(file: string, url: string, caPem: string, token: string): Promise<void> {
  return writeFileAtomic(file, kubeconfigYaml({ name: KUBECONFIG_CONTEXT, server: url, caPem, token }));
}
