// Server-side apply as real kubectl 1.32 uses it: apply --server-side, --dry-run=server, diff
// --server-side, conflicts with another field manager, --force-conflicts, and fields an applier
// drops being removed. managedFields are read back as kubectl shows them.
import assert from 'node:assert/strict';
import { runKubectl, stopAllKubectl } from '../../support/kubectl';
import { startTestCluster, type TestCluster } from '../../support/devcluster';

const DEPLOYMENT = (replicas: number, labels = 'app: web, tier: front') => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {${labels}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1
`;

interface ManagedEntry {
  manager: string;
  operation: string;
  subresource?: string;
  fieldsV1: Record<string, Record<string, unknown>>;
}

describe('devcluster server-side apply with real kubectl', function () {
  let t: TestCluster;
  const kubectl = (args: string[], input?: string) => runKubectl(args, { kubeconfig: t.kubeconfig, input });
  const managedFields = async (): Promise<ManagedEntry[]> => {
    const got = await kubectl(['get', 'deployment', 'web', '--show-managed-fields', '-o', 'json']);
    assert.equal(got.code, 0, got.stderr);
    return (JSON.parse(got.stdout) as { metadata: { managedFields: ManagedEntry[] } }).metadata.managedFields;
  };
  const replicas = async () => (await kubectl(['get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas}'])).stdout;

  before(async () => {
    t = await startTestCluster();
  });
  afterEach(async () => {
    await stopAllKubectl();
  });
  after(async () => {
    await t?.stop();
  });

  it('creates with apply --server-side; the applier owns what it applied', async () => {
    const created = await kubectl(['apply', '--server-side', '-f', '-'], DEPLOYMENT(1));
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /deployment\.apps\/web serverside-applied/);
    const [entry, ...others] = await managedFields();
    assert.equal(others.length, 0);
    assert.equal(entry!.manager, 'kubectl');
    assert.equal(entry!.operation, 'Apply');
    assert.deepEqual(entry!.fieldsV1['f:spec']!['f:replicas'], {});
    const containers = (entry!.fieldsV1['f:spec']!['f:template'] as Record<string, Record<string, Record<string, unknown>>>)['f:spec']![
      'f:containers'
    ]!;
    assert.deepEqual(Object.keys(containers), ['k:{"name":"app"}']);
    const plain = await kubectl(['get', 'deployment', 'web', '-o', 'yaml']);
    assert.doesNotMatch(plain.stdout, /managedFields/, 'kubectl hides managedFields unless asked');
  });

  it('--dry-run=server answers the result and changes nothing; diff --server-side shows the change', async () => {
    const dry = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], DEPLOYMENT(3));
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /deployment\.apps\/web serverside-applied \(server dry run\)/);
    assert.equal(await replicas(), '1');
    const diff = await kubectl(['diff', '--server-side', '-f', '-'], DEPLOYMENT(3));
    assert.equal(diff.code, 1, `kubectl diff exits 1 when there are differences: ${diff.stderr}`);
    assert.match(diff.stdout, /^-\s+replicas: 1$/m);
    assert.match(diff.stdout, /^\+\s+replicas: 3$/m);
    const same = await kubectl(['diff', '--server-side', '-f', '-'], DEPLOYMENT(1));
    assert.equal(same.code, 0, `no differences: ${same.stdout}${same.stderr}`);
  });

  it('a field another manager changed conflicts (409, the field named); --force-conflicts takes it over', async () => {
    const patched = await kubectl([
      'patch',
      'deployment',
      'web',
      '--type',
      'merge',
      '-p',
      '{"spec":{"replicas":4}}',
      '--field-manager',
      'scaler',
    ]);
    assert.equal(patched.code, 0, patched.stderr);
    const scaler = (await managedFields()).find((e) => e.manager === 'scaler');
    assert.equal(scaler?.operation, 'Update');
    assert.deepEqual(scaler?.fieldsV1, { 'f:spec': { 'f:replicas': {} } });

    const refused = await kubectl(['apply', '--server-side', '-f', '-'], DEPLOYMENT(2));
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Apply failed with 1 conflict: conflict with "scaler" using apps\/v1: \.spec\.replicas/);
    assert.equal(await replicas(), '4');

    // The same value as the other manager's is no conflict: the field is then shared.
    const shared = await kubectl(['apply', '--server-side', '-f', '-'], DEPLOYMENT(4));
    assert.equal(shared.code, 0, shared.stderr);

    const forced = await kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], DEPLOYMENT(2));
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(await replicas(), '2');
    assert.equal(
      (await managedFields()).find((e) => e.manager === 'scaler'),
      undefined,
      'the forced field left the other manager, which owned nothing else',
    );
  });

  it('a field the applier no longer applies is removed', async () => {
    const applied = await kubectl(['apply', '--server-side', '-f', '-'], DEPLOYMENT(2, 'app: web'));
    assert.equal(applied.code, 0, applied.stderr);
    const labels = await kubectl(['get', 'deployment', 'web', '-o', 'jsonpath={.metadata.labels}']);
    assert.deepEqual(JSON.parse(labels.stdout), { app: 'web' });
  });

  it('kubectl scale is an update through the scale subresource', async () => {
    const scaled = await kubectl(['scale', 'deployment', 'web', '--replicas', '5']);
    assert.equal(scaled.code, 0, scaled.stderr);
    const entry = (await managedFields()).find((e) => e.subresource === 'scale');
    assert.equal(entry?.operation, 'Update');
    assert.deepEqual(entry?.fieldsV1, { 'f:spec': { 'f:replicas': {} } });
    const refused = await kubectl(['apply', '--server-side', '-f', '-'], DEPLOYMENT(2, 'app: web'));
    assert.match(refused.stderr, /conflict with "[^"]+" using apps\/v1: \.spec\.replicas/);
  });
});
