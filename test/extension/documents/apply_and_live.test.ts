// The resource documents' cluster side through kas + agentk to the dev cluster, without VS Code:
// the dry-run plan and its diff texts, server-side apply, a conflict with another field manager
// (fields named, then forced), a stale resourceVersion, scale and restart, a live object list
// that follows changes, and Describe's text with the object's events.
import { strict as assert } from 'node:assert';
import { applyPlan, parseObjects, planApply } from '../../../extension/src/documents/apply_plan';
import { describeText } from '../../../extension/src/documents/describe';
import { LiveList } from '../../../extension/src/documents/live_list';
import { ApplyConflictError, ResourceApi, type KubeObject } from '../../../extension/src/documents/resource_api';
import { involvedObjectSelector, restartRollout, scale } from '../../../extension/src/documents/resource_actions';
import type { TestCluster } from '../../support/devcluster';
import { runKubectl } from '../../support/kubectl';
import { startClusterBehindKas, type ClusterBehindKas } from '../../support/cluster_behind_kas';
import { waitFor } from '../helpers';

const DEPLOYMENT = (replicas: number) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: nginx:1}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: one}
`;
const WEB = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: 'web' };

describe('extension resource documents through kas (apply with dry-run, conflicts, scale, live lists)', function () {
  this.timeout(60_000);
  let stack: ClusterBehindKas;
  let cluster: TestCluster;
  let api: ResourceApi;
  const lists: LiveList[] = [];

  before(async () => {
    stack = await startClusterBehindKas();
    cluster = stack.cluster;
    api = new ResourceApi({ server: stack.kas.proxyUrl, token: stack.userToken, caPem: stack.caPem });
  });
  after(async () => {
    for (const list of lists) list.dispose();
    await stack?.stop();
  });

  it('plans a multi-document file (dry run: nothing created), then applies it with server-side apply', async () => {
    const objects = parseObjects(DEPLOYMENT(1), 'default');
    const plan = await planApply(api, objects);
    assert.deepEqual(
      plan.items.map((i) => [i.label, i.change]),
      [
        ['Deployment default/web', 'create'],
        ['ConfigMap default/settings', 'create'],
      ],
    );
    assert.match(plan.dryRunText, /replicas: 1/);
    assert.doesNotMatch(plan.dryRunText, /managedFields/);
    await assert.rejects(api.get(WEB), (error: Error) => /NOT_FOUND/.test(error.message), 'a dry run creates nothing');
    const started = Date.now();
    await applyPlan(api, plan);
    console.log(`      apply round trip through kas (2 objects): ${Date.now() - started} ms`);
    const live = await api.get(WEB);
    const managers = (live.metadata?.managedFields as Array<{ manager: string; operation: string }>).map(
      (m) => `${m.manager}/${m.operation}`,
    );
    assert.deepEqual(managers, ['kubernetes-agent-workbench/Apply']);
  });

  it('a changed replica count shows in the diff; applying it scales the Deployment', async () => {
    const plan = await planApply(api, parseObjects(DEPLOYMENT(3), 'default'));
    assert.deepEqual(
      plan.items.map((i) => i.change),
      ['change', 'none'],
    );
    assert.match(plan.liveText, /replicas: 1/);
    assert.match(plan.dryRunText, /replicas: 3/);
    await applyPlan(api, plan);
    await waitFor('3 ready replicas', async () => ((await api.get(WEB)).status as { readyReplicas?: number })?.readyReplicas === 3);
  });

  it('a field another manager set conflicts with the fields named; force takes it over', async () => {
    const patched = await runKubectl(
      ['patch', 'deployment', 'web', '--type', 'merge', '-p', '{"spec":{"replicas":5}}', '--field-manager', 'hpa-like'],
      { kubeconfig: cluster.kubeconfig },
    );
    assert.equal(patched.code, 0, patched.stderr);
    const plan = await planApply(api, parseObjects(DEPLOYMENT(2), 'default')).catch((error: unknown) => error);
    assert.ok(plan instanceof ApplyConflictError, 'the dry run already reports the conflict');
    assert.deepEqual(plan.conflicts, [{ field: '.spec.replicas', manager: 'hpa-like' }]);
    assert.match(plan.message, /^CONFLICT: fields owned by another manager: \.spec\.replicas \(hpa-like\)/);
    const forced = await api.apply(parseObjects(DEPLOYMENT(2), 'default')[0]!, { force: true });
    assert.equal((forced.spec as { replicas: number }).replicas, 2);
  });

  it('an edit of a stale copy (old resourceVersion) is a conflict without fields (reload)', async () => {
    const live = await api.get(WEB);
    const copy = structuredClone(live);
    delete copy.metadata!.managedFields;
    const labelled = await runKubectl(['label', 'deployment', 'web', 'moved=on'], { kubeconfig: cluster.kubeconfig });
    assert.equal(labelled.code, 0, labelled.stderr);
    const refused = await api.apply(copy).catch((error: unknown) => error);
    assert.ok(refused instanceof ApplyConflictError);
    assert.deepEqual(refused.conflicts, []);
  });

  it('a live list of one object follows scale and restart; Describe shows replicas, and a pod its events', async () => {
    const seen: KubeObject[][] = [];
    lists.push(
      new LiveList({
        api,
        path: () => api.collectionPath('apps/v1', 'Deployment', 'default'),
        fieldSelector: 'metadata.name=web',
        onChange: (items) => seen.push(items),
      }),
    );
    await waitFor('the first list', async () => seen.length > 0);
    await scale(api, WEB, 1);
    await waitFor('replicas 1 in the live list', async () => (seen.at(-1)?.[0]?.spec as { replicas?: number })?.replicas === 1);
    await restartRollout(api, WEB, new Date('2026-01-01T00:00:00Z'));
    await waitFor('the restartedAt annotation', async () => {
      const template = (seen.at(-1)?.[0]?.spec as { template?: { metadata?: { annotations?: Record<string, string> } } })?.template;
      return template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'] === '2026-01-01T00:00:00Z';
    });
    const text = describeText(await api.get(WEB), [], Date.now());
    assert.match(text, /^Name:\s+web$/m);
    assert.match(text, /^Replicas:\s+1 desired/m);
    assert.match(text, /^Events:\n {2}<none>$/m);
    // Pods have the kubelet's events: Describe of one lists them, selected by involvedObject.
    const pods = await api.list('api/v1/namespaces/default/pods', { labelSelector: 'app=web' });
    const pod = { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: pods.items[0]!.metadata!.name! };
    let events: KubeObject[] = [];
    await waitFor('the pod to have events', async () => {
      events = (await api.list('api/v1/namespaces/default/events', { fieldSelector: involvedObjectSelector(pod) })).items;
      return events.length > 0;
    });
    assert.ok(events.every((e) => (e.involvedObject as { name?: string }).name === pod.name));
    const podText = describeText(await api.get(pod), events, Date.now());
    assert.match(podText, /^Containers:\n {2}app:\n {4}Image:\s+nginx:1$/m);
    assert.match(podText, new RegExp(`^  (Normal|Warning)\\s+\\S+\\s+\\S+\\s+Pod/${pod.name}`, 'm'));
  });
});
