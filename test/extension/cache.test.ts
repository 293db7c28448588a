// The watch cache (extension/src/cache) against the real dev cluster through a real kas and
// agentk (the local pair, in-process): objects created, changed and deleted arrive as watch
// events; subscriptions share one feed and the last release stops it; a watch cut mid-stream
// (a TCP relay in front of kas that the test severs) resumes from its resourceVersion without a
// relist; a resourceVersion the cluster no longer keeps gets 410 inside the stream and relists.
import { strict as assert } from 'node:assert';
import { readFile, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../agent/internal/log';
import { MemoryObjectStore } from '../../agent/devtools/devcluster/store/store';
import { startLocalPair, type LocalPair } from '../../agent/devtools/local_pair/index';
import { formatProxyCredential } from '../../agent/shared/proxy_credential';
import { BUILTIN_KINDS } from '../../extension/src/cache/kinds';
import { ResourceCache } from '../../extension/src/cache/resource_cache';
import { WatchFeed } from '../../extension/src/cache/watch_feed';
import type { KubeClient, KubeObject } from '../../extension/src/kas_client/kube_client';
import { kubeClientFor, loadKubeLayer } from '../../extension/src/kube/load';
import { makeTempDir, startTestCluster, type TestCluster } from '../support/devcluster';
import { waitFor } from './helpers';

/** A TCP relay to kas's k8s proxy whose open connections the test can cut. */
async function cuttableRelay(target: URL): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  const cut = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    url: `${target.protocol}//127.0.0.1:${port}${target.pathname}`,
    cut,
    close: () => {
      cut();
      return new Promise((done) => server.close(() => done()));
    },
  };
}

describe('watch cache through kas and agentk against the dev cluster', function () {
  this.timeout(120_000);
  let dir = '';
  let cluster: TestCluster;
  let pair: LocalPair;
  let relay: Awaited<ReturnType<typeof cuttableRelay>>;
  let client: KubeClient;
  let cache: ResourceCache | undefined;
  let create: (name: string, data: Record<string, string>) => Promise<void>;
  let replace: (name: string, data: Record<string, string>) => Promise<void>;
  let remove: (name: string) => Promise<void>;
  const namespace = 'default';

  before(async () => {
    dir = await makeTempDir('cache-test-');
    cluster = await startTestCluster({ dir: `${dir}/cluster` });
    const logger = createLogger({}, { level: 'error', write: () => undefined });
    pair = await startLocalPair({ dataDir: `${dir}/pair`, clusterKubeconfig: cluster.kubeconfig, freePorts: true, logger });
    relay = await cuttableRelay(new URL(pair.k8sProxyUrl));
    const caPem = await readFile(pair.caFile, 'utf8');
    const token = formatProxyCredential('pat', String(pair.agentId), pair.userToken);
    client = await kubeClientFor({ server: relay.url, token, caPem });
    // Changes are made through kas directly (not the relay), as another user would.
    const layer = await loadKubeLayer();
    const core = layer.createKubeConfig({ server: pair.k8sProxyUrl, token, caPem }).makeApiClient(layer.clientNode.CoreV1Api);
    const body = (name: string, data: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace },
      data,
    });
    create = async (name, data) => void (await core.createNamespacedConfigMap({ namespace, body: body(name, data) }));
    replace = async (name, data) => void (await core.replaceNamespacedConfigMap({ namespace, name, body: body(name, data) }));
    remove = async (name) => void (await core.deleteNamespacedConfigMap({ namespace, name }));
  });

  afterEach(async () => {
    await cache?.dispose();
    cache = undefined;
  });

  after(async () => {
    await relay?.close();
    await pair?.stop();
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const dataOf = (feed: WatchFeed, name: string) =>
    (feed.get(name, namespace) as KubeObject | undefined)?.['data'] as Record<string, string> | undefined;

  it('applies ADDED, MODIFIED and DELETED from the watch; subscriptions share one feed, the last release stops it', async () => {
    cache = new ResourceCache({ client: () => Promise.resolve(client), debounceMs: 20 });
    let changes = 0;
    const first = cache.subscribe(BUILTIN_KINDS.ConfigMap, namespace, () => changes++);
    const second = cache.subscribe(BUILTIN_KINDS.ConfigMap, namespace, () => undefined);
    assert.equal(first.feed, second.feed, 'one feed for the same kind and namespace');
    assert.equal(cache.activeFeeds, 1);
    await waitFor('the first list', () => first.feed.state === 'live');
    await create('cache-a', { k: '1' });
    await waitFor('cache-a added', () => dataOf(first.feed, 'cache-a')?.['k'] === '1');
    await replace('cache-a', { k: '2' });
    await waitFor('cache-a modified', () => dataOf(first.feed, 'cache-a')?.['k'] === '2');
    await remove('cache-a');
    await waitFor('cache-a deleted', () => first.feed.get('cache-a', namespace) === undefined);
    assert.ok(changes >= 2, `change signals: ${changes}`);
    assert.equal(first.feed.lists, 1, 'events, not relists');
    first.dispose();
    first.dispose(); // idempotent: does not release the second holder
    assert.equal(cache.activeFeeds, 1);
    second.dispose();
    assert.equal(cache.activeFeeds, 0, 'a kind no view shows is not watched');
    await waitFor('the feed stopped', () => second.feed.state === 'stopped');
  });

  it('resumes a cut watch from its resourceVersion: changes made while cut arrive without a relist', async () => {
    cache = new ResourceCache({ client: () => Promise.resolve(client), debounceMs: 20 });
    const sub = cache.subscribe(BUILTIN_KINDS.ConfigMap, namespace, () => undefined);
    await waitFor('the first list', () => sub.feed.state === 'live');
    await create('cache-before', { k: 'x' });
    await waitFor('cache-before', () => sub.feed.get('cache-before', namespace));
    relay.cut();
    await create('cache-during-cut', { k: 'y' });
    await waitFor('the change made during the cut', () => sub.feed.get('cache-during-cut', namespace), 30_000);
    assert.equal(sub.feed.lists, 1, 'resumed by watch, not relisted');
    await remove('cache-before');
    await remove('cache-during-cut');
    await waitFor(
      'deletes after the reconnect',
      () => !sub.feed.get('cache-during-cut', namespace) && !sub.feed.get('cache-before', namespace),
    );
    sub.dispose();
  });

  it('relists on a 410 Gone inside the watch stream (resourceVersion no longer kept by the cluster)', async () => {
    await create('cache-gone', { k: 'z' });
    // The cluster forgets its change history (as etcd compaction does): older versions get 410.
    const store = cluster.cluster.store;
    assert.ok(store instanceof MemoryObjectStore);
    store.restore(store.snapshot());
    const feed = new WatchFeed({
      source: {
        list: (signal) => client.listObjects('/api/v1/namespaces/default/configmaps', {}, signal),
        watch: (resourceVersion, onEvent, signal) =>
          client.watchObjects('/api/v1/namespaces/default/configmaps', { resourceVersion }, onEvent, signal),
      },
      onChange: () => undefined,
      debounceMs: 20,
    });
    // Content known from an earlier session, at a version from before the history was dropped.
    feed.replaceAll([], '1');
    feed.start();
    try {
      await waitFor('the relist after 410', () => feed.lists === 1 && feed.get('cache-gone', namespace));
      await replace('cache-gone', { k: 'after' });
      await waitFor('watching again after the relist', () => dataOf(feed, 'cache-gone')?.['k'] === 'after');
      assert.equal(feed.lists, 1);
    } finally {
      await feed.stop();
      await remove('cache-gone');
    }
  });
});
