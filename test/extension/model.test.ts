// The vscode-free model: connection store, stale-while-revalidate cache, tree nodes and their
// presentation, and the Agents tree against a real dev cluster (pods live through watch).
import { strict as assert } from 'node:assert';
import type { DevCluster } from '../../agent/devtools/devcluster/index';
import { SwrCache } from '../../extension/src/cache/swr_cache';
import { ConnectionRecord, ConnectionStore, KeyValueState, SecretVault } from '../../extension/src/connections/connection_store';
import type { Session } from '../../extension/src/connections/sessions';
import { KasApi } from '../../extension/src/kas_client/kas_api';
import type { Pod } from '../../extension/src/kas_client/kube_client';
import { AgentsModel } from '../../extension/src/trees/agents_model';
import { formatAge, podStatusText } from '../../extension/src/trees/format';
import { AgentsNode, present } from '../../extension/src/trees/nodes';
import { loadKubeLayer } from '../../extension/src/kube/load';
import {
  adminClient,
  createObjects,
  serve,
  serveOneConnectedAgent,
  simulatedPod,
  startQuietDevCluster,
  TestServer,
  waitFor,
} from './helpers';

/** Map-backed stand-ins for VS Code's Memento and SecretStorage (same contract, in memory). */
function memoryStorage(): { state: KeyValueState & { dump(): string }; vault: SecretVault & { keys(): string[] } } {
  const values = new Map<string, unknown>();
  const secrets = new Map<string, string>();
  return {
    state: {
      get: <T>(k: string) => values.get(k) as T | undefined,
      update: async (k, v) => void values.set(k, v),
      dump: () => JSON.stringify([...values]),
    },
    vault: {
      get: async (k) => secrets.get(k),
      store: async (k, v) => void secrets.set(k, v),
      delete: async (k) => void secrets.delete(k),
      keys: () => [...secrets.keys()],
    },
  };
}

describe('extension model', () => {
  describe('ConnectionStore', () => {
    it('keeps tokens only in the secret vault, holds several connections, removes one', async () => {
      const { state, vault } = memoryStorage();
      const store = new ConnectionStore(state, vault);
      let changes = 0;
      store.onDidChange(() => changes++);
      const a = await store.add(
        { label: 'a', apiUrl: 'https://a/', k8sProxyUrl: 'https://a/k8s-proxy/', origin: 'user' },
        'secret-token-a',
      );
      const b = await store.add(
        { label: 'b', apiUrl: 'https://b/', k8sProxyUrl: 'https://b/k8s-proxy/', origin: 'user' },
        'secret-token-b',
      );
      assert.deepEqual(
        store.list().map((c) => c.label),
        ['a', 'b'],
      );
      assert.ok(!state.dump().includes('secret-token'), 'the persisted list must not contain tokens');
      assert.equal(await store.token(a.id), 'secret-token-a');
      await store.remove(a.id);
      assert.deepEqual(
        store.list().map((c) => c.id),
        [b.id],
      );
      assert.equal(await store.token(a.id), undefined);
      assert.equal(changes, 3);
    });

    it('rejects bad URLs and tokens with spaces', async () => {
      const { state, vault } = memoryStorage();
      const store = new ConnectionStore(state, vault);
      await assert.rejects(store.add({ label: 'x', apiUrl: 'ftp://x/', k8sProxyUrl: 'https://x/', origin: 'user' }, 't'), /BAD_URL/);
      await assert.rejects(store.add({ label: 'x', apiUrl: 'https://x/', k8sProxyUrl: 'https://x/', origin: 'user' }, 'a b'), /token/);
      assert.deepEqual(store.list(), []);
      assert.deepEqual(vault.keys(), []);
    });
  });

  describe('SwrCache', () => {
    it('answers from cache at once and refreshes stale entries in the background', async () => {
      let now = 0;
      const changed: string[] = [];
      const cache = new SwrCache<number>(
        (k) => changed.push(k),
        1000,
        () => now,
      );
      let loads = 0;
      const loader = async () => ++loads;
      assert.equal(cache.read('k', loader).value, undefined); // nothing yet; a load started
      await waitFor('first load', () => cache.peek('k')?.value === 1);
      now = 500;
      assert.equal(cache.read('k', loader).value, 1);
      assert.equal(loads, 1, 'fresh entries are not reloaded');
      now = 2000;
      assert.equal(cache.read('k', loader).value, 1, 'stale value is served while revalidating');
      await waitFor('revalidation', () => cache.peek('k')?.value === 2);
      assert.deepEqual(changed, ['k', 'k']);
    });

    it('keeps the last value when a refresh fails, and joins concurrent refreshes', async () => {
      const cache = new SwrCache<string>(() => undefined, 0);
      await cache.refresh('k', async () => 'good');
      let calls = 0;
      const failing = async () => {
        calls++;
        throw new Error('boom');
      };
      await Promise.all([cache.refresh('k', failing), cache.refresh('k', failing)]);
      assert.equal(calls, 1);
      assert.equal(cache.peek('k')?.value, 'good');
      assert.ok(cache.peek('k')?.error);
    });
  });

  describe('presentation', () => {
    const pod = (phase: string, extra: Partial<Pod> = {}): Pod => ({
      metadata: { name: 'web-1', namespace: 'default', creationTimestamp: new Date(Date.now() - 3 * 3600_000) },
      spec: { containers: [{ name: 'app' }, { name: 'sidecar' }] },
      status: {
        phase,
        containerStatuses: [
          { name: 'app', image: 'app', imageID: '', ready: true, restartCount: 2 },
          { name: 'sidecar', image: 'sidecar', imageID: '', ready: false, restartCount: 1 },
        ],
      },
      ...extra,
    });

    it('shows phase, restarts and age, with a contextValue per phase', () => {
      const shown = present({ kind: 'pod', connectionId: 'c', agentId: '1', namespace: 'default', pod: pod('Running') }, Date.now());
      assert.equal(shown.contextValue, 'kubernetesAgents.pod.running');
      assert.equal(shown.description, 'Running · 3 restarts · 3h');
      assert.match(shown.tooltip ?? '', /Ready: 1\/2/);
      assert.equal(
        present({ kind: 'pod', connectionId: 'c', agentId: '1', namespace: 'd', pod: pod('Failed') }, Date.now()).contextValue,
        'kubernetesAgents.pod.failed',
      );
    });

    it('prefers Terminating and waiting reasons over the phase, like kubectl', () => {
      assert.equal(podStatusText(pod('Running', { metadata: { name: 'x', deletionTimestamp: new Date() } })), 'Terminating');
      assert.equal(
        podStatusText({
          metadata: { name: 'x' },
          status: {
            phase: 'Running',
            containerStatuses: [
              { name: 'a', image: 'a', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'CrashLoopBackOff' } } },
            ],
          },
        }),
        'CrashLoopBackOff',
      );
    });

    it('formats ages in kubectl units', () => {
      const now = Date.parse('2026-01-02T00:00:00Z');
      assert.equal(formatAge('2026-01-01T23:59:15Z', now), '45s');
      assert.equal(formatAge('2026-01-01T23:48:00Z', now), '12m');
      assert.equal(formatAge('2025-12-28T00:00:00Z', now), '5d');
      assert.equal(formatAge(new Date('2026-01-01T21:00:00Z'), now), '3h', 'client-node lists carry Dates');
    });

    it('marks agents by connected replicas and config validity', () => {
      const agent = { id: '1', name: 'dev', configProject: 'g/p', config: { commit: null, valid: true, errors: [] }, connections: [] };
      const offline = present({ kind: 'agent', connectionId: 'c', agent }, 0);
      assert.equal(offline.contextValue, 'kubernetesAgents.agent.disconnected');
      assert.equal(offline.icon?.id, 'debug-disconnect');
      const connection = { podName: 'p', podNamespace: 'n', version: 'v', connectedSince: '' };
      const invalid = present(
        {
          kind: 'agent',
          connectionId: 'c',
          agent: {
            ...agent,
            config: { commit: null, valid: false, errors: [{ message: 'm', line: 1, column: 1 }] },
            connections: [connection, connection],
          },
        },
        0,
      );
      assert.equal(invalid.contextValue, 'kubernetesAgents.agent.connected');
      assert.equal(invalid.description, '2 connected · config invalid (1 error)');
      assert.equal(invalid.icon?.id, 'warning');
    });
  });

  describe('agent status', () => {
    let kas: TestServer | undefined;
    let model: AgentsModel | undefined;
    after(async () => {
      await model?.dispose();
      await kas?.close();
    });

    it('picks up an agent that connects later without anyone refreshing, and signals only real changes', async () => {
      let replicas: unknown[] = [];
      kas = await serve((_req, res) =>
        res.end(
          JSON.stringify({ agents: [{ id: '1', name: 'dev', config: { commit: null, valid: true, errors: [] }, connections: replicas }] }),
        ),
      );
      const record: ConnectionRecord = { id: 'c', label: 'c', apiUrl: kas.url, k8sProxyUrl: kas.url, origin: 'user' };
      let changes = 0;
      model = new AgentsModel({
        connections: () => [record],
        session: async () => ({
          record,
          kas: new KasApi({ baseUrl: kas!.url, authorization: 'Bearer t', unauthorizedMeansKas: true }),
          kube: () => Promise.reject(new Error('unused')),
          kubeconfigParts: () => ({ server: '', token: '' }),
        }),
        onChange: () => changes++,
        agentPollMs: { allConnected: 60_000, someOffline: 50 },
      });
      const connection = model.children()[0]!;
      const contextOf = () => model!.children(connection).map((n) => present(n, 0).contextValue);
      await waitFor('the agent, offline', () => contextOf()[0] === 'kubernetesAgents.agent.disconnected');
      const settled = changes;
      await new Promise((r) => setTimeout(r, 300)); // several polls with the same answer
      assert.equal(changes, settled, 'unchanged answers signal nothing');
      replicas = [{ podName: 'agentk-0', podNamespace: 'gitlab-agent', version: 'v1', connectedSince: new Date().toISOString() }];
      await waitFor('the agent, connected', () => changes > settled && contextOf()[0] === 'kubernetesAgents.agent.connected');
    });
  });

  describe('Agents tree against a dev cluster', () => {
    let cluster: DevCluster;
    let kas: TestServer;
    let model: AgentsModel | undefined;
    let changes = 0;
    const record: ConnectionRecord = { id: 'conn-1', label: 'test', apiUrl: '', k8sProxyUrl: '', origin: 'user' };

    before(async () => {
      cluster = await startQuietDevCluster();
      // kas's REST API answers the agents list (the contract the extension codes against).
      kas = await serveOneConnectedAgent();
      record.apiUrl = kas.url;
      record.k8sProxyUrl = cluster.url;
      await createObjects(cluster, 'tree-test', { namespace: true, pods: [simulatedPod('first')] });
    });
    after(async () => {
      await model?.dispose();
      await kas?.close();
      await cluster?.stop();
    });

    const session = async (): Promise<Session> => ({
      record,
      kas: new KasApi({ baseUrl: kas.url, authorization: 'Bearer user' }),
      kube: () => adminClient(cluster),
      kubeconfigParts: () => ({ server: cluster.url, token: cluster.adminToken }),
    });

    async function expand(node: AgentsNode | undefined, label: string): Promise<AgentsNode> {
      return waitFor(`${label} under ${node ? present(node, 0).label : 'root'}`, () =>
        model!.children(node).find((n) => present(n, Date.now()).label === label),
      );
    }

    /** A namespace's Workloads → Pods node. */
    async function pods(namespace: AgentsNode): Promise<AgentsNode> {
      return expand(await expand(namespace, 'Workloads'), 'Pods');
    }

    it('reaches pods from connection → agent → namespace → Workloads → Pods, answering from cache first', async () => {
      model = new AgentsModel({ connections: () => [record], session, onChange: () => changes++ });
      const connection = await expand(undefined, 'test');
      const first = model.children(connection);
      assert.equal(first[0]?.kind, 'message', 'the first answer is immediate: a loading placeholder');
      const agent = await expand(connection, 'dev');
      assert.equal(present(agent, 0).contextValue, 'kubernetesAgents.agent.connected');
      const namespace = await expand(agent, 'tree-test');
      const pod = await expand(await pods(namespace), 'first');
      assert.equal(pod.kind, 'pod');
      assert.deepEqual(
        model.children(pod).map((n) => present(n, 0).label),
        ['main'],
      );
    });

    it('updates the pod list through watch events (added, deleted)', async () => {
      const connection = await expand(undefined, 'test');
      const namespace = await pods(await expand(await expand(connection, 'dev'), 'tree-test'));
      await expand(namespace, 'first');
      const before = changes;
      await createObjects(cluster, 'tree-test', { pods: [simulatedPod('second')] });
      await expand(namespace, 'second');
      await waitFor('a (debounced) change signal', () => changes > before);
      await (await adminClient(cluster)).deletePod('tree-test', 'first');
      await waitFor(
        'first to disappear',
        () => !model!.children(namespace).some((n) => n.kind === 'pod' && n.pod.metadata?.name === 'first'),
      );
    });

    it('groups a namespace by Workloads, Network, Config and Events, and the cluster-scoped kinds under Cluster, live', async () => {
      const connection = await expand(undefined, 'test');
      const agent = await expand(connection, 'dev');
      const namespace = await expand(agent, 'tree-test');
      const labels = (node: AgentsNode) => model!.children(node).map((n) => present(n, Date.now()).label);
      assert.deepEqual(labels(namespace), ['Workloads', 'Network', 'Config', 'Events']);
      const workloads = await expand(namespace, 'Workloads');
      assert.ok(present(workloads, 0).expanded, 'Workloads opens expanded');
      assert.deepEqual(labels(workloads), ['Deployments', 'StatefulSets', 'DaemonSets', 'ReplicaSets', 'Jobs', 'CronJobs', 'Pods']);
      const layer = await loadKubeLayer();
      const config = layer.createKubeConfig({ server: cluster.url, token: cluster.adminToken, caPem: cluster.caPem });
      const apps = config.makeApiClient(layer.clientNode.AppsV1Api);
      const core = config.makeApiClient(layer.clientNode.CoreV1Api);
      await apps.createNamespacedDeployment({
        namespace: 'tree-test',
        body: {
          metadata: { name: 'web' },
          spec: {
            replicas: 2,
            selector: { matchLabels: { app: 'web' } },
            template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'main', image: 'sim' }] } },
          },
        },
      });
      await core.createNamespacedSecret({ namespace: 'tree-test', body: { metadata: { name: 'creds' }, data: { password: 'c2VjcmV0' } } });
      const deployments = await expand(workloads, 'Deployments');
      const deployment = await waitFor(
        'web Available 2/2 in the tree',
        () => {
          const node = model!.children(deployments).find((n) => present(n, Date.now()).label === 'web');
          return node && /^Available · ready 2\/2/.test(present(node, Date.now()).description ?? '') && node;
        },
        30_000,
      );
      assert.equal(present(deployment, 0).contextValue, 'kubernetesAgents.resource.deployment');
      await waitFor('the Deployments count', () => present(model!.children(workloads)[0]!, 0).description === '1');
      const secrets = await expand(await expand(namespace, 'Config'), 'Secrets');
      const secret = await expand(secrets, 'creds');
      const shown = present(secret, 0);
      assert.equal(shown.contextValue, 'kubernetesAgents.resource.secret');
      assert.match(shown.description ?? '', /Opaque · 1 key/);
      assert.ok(!JSON.stringify(shown).includes('c2VjcmV0'), 'a secret value is never shown');
      const clusterGroup = await expand(agent, 'Cluster');
      assert.deepEqual(labels(clusterGroup), ['Nodes', 'Namespaces', 'CustomResourceDefinitions', 'Custom Resources']);
      const nodes = await expand(clusterGroup, 'Nodes');
      const node = await waitFor('a node, Ready', () => model!.children(nodes).find((n) => n.kind === 'resource'));
      assert.match(present(node, 0).description ?? '', /^Ready/);
      assert.equal(present(node, 0).contextValue, 'kubernetesAgents.resource.node');
      // The namespace filter: only the picked namespaces stay under the agent (Cluster always).
      model!.setNamespaceFilter('conn-1', '1', ['tree-test']);
      assert.deepEqual(labels(agent), ['tree-test', 'Cluster']);
      model!.setNamespaceFilter('conn-1', '1', undefined);
      assert.ok(labels(agent).includes('default'));
    });

    it('shows the custom resources a CustomResourceDefinition serves under Cluster → Custom Resources, live', async () => {
      const agent = await expand(await expand(undefined, 'test'), 'dev');
      const custom = await expand(await expand(agent, 'Cluster'), 'Custom Resources');
      await expand(custom, 'No custom resource definitions');
      const layer = await loadKubeLayer();
      const config = layer.createKubeConfig({ server: cluster.url, token: cluster.adminToken, caPem: cluster.caPem });
      const extensions = config.makeApiClient(layer.clientNode.ApiextensionsV1Api);
      await extensions.createCustomResourceDefinition({
        body: {
          metadata: { name: 'widgets.example.com' },
          spec: {
            group: 'example.com',
            scope: 'Namespaced',
            names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
            versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object' } } }],
          },
        },
      });
      const widgets = await expand(custom, 'Widgets');
      assert.equal(present(widgets, 0).contextValue, 'kubernetesAgents.kind.widget.example.com');
      await expand(widgets, 'No widgets');
      const objects = config.makeApiClient(layer.clientNode.CustomObjectsApi);
      await objects.createNamespacedCustomObject({
        group: 'example.com',
        version: 'v1',
        namespace: 'tree-test',
        plural: 'widgets',
        body: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'gear' }, spec: { size: 1 } },
      });
      const gear = await expand(widgets, 'gear');
      assert.equal(gear.kind, 'resource');
      await extensions.deleteCustomResourceDefinition({ name: 'widgets.example.com' });
      await expand(custom, 'No custom resource definitions');
    });
  });
});
