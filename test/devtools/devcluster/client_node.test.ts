// @kubernetes/client-node, unmodified, against the dev cluster through the kubeconfig it writes.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import type { MemoryObjectStore } from '../../../agent/devtools/devcluster/store/store';
import { useTestCluster, type TestCluster } from '../../support/devcluster';

type ClientNode = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });

async function eventually(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('devcluster with @kubernetes/client-node: list, create, delete, watch, log', function () {
  const testCluster = useTestCluster();
  let t: TestCluster;
  let k8s: ClientNode;
  let kubeConfig: KubeConfig;
  const cleanups: Array<() => void> = [];

  before(async () => {
    t = testCluster();
    // client-node is an ES module; this test file is CommonJS.
    k8s = await import('@kubernetes/client-node');
    kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(t.kubeconfig);
  });
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  it('lists namespaces, creates, reads and deletes a config map with CoreV1Api', async () => {
    const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    const namespaces = await core.listNamespace();
    assert.ok(namespaces.items.some((ns) => ns.metadata?.name === 'kube-system'));
    const created = await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'from-client', labels: { via: 'client-node' } }, data: { a: '1' } },
    });
    assert.ok(created.metadata?.uid);
    const listed = await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'via=client-node' });
    assert.deepEqual(
      listed.items.map((cm) => cm.metadata?.name),
      ['from-client'],
    );
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'from-client' });
    await assert.rejects(
      core.readNamespacedConfigMap({ namespace: 'default', name: 'from-client' }),
      (err: unknown) => (err as { code?: number }).code === 404,
    );
  });

  it('watches pods with Watch and sees a pod added and then running', async () => {
    const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    const store = t.cluster.store as MemoryObjectStore;
    const watchesBefore = store.watcherCount;
    const seen: string[] = [];
    const request = await new k8s.Watch(kubeConfig).watch(
      '/api/v1/namespaces/default/pods',
      {},
      (type: string, pod: { metadata?: { name?: string }; status?: { phase?: string } }) =>
        seen.push(`${type} ${pod.metadata?.name} ${pod.status?.phase}`),
      () => undefined,
    );
    cleanups.push(() => request.abort());
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'watched' },
        spec: { containers: [{ name: 'main', image: 'busybox', env: [{ name: 'SIM_RUN_SECONDS', value: '600' }] }] },
      },
    });
    await eventually(() => seen.some((e) => e.startsWith('ADDED watched')), 'ADDED');
    await eventually(() => seen.includes('MODIFIED watched Running'), 'the pod to run');
    assert.equal(store.watcherCount, watchesBefore + 1);
    request.abort();
    await eventually(
      () => store.watcherCount === watchesBefore,
      `the aborted watch to be removed (${store.watcherCount} open, ${watchesBefore} before)`,
    );
  });

  it('reads and follows a pod log with Log', async () => {
    const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'talker' },
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', 'for i in 1 2 3; do echo line $i; sleep 0.2; done'] }],
        },
      },
    });
    const output = new PassThrough();
    let text = '';
    output.on('data', (chunk: Buffer) => (text += chunk.toString()));
    let ended = false;
    output.on('end', () => (ended = true));
    await eventually(() => {
      return (
        ((t.cluster.store.get({ group: '', version: 'v1', resource: 'pods' }, 'default', 'talker')?.status ?? {}) as { phase?: string })
          .phase !== 'Pending'
      );
    }, 'the pod to start');
    const request = await new k8s.Log(kubeConfig).log('default', 'talker', 'main', output, { follow: true });
    cleanups.push(() => request.abort());
    await eventually(() => ended, 'the followed log to end with the container');
    assert.equal(text, 'line 1\nline 2\nline 3\n');
    const tail = await core.readNamespacedPodLog({ namespace: 'default', name: 'talker', tailLines: 1 });
    assert.equal(tail, 'line 3\n');
  });
});
