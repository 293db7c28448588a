// Applies the install manifest to the current context of the user's own kubeconfig (not kas's
// proxy: agentk is not there yet). client-node comes from the lazily loaded Kubernetes layer, so
// nothing of it runs on the activation path. Server-side apply, as `kubectl apply
// --server-side` does: applying twice (a new token) updates the objects in place.
import { parseAllDocuments } from 'yaml';
import { UserFacingError } from '../kas_client/errors';
import { loadKubeLayer } from '../kube/load';

export const FIELD_MANAGER = 'kubernetes-agent-workbench';

export interface KubeContextInfo {
  context: string;
  server: string;
}

type KubeObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

/** The current context of the default kubeconfig (KUBECONFIG or ~/.kube/config). */
export async function currentContext(): Promise<KubeContextInfo> {
  const k8s = (await loadKubeLayer()).clientNode;
  const config = new k8s.KubeConfig();
  config.loadFromDefault();
  const context = config.getCurrentContext();
  const server = config.getCurrentCluster()?.server;
  if (!context || !server) throw new UserFacingError('NO_KUBE_CONTEXT', 'your kubeconfig has no current context');
  return { context, server };
}

/** Applies every object in order; resolves with "<Kind>/<name>" of each. */
export async function applyManifest(manifest: string): Promise<string[]> {
  const k8s = (await loadKubeLayer()).clientNode;
  const config = new k8s.KubeConfig();
  config.loadFromDefault();
  const client = k8s.KubernetesObjectApi.makeApiClient(config);
  const applied: string[] = [];
  for (const doc of parseAllDocuments(manifest)) {
    const object = doc.toJS() as KubeObject | null;
    if (!object) continue;
    try {
      await client.patch(object, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
    } catch (error) {
      const status = (error as { code?: unknown }).code;
      // The cluster's own words stay out of the UI; the status and the object say enough.
      throw new UserFacingError(
        'APPLY_FAILED',
        `the cluster refused ${object.kind}/${object.metadata.name}${typeof status === 'number' ? ` (HTTP ${status})` : ' (unreachable)'}`,
      );
    }
    applied.push(`${object.kind}/${object.metadata.name}`);
  }
  return applied;
}
