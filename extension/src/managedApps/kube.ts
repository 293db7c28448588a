// @kubernetes/client-node, reached the way the extension reaches every cluster: through kas's
// k8s proxy with the `pat:<agent-id>:<token>` credential (kasClient/kubeClient.ts's
// proxyAuthorization) and the kas CA. client-node is an ES module; the extension bundle is CJS.
import type { CoreV1Api, KubeConfig } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { proxyAuthorization } from '../kasClient/kubeClient';
import { ManagedAppsError } from './errors';

export type ClientNode = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });
export type { CoreV1Api, KubeConfig };

export interface ProxyTarget {
  /** kas's k8s proxy URL (https://…/k8s-proxy/ or http). */
  k8sProxyUrl: string;
  agentId: string;
  /** The user's personal token; never logged. */
  token: string;
  caPem?: string;
}

export function loadClientNode(): Promise<ClientNode> {
  return import('@kubernetes/client-node');
}

export function kubeConfigForProxy(target: ProxyTarget): Promise<KubeConfig> {
  const credential = proxyAuthorization(target.agentId, target.token).replace(/^Bearer /, '');
  return kubeConfigFromParts({ server: target.k8sProxyUrl, caPem: target.caPem, token: credential });
}

/** From a session's kubeconfigParts(agentId): the token there is already `pat:<agent>:<token>`. */
export async function kubeConfigFromParts(parts: { server: string; caPem?: string; token: string }): Promise<KubeConfig> {
  const { KubeConfig } = await loadClientNode();
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'kas', server: parts.server.replace(/\/$/, ''), ...(parts.caPem ? { caData: Buffer.from(parts.caPem).toString('base64') } : {}) }],
    users: [{ name: 'agent-user', token: parts.token }],
    contexts: [{ name: 'kas', cluster: 'kas', user: 'agent-user' }],
    currentContext: 'kas',
  });
  return kubeConfig;
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
