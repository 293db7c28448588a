// @kubernetes/client-node, reached the way the extension reaches every cluster: through kas's
// k8s proxy with the `pat:<agent-id>:<token>` credential and the kas CA, from the extension's
// one KubeConfig factory (kube/kubeConfig.ts: no redirects, timeouts). client-node lives in
// the lazily loaded Kubernetes layer (kube/load.ts), never in the activation path.
import type { CoreV1Api } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import type { ClusterParts } from '../kas_client/kube_client';
import { formatProxyCredential } from '../../../agent/shared/proxy_credential';
import { loadKubeLayer } from '../kube/load';
import type { ClientNode, KasKubeConfig } from '../kube/kube_config';
import { ManagedAppsError } from './errors';

export type KubeConfig = KasKubeConfig;
export type { ClientNode, CoreV1Api };

export interface ProxyTarget {
  /** kas's k8s proxy URL (https://…/k8s-proxy/ or http). */
  k8sProxyUrl: string;
  agentId: string;
  /** The user's personal token; never logged. */
  token: string;
  caPem?: string;
}

export async function loadClientNode(): Promise<ClientNode> {
  return (await loadKubeLayer()).clientNode;
}

export function kubeConfigForProxy(target: ProxyTarget): Promise<KubeConfig> {
  return kubeConfigFromParts({
    server: target.k8sProxyUrl,
    caPem: target.caPem,
    token: formatProxyCredential('pat', target.agentId, target.token),
  });
}

/** From a session's kubeconfigParts(agentId): the token there is already `pat:<agent>:<token>`. */
export async function kubeConfigFromParts(parts: ClusterParts): Promise<KubeConfig> {
  return (await loadKubeLayer()).createKubeConfig(parts);
}

/** The HTTP status of a client-node failure, or undefined when the request never got one. */
export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** A cluster call failed: say which call and how, never the upstream text. */
export function clusterError(what: string, error: unknown): ManagedAppsError {
  if (error instanceof ManagedAppsError) return error;
  const status = statusOf(error);
  const how = status === undefined ? 'could not reach the cluster through kas' : `the cluster answered HTTP ${status}`;
  return new ManagedAppsError('CLUSTER_ERROR', `${what}: ${how}`);
}

/** Runs a call; a 404 resolves to undefined instead of failing. */
export async function unlessNotFound<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}
