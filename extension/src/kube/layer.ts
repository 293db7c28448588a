// The Kubernetes layer: everything that needs @kubernetes/client-node at run time. Built as its
// own bundle (dist/extension-kube.js) and loaded by kube/load.ts on first cluster use; the rest
// of the extension imports only types from here. client-node is an ES module and the
// extension CommonJS, hence the one dynamic import.
import type { ClusterParts, KubeClient } from '../kas_client/kube_client';
import { ClientNodeKubeClient } from './kube_client';
import { kubeConfigFactory, type ClientNode, type KasKubeConfig } from './kube_config';

export interface KubeLayer {
  clientNode: ClientNode;
  createKubeConfig(parts: ClusterParts): KasKubeConfig;
  createKubeClient(parts: ClusterParts): KubeClient;
}

export async function initKubeLayer(): Promise<KubeLayer> {
  const clientNode = await import('@kubernetes/client-node');
  const createKubeConfig = kubeConfigFactory(clientNode);
  return {
    clientNode,
    createKubeConfig,
    createKubeClient: (parts) => new ClientNodeKubeClient(clientNode, createKubeConfig(parts)),
  };
}
