// Workload nodes of the Agents tree expand to what they own, by ownerReferences uid: the pure
// grouping (names that share a prefix do not confuse it), and the tree against a real dev cluster
// whose controllers make ReplicaSets, pods and Jobs (Deployment → its pods, live on scale; a
// StatefulSet, DaemonSet and Job → their pods; a CronJob → its Jobs → their pods).
import { strict as assert } from 'node:assert';
import type { DevCluster } from '../../agent/devtools/devcluster/index';
import type { ConnectionRecord } from '../../extension/src/connections/connection_store';
import type { Session } from '../../extension/src/connections/sessions';
import { KasApi } from '../../extension/src/kas_client/kas_api';
import { loadKubeLayer } from '../../extension/src/kube/load';
import { AgentsModel } from '../../extension/src/trees/agents_model';
import { AgentsNode, present } from '../../extension/src/trees/nodes';
import { byOwnerUid, podsOfWorkload, type Owned } from '../../extension/src/trees/ownership';
import { adminClient, createObjects, serveOneConnectedAgent, startQuietDevCluster, TestServer, waitFor } from './helpers';

function object(name: string, uid: string, ...owners: string[]): Owned & { name: string } {
  return { name, metadata: { uid, ownerReferences: owners.map((owner) => ({ uid: owner })) } };
}

describe('workload nodes expand to what they own', () => {
  describe('grouping by ownerReferences uid', () => {
    // Deployment "web" and "web-api": every "web-api-…" name also starts with "web-".
    const web = object('web', 'd-web');
    const webApi = object('web-api', 'd-web-api');
    const replicaSets = [
      object('web-api-5c8d', 'rs-api', 'd-web-api'),
      object('web-7f6b', 'rs-web-new', 'd-web'),
      object('web-6a5c', 'rs-web-old', 'd-web'),
    ];
    const pods = [
      object('web-6a5c-old1', 'p1', 'rs-web-old'),
      object('web-7f6b-new1', 'p2', 'rs-web-new'),
      object('web-api-5c8d-a', 'p3', 'rs-api'),
      object('web-api-5c8d-b', 'p4', 'rs-api'),
      object('web-orphan', 'p5'),
      object('web-7f6b-new2', 'p6', 'rs-web-new'),
    ];
    const names = (list: readonly Owned[]) => list.map((o) => (o as { name: string }).name);

    it('gives a Deployment the pods of every ReplicaSet it owns (old and new during a rollout), in pod order', () => {
      assert.deepEqual(names(podsOfWorkload('Deployment', web, pods, replicaSets)), ['web-6a5c-old1', 'web-7f6b-new1', 'web-7f6b-new2']);
      assert.deepEqual(names(podsOfWorkload('Deployment', webApi, pods, replicaSets)), ['web-api-5c8d-a', 'web-api-5c8d-b']);
    });

    it('gives other workloads the pods that name them as owner, never by name', () => {
      assert.deepEqual(names(podsOfWorkload('ReplicaSet', replicaSets[0]!, pods, [])), ['web-api-5c8d-a', 'web-api-5c8d-b']);
      assert.deepEqual(names(podsOfWorkload('StatefulSet', object('web', 'other-uid'), pods, [])), []);
      assert.deepEqual(names(podsOfWorkload('Job', object('no-uid', ''), pods, [])), []);
    });

    it('indexes a snapshot once: the same array gives the same index, a new array a new one', () => {
      assert.equal(byOwnerUid(pods), byOwnerUid(pods));
      assert.notEqual(byOwnerUid(pods), byOwnerUid([...pods]));
    });
  });

  describe('Agents tree against a dev cluster', () => {
    let cluster: DevCluster;
    let kas: TestServer;
    let model: AgentsModel | undefined;
    const record: ConnectionRecord = { id: 'conn-w', label: 'test', apiUrl: '', k8sProxyUrl: '', origin: 'user' };
    const namespace = 'workloads-test';

    before(async () => {
      cluster = await startQuietDevCluster();
      kas = await serveOneConnectedAgent();
      record.apiUrl = kas.url;
      record.k8sProxyUrl = cluster.url;
      await createObjects(cluster, namespace, { namespace: true });
      const session = async (): Promise<Session> => ({
        record,
        kas: new KasApi({ baseUrl: kas.url, authorization: 'Bearer user' }),
        kube: () => adminClient(cluster),
        kubeconfigParts: () => ({ server: cluster.url, token: cluster.adminToken }),
      });
      model = new AgentsModel({ connections: () => [record], session, onChange: () => undefined });
    });
    after(async () => {
      await model?.dispose();
      await kas?.close();
      await cluster?.stop();
    });

    async function apis() {
      const layer = await loadKubeLayer();
      const config = layer.createKubeConfig({ server: cluster.url, token: cluster.adminToken, caPem: cluster.caPem });
      return { apps: config.makeApiClient(layer.clientNode.AppsV1Api), batch: config.makeApiClient(layer.clientNode.BatchV1Api) };
    }
    const template = (app: string) => ({
      metadata: { labels: { app } },
      spec: { containers: [{ name: 'main', image: 'sim' }] },
    });

    const label = (node: AgentsNode) => present(node, Date.now()).label;
    async function expand(node: AgentsNode | undefined, wanted: string, timeoutMs?: number): Promise<AgentsNode> {
      return waitFor(
        `${wanted} under ${node ? label(node) : 'root'}`,
        () => model!.children(node).find((n) => label(n) === wanted),
        timeoutMs,
      );
    }
    async function kindList(plural: string): Promise<AgentsNode> {
      const agent = await expand(await expand(undefined, 'test'), 'dev');
      return expand(await expand(await expand(agent, namespace), 'Workloads'), plural);
    }
    /** The pod rows under `node` once there are `count` of them. */
    async function podRows(node: AgentsNode, count: number, timeoutMs = 30_000) {
      return waitFor(
        `${count} pods under ${label(node)}`,
        () => {
          const rows = model!.children(node).filter((n) => n.kind === 'pod');
          return rows.length === count && rows;
        },
        timeoutMs,
      );
    }

    it('shows a Deployment’s pods under it, live as it scales, keeping the pod rows’ icons, menus and containers', async () => {
      const { apps } = await apis();
      await apps.createNamespacedDeployment({
        namespace,
        body: { metadata: { name: 'web' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: template('web') } },
      });
      // A Deployment whose name extends the first one's: its pods must not show under "web".
      await apps.createNamespacedDeployment({
        namespace,
        body: {
          metadata: { name: 'web-api' },
          spec: { replicas: 1, selector: { matchLabels: { app: 'web-api' } }, template: template('web-api') },
        },
      });
      const deployments = await kindList('Deployments');
      const web = await expand(deployments, 'web');
      assert.equal(present(web, 0).collapsible, true);
      const rows = await podRows(web, 2);
      for (const row of rows) {
        assert.match(label(row), /^web-[a-z0-9]+-[a-z0-9]+$/);
        assert.doesNotMatch(label(row), /^web-api-/);
      }
      const webApi = await expand(deployments, 'web-api');
      assert.match(label((await podRows(webApi, 1))[0]!), /^web-api-/);

      // The same pods under the Pods kind: same contextValue and icon, distinct tree ids.
      const pods = await expand(
        await expand(await expand(await expand(await expand(undefined, 'test'), 'dev'), namespace), 'Workloads'),
        'Pods',
      );
      const running = await waitFor('a running pod of web', () => {
        const row = model!.children(web).find((n) => n.kind === 'pod' && present(n, 0).contextValue === 'kubernetesAgents.pod.running');
        return row && present(row, 0).icon?.id === 'pass-filled' && row;
      });
      const sameInPods = model!.children(pods).find((n) => label(n) === label(running))!;
      assert.ok(sameInPods, 'the pod is listed under Pods too');
      const [underWeb, underPods] = [present(running, 0), present(sameInPods, 0)];
      assert.equal(underWeb.contextValue, underPods.contextValue);
      assert.deepEqual(underWeb.icon, underPods.icon);
      assert.notEqual(underWeb.id, underPods.id, 'tree ids are unique across the tree');
      const containers = model!.children(running);
      assert.deepEqual(containers.map(label), ['main']);
      assert.notEqual(present(containers[0]!, 0).id, present(model!.children(sameInPods)[0]!, 0).id);

      const current = await apps.readNamespacedDeployment({ name: 'web', namespace });
      await apps.replaceNamespacedDeployment({ name: 'web', namespace, body: { ...current, spec: { ...current.spec!, replicas: 3 } } });
      await podRows(web, 3);
      assert.equal((await podRows(webApi, 1)).length, 1);
    });

    it('shows the pods of a StatefulSet, a DaemonSet and a Job, and a CronJob’s Jobs with their pods', async () => {
      const { apps, batch } = await apis();
      await apps.createNamespacedStatefulSet({
        namespace,
        body: {
          metadata: { name: 'db' },
          spec: { replicas: 2, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: template('db') },
        },
      });
      await apps.createNamespacedDaemonSet({
        namespace,
        body: { metadata: { name: 'agent' }, spec: { selector: { matchLabels: { app: 'agent' } }, template: template('agent') } },
      });
      await batch.createNamespacedJob({
        namespace,
        body: {
          metadata: { name: 'once' },
          spec: { template: { ...template('once'), spec: { ...template('once').spec, restartPolicy: 'Never' } } },
        },
      });
      await batch.createNamespacedCronJob({
        namespace,
        body: {
          metadata: { name: 'tick' },
          spec: {
            schedule: '@every 2s',
            jobTemplate: { spec: { template: { ...template('tick'), spec: { ...template('tick').spec, restartPolicy: 'Never' } } } },
          },
        },
      });
      const db = await expand(await kindList('StatefulSets'), 'db');
      assert.deepEqual((await podRows(db, 2)).map(label).sort(), ['db-0', 'db-1']);
      const agent = await expand(await kindList('DaemonSets'), 'agent');
      assert.equal((await podRows(agent, 1)).length, 1);
      const once = await expand(await kindList('Jobs'), 'once');
      assert.match(label((await podRows(once, 1))[0]!), /^once-/);

      const tick = await expand(await kindList('CronJobs'), 'tick');
      assert.equal(present(tick, 0).collapsible, true);
      const job = await waitFor('a Job under the CronJob', () => model!.children(tick).find((n) => n.kind === 'resource'), 30_000);
      assert.match(label(job), /^tick-\d+$/);
      assert.equal(present(job, 0).contextValue, 'kubernetesAgents.resource.job');
      assert.ok(!model!.children(tick).some((n) => n.kind === 'resource' && label(n) === 'once'), 'a Job the CronJob does not own');
      const jobPod = await waitFor('the Job’s pod', () => model!.children(job).find((n) => n.kind === 'pod'), 30_000);
      assert.match(label(jobPod), new RegExp(`^${label(job)}-`));
      // Ids stay unique: the Job under its CronJob differs from the same Job under Jobs.
      const jobsList = await kindList('Jobs');
      const sameJob = await expand(jobsList, label(job));
      assert.notEqual(present(job, 0).id, present(sameJob, 0).id);
    });
  });
});
