// Real kubectl against the dev cluster: the commands a developer types every day.
import assert from 'node:assert/strict';
import { runKubectl, spawnKubectl, stopAllKubectl } from '../../support/kubectl';
import { request, startTestCluster, type TestCluster } from '../../support/devcluster';

const MANIFEST = (value: string, image: string) => `
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: demo}
data:
  mode: "${value}"
---
apiVersion: v1
kind: Pod
metadata:
  name: demo
  labels: {app: demo}
spec:
  containers:
  - name: main
    image: ${image}
    env:
    - {name: SIM_RUN_SECONDS, value: "600"}
`;

describe('devcluster with real kubectl: get, describe, apply, delete, get -w, auth can-i', function () {
  let t: TestCluster;
  const kubectl = (args: string[], input?: string) => runKubectl(args, { kubeconfig: t.kubeconfig, input });

  before(async () => {
    t = await startTestCluster();
  });
  afterEach(async () => {
    await stopAllKubectl();
  });
  after(async () => {
    await t?.stop();
  });

  it('lists the default namespaces with kubectl get ns (server-side table columns)', async () => {
    const result = await kubectl(['get', 'namespaces']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^NAME\s+STATUS\s+AGE/);
    for (const ns of ['default', 'kube-system', 'kube-public']) assert.match(result.stdout, new RegExp(`^${ns}\\s+Active`, 'm'));
  });

  it('creates with kubectl apply -f (validation on), then applies a change to the same objects', async () => {
    const created = await kubectl(['apply', '-f', '-'], MANIFEST('one', 'busybox:1'));
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /configmap\/settings created/);
    assert.match(created.stdout, /pod\/demo created/);
    const changed = await kubectl(['apply', '-f', '-'], MANIFEST('two', 'busybox:2'));
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stdout, /configmap\/settings configured/);
    const mode = await kubectl(['get', 'configmap', 'settings', '-o', 'jsonpath={.data.mode}']);
    assert.equal(mode.stdout, 'two');
    const image = await kubectl(['get', 'pod', 'demo', '-o', 'jsonpath={.spec.containers[0].image} {.spec.containers[0].env[0].name}']);
    assert.equal(image.stdout, 'busybox:2 SIM_RUN_SECONDS');
  });

  it('shows pods with kubectl get (short name, label selector) and kubectl describe', async () => {
    const list = await kubectl(['get', 'po', '-l', 'app=demo']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE/);
    assert.match(list.stdout, /^demo\s+\d\/1\s+\w+\s+0\s+\d+s/m);
    const describe = await kubectl(['describe', 'pod', 'demo']);
    assert.equal(describe.code, 0, describe.stderr);
    assert.match(describe.stdout, /^Name:\s+demo$/m);
    assert.match(describe.stdout, /^Namespace:\s+default$/m);
    assert.match(describe.stdout, /Image:\s+busybox:2/);
    assert.match(describe.stdout, /^Events:/m);
  });

  it('prints a change made by another client in kubectl get -w', async () => {
    const watch = spawnKubectl(['get', 'configmaps', '-w'], { kubeconfig: t.kubeconfig });
    await watch.waitForLine(/^settings\s/);
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'from-elsewhere' } });
    const created = await request(t.cluster, 'POST', '/api/v1/namespaces/default/configmaps', { body });
    assert.equal(created.status, 201);
    await watch.waitForLine(/^from-elsewhere\s+0\s+\d+s/);
    assert.equal(watch.lines.filter((l) => l.startsWith('NAME')).length, 1, 'the header is printed once');
  });

  it('deletes with kubectl delete, after which get answers NotFound', async () => {
    const deleted = await kubectl(['delete', 'configmap', 'settings']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /configmap "settings" deleted/);
    const gone = await kubectl(['get', 'configmap', 'settings']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /NotFound.*configmaps "settings" not found/);
  });

  it('reports Kubernetes errors from the server: invalid name, unknown resource type', async () => {
    const invalid = await kubectl(['create', 'configmap', 'Bad_Name']);
    assert.notEqual(invalid.code, 0);
    assert.match(invalid.stderr, /is invalid: metadata.name: Invalid value: "Bad_Name"/);
    const unknown = await kubectl(['get', 'widgets']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /the server doesn't have a resource type "widgets"/);
  });

  it('creates objects through kubectl create, whose typed clients send protobuf bodies', async () => {
    const steps = [
      ['create', 'namespace', 'team-a'],
      ['create', 'configmap', 'c1', '--from-literal=a=1', '-n', 'team-a'],
      ['create', 'secret', 'generic', 's1', '--from-literal=p=secret', '-n', 'team-a'],
      ['create', 'serviceaccount', 'bot', '-n', 'team-a'],
      ['create', 'role', 'pod-reader', '--verb=get,list', '--resource=pods', '-n', 'team-a'],
      ['create', 'rolebinding', 'alice-reads', '--role=pod-reader', '--user=alice', '-n', 'team-a'],
    ];
    for (const args of steps) {
      const result = await kubectl(args);
      assert.equal(result.code, 0, `kubectl ${args.join(' ')}: ${result.stderr}`);
    }
    const secret = await kubectl(['get', 'secret', 's1', '-n', 'team-a', '-o', 'jsonpath={.data.p}']);
    assert.equal(Buffer.from(secret.stdout, 'base64').toString(), 'secret');
    const binding = await kubectl([
      'get',
      'rolebinding',
      'alice-reads',
      '-n',
      'team-a',
      '-o',
      'jsonpath={.subjects[0].name} {.roleRef.name}',
    ]);
    assert.equal(binding.stdout, 'alice pod-reader');
    const aliceCan = await kubectl(['auth', 'can-i', 'list', 'pods', '-n', 'team-a', '--as', 'alice']);
    assert.equal(aliceCan.stdout.trim(), 'yes');
  });

  it('answers kubectl auth can-i for the admin and for an impersonated user without bindings', async () => {
    const admin = await kubectl(['auth', 'can-i', 'create', 'pods']);
    assert.equal(admin.stdout.trim(), 'yes');
    const alice = await kubectl(['auth', 'can-i', 'create', 'pods', '--as', 'alice']);
    assert.equal(alice.stdout.trim(), 'no');
    assert.equal(alice.code, 1);
  });
});
