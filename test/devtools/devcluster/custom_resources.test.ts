// CustomResourceDefinitions serving their custom resources, with real kubectl 1.32 and
// @kubernetes/client-node: discovery, api-resources, get/create/apply/delete, watch,
// namespaced and cluster-scoped, and a deleted CRD taking its objects and its API with it.
import assert from 'node:assert/strict';
import { runKubectl, spawnKubectl, stopAllKubectl } from '../../support/kubectl';
import { request, startTestCluster, type TestCluster } from '../../support/devcluster';

type ClientNode = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });

const CRDS = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
    subresources: {status: {}}
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: regions.infra.example.com
spec:
  group: infra.example.com
  scope: Cluster
  names: {plural: regions, singular: region, kind: Region}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`;

const WIDGET = (size: number) => `
apiVersion: example.com/v1
kind: Widget
metadata: {name: gear}
spec: {size: ${size}}
`;

describe('devcluster CustomResourceDefinitions with real kubectl and client-node', function () {
  this.timeout(60_000);
  let t: TestCluster;
  const kubectl = async (args: string[], input?: string) => {
    const result = await runKubectl(args, { kubeconfig: t.kubeconfig, input });
    assert.equal(result.code, 0, `kubectl ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };

  before(async () => {
    t = await startTestCluster();
  });
  afterEach(() => stopAllKubectl());
  after(async () => {
    await t?.stop();
  });

  it('creating CRDs adds their groups, versions and resources to discovery; they become Established', async () => {
    await kubectl(['apply', '-f', '-'], CRDS);
    await kubectl(['wait', '--for=condition=established', 'crd/widgets.example.com', 'crd/regions.infra.example.com', '--timeout=20s']);
    const resources = await kubectl(['api-resources', '--no-headers']);
    assert.match(resources, /^widgets\s+wd\s+example\.com\/v1\s+true\s+Widget$/m);
    assert.match(resources, /^regions\s+infra\.example\.com\/v1alpha1\s+false\s+Region$/m);
    assert.match(await kubectl(['get', 'crds']), /^widgets\.example\.com\s/m);
    const groups = JSON.parse((await request(t.cluster, 'GET', '/apis')).body) as { groups: Array<{ name: string; versions: unknown[] }> };
    const widgets = groups.groups.find((g) => g.name === 'example.com');
    assert.deepEqual(widgets?.versions, [
      { groupVersion: 'example.com/v1', version: 'v1' },
      { groupVersion: 'example.com/v1beta1', version: 'v1beta1' },
    ]);
    const list = JSON.parse((await request(t.cluster, 'GET', '/apis/example.com/v1')).body) as { resources: Array<{ name: string }> };
    assert.deepEqual(
      list.resources.map((r) => r.name),
      ['widgets', 'widgets/status'],
    );
  });

  it('kubectl create, get, apply, get -w and delete a namespaced custom resource', async () => {
    const watch = spawnKubectl(['get', 'widgets', '-w', '--output-watch-events'], { kubeconfig: t.kubeconfig });
    await kubectl(['create', '-f', '-'], WIDGET(1));
    await watch.waitForLine(/^ADDED\s+gear\s/);
    assert.match(await kubectl(['get', 'wd']), /^NAME\s+AGE\ngear\s+\d+s$/m);
    // The size kubectl create set is kubectl-create's: taking it over needs --force-conflicts.
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], WIDGET(3));
    await watch.waitForLine(/^MODIFIED\s+gear\s/);
    assert.equal(await kubectl(['get', 'widget', 'gear', '-o', 'jsonpath={.spec.size}']), '3');
    // Every served version serves the same objects (conversion None).
    assert.equal(await kubectl(['get', 'widgets.v1beta1.example.com', 'gear', '-o', 'jsonpath={.apiVersion}']), 'example.com/v1beta1');
    await kubectl(['delete', 'widget', 'gear']);
    await watch.waitForLine(/^DELETED\s+gear\s/);
    const missing = await runKubectl(['get', 'widget', 'gear'], { kubeconfig: t.kubeconfig });
    assert.match(missing.stderr, /widgets\.example\.com "gear" not found/);
  });

  it('client-node CustomObjectsApi lists, creates and watches a cluster-scoped custom resource', async () => {
    const k8s: ClientNode = await import('@kubernetes/client-node');
    const config = new k8s.KubeConfig();
    config.loadFromFile(t.kubeconfig);
    const custom = config.makeApiClient(k8s.CustomObjectsApi);
    const seen: string[] = [];
    const watching = await new k8s.Watch(config).watch(
      '/apis/infra.example.com/v1alpha1/regions',
      {},
      (type: string, object: { metadata?: { name?: string } }) => seen.push(`${type} ${object.metadata?.name}`),
      () => undefined,
    );
    try {
      await custom.createClusterCustomObject({
        group: 'infra.example.com',
        version: 'v1alpha1',
        plural: 'regions',
        body: { apiVersion: 'infra.example.com/v1alpha1', kind: 'Region', metadata: { name: 'eu-west' }, spec: { zones: 3 } },
      });
      const listed = (await custom.listClusterCustomObject({ group: 'infra.example.com', version: 'v1alpha1', plural: 'regions' })) as {
        items: Array<{ metadata: { name: string }; spec: { zones: number } }>;
      };
      assert.deepEqual(
        listed.items.map((i) => [i.metadata.name, i.spec.zones]),
        [['eu-west', 3]],
      );
      await waitFor(() => seen.includes('ADDED eu-west'), 'the watch to see the new region');
      assert.match(await kubectl(['get', 'regions']), /^eu-west\s/m);
    } finally {
      watching.abort();
    }
  });

  it('refuses a CRD whose name is not <plural>.<group>; deleting a CRD deletes its objects and its API', async () => {
    const bad = await runKubectl(['apply', '-f', '-'], {
      kubeconfig: t.kubeconfig,
      input: CRDS.split('---')[1]!.replace('name: regions.infra.example.com', 'name: wrong.infra.example.com'),
    });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /metadata\.name: Invalid value: "wrong\.infra\.example\.com": must be spec\.names\.plural\+"\."\+spec\.group/);
    await kubectl(['create', '-f', '-'], WIDGET(5));
    await kubectl(['delete', 'crd', 'widgets.example.com']);
    const stored = t.cluster.store.list({ group: 'example.com', version: 'v1', resource: 'widgets' });
    assert.equal(stored.items.length, 0);
    const gone = await runKubectl(['get', 'widgets'], { kubeconfig: t.kubeconfig });
    // kubectl may still hold the old discovery in its cache; either way the server has no widgets.
    assert.match(gone.stderr, /doesn't have a resource type "widgets"|could not find the requested resource/);
    assert.equal((await request(t.cluster, 'GET', '/apis/example.com/v1')).status, 404);
  });
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
