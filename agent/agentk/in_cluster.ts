// agentk inside a pod: the API server from KUBERNETES_SERVICE_HOST/PORT, and the service
// account's token, CA and namespace from the files the kubelet mounts. The kubelet rotates the
// projected token (at 80 % of its lifetime) and may rotate the CA: both are read again on every
// credential refresh (the upstream refreshes every few seconds), where client-node's own
// in-cluster user keeps a token for a minute.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import path from 'node:path';
import type { KubeConfig, User } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

/** Where the kubelet mounts the service account (the same path in every pod). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const AUTH_PROVIDER = 'agentk-service-account';

export class InClusterError extends Error {
  override name = 'InClusterError';
}

/** client-node's authenticator contract (not exported by the package under this name). */
interface Authenticator {
  isAuthProvider(user: User): boolean;
  applyAuthentication(user: User, opts: { headers?: Record<string, string> }): Promise<void>;
}

/** Reads the token file on every call: a rotated token is used from the next refresh on. */
const rotatingTokenFile: Authenticator = {
  isAuthProvider: (user) => user.authProvider?.name === AUTH_PROVIDER,
  async applyAuthentication(user, opts) {
    const file = String((user.authProvider?.config as { path?: unknown } | undefined)?.path ?? '');
    const token = (await readFile(file, 'utf8')).trim();
    if (!token) throw new InClusterError(`the service account token file ${file} is empty`);
    opts.headers = { ...opts.headers, Authorization: `Bearer ${token}` };
  },
};

export interface InClusterOptions {
  /** The mounted service account directory; tests point it elsewhere. */
  serviceAccountDir: string;
  env: NodeJS.ProcessEnv;
}

export function isInCluster(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST);
}

/** Fills `kubeConfig` with the in-cluster server and the rotating service account credentials. */
export function loadInCluster(kubeConfig: KubeConfig, options: InClusterOptions): void {
  const host = options.env.KUBERNETES_SERVICE_HOST;
  const port = options.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new InClusterError('in-cluster mode needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT');
  const dir = options.serviceAccountDir;
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  kubeConfig.addAuthenticator(rotatingTokenFile);
  kubeConfig.loadFromClusterAndUser(
    { name: 'in-cluster', server, caFile: path.join(dir, 'ca.crt'), skipTLSVerify: false },
    { name: 'service-account', authProvider: { name: AUTH_PROVIDER, config: { path: path.join(dir, 'token') } } },
  );
}

/** The pod's namespace from the mounted file, when the downward API gave none. */
export function serviceAccountNamespace(serviceAccountDir: string): string | undefined {
  try {
    return readFileSync(path.join(serviceAccountDir, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
