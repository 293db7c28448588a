// Loads the Kubernetes layer (kube/layer.ts: @kubernetes/client-node and what the extension
// builds on it) on first cluster use. In the packaged extension it is a second bundle,
// dist/extension-kube.js (esbuild.mjs maps this import onto it), so activation neither parses
// nor initialises client-node; under tsx (tests) it is the TypeScript module itself.
import type { ClusterParts, KubeClient } from '../kas_client/kube_client';
import type { KubeLayer } from './layer';

export type { KubeLayer };

let loading: Promise<KubeLayer> | undefined;

export function loadKubeLayer(): Promise<KubeLayer> {
  if (!loading) {
    // require, not import(): the bundle is CommonJS, and a plain require keeps VS Code's module
    // loader (and tsx in tests) on the path they already use for the extension itself.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loading = Promise.resolve().then(() => (require('./layer') as typeof import('./layer')).initKubeLayer());
    // A failed load (a missing bundle) is tried again on the next use.
    loading.catch(() => (loading = undefined));
  }
  return loading;
}

/** Loads the Kubernetes layer (client-node) on first use and builds a client. */
export async function kubeClientFor(parts: ClusterParts): Promise<KubeClient> {
  return (await loadKubeLayer()).createKubeClient(parts);
}
