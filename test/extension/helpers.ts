// Shared test plumbing for the extension's model tests: small real HTTP servers, a quiet dev
// cluster, and waiting for a condition.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDevCluster, type DevCluster } from '../../agent/devtools/devcluster/index';
import { createLogger } from '../../agent/internal/log';
import type { KubeClient } from '../../extension/src/kas_client/kube_client';
import { kubeClientFor } from '../../extension/src/kube/load';
import { loadKubeLayer } from '../../extension/src/kube/load';

export interface TestServer {
  url: string;
  hits: string[];
  close(): Promise<void>;
}

export async function serve(handler: http.RequestListener): Promise<TestServer> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A stand-in for kas's REST API that lists one agent, dev (id 1), with one connected replica. */
export function serveOneConnectedAgent(): Promise<TestServer> {
  return serve((_req, res) =>
    res.end(
      JSON.stringify({
        agents: [
          {
            id: '1',
            name: 'dev',
            configProject: 'g/p',
            config: { commit: 'abc', valid: true, errors: [] },
            connections: [{ podName: 'agentk-0', podNamespace: 'gitlab-agent', version: 'v0', connectedSince: new Date().toISOString() }],
          },
        ],
      }),
    ),
  );
}

export function startQuietDevCluster(): Promise<DevCluster> {
  return startDevCluster({ logger: createLogger({}, { level: 'error', write: () => undefined }) });
}

/** The dev cluster's API as the extension's client sees a k8s proxy (admin credentials). */
export function adminClient(cluster: DevCluster): Promise<KubeClient> {
  return kubeClientFor({ server: cluster.url, token: cluster.adminToken, caPem: cluster.caPem });
}

/** Test setup the extension never does (creating namespaces and pods), with client-node directly. */
export async function createObjects(
  cluster: DevCluster,
  namespace: string,
  objects: { namespace?: boolean; pods?: Record<string, unknown>[] },
): Promise<void> {
  const layer = await loadKubeLayer();
  const core = layer
    .createKubeConfig({ server: cluster.url, token: cluster.adminToken, caPem: cluster.caPem })
    .makeApiClient(layer.clientNode.CoreV1Api);
  if (objects.namespace) await core.createNamespace({ body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } } });
  for (const pod of objects.pods ?? []) await core.createNamespacedPod({ namespace, body: pod as never });
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function simulatedPod(name: string, env: Record<string, string> = {}, labels: Record<string, string> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { containers: [{ name: 'main', image: 'sim', env: Object.entries(env).map(([n, value]) => ({ name: n, value })) }] },
  };
}
