// The dev cluster validates what `kubectl apply --dry-run=server` sends as a real API server
// does: unknown fields (Strict by default in kubectl, a warning under --validate=warn), values
// of the wrong type, and the kinds' own field rules; and it serves the kinds deployment
// manifests use (apps/v1 Deployments, Services, PodDisruptionBudgets, Leases).
import assert from 'node:assert/strict';
import { runKubectl } from '../../support/kubectl';
import { startTestCluster, type TestCluster } from '../../support/devcluster';

const DEPLOYMENT = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: main
        image: example/web:1
        ports: [{containerPort: 8080, name: http}]
        volumeMounts: [{name: token, mountPath: /etc/token, readOnly: true}]
        resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 1}}
      volumes: [{name: token, secret: {secretName: web-token}}]
`;

const GOOD = [
  DEPLOYMENT,
  'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: http}]\n',
  'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec:\n  maxUnavailable: 1\n  selector: {matchLabels: {app: web}}\n',
  'apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: lock}\nspec: {holderIdentity: a, leaseDurationSeconds: 15}\n',
  'apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects: [{kind: ServiceAccount, name: default}]\n',
].join('---\n');

interface Case {
  name: string;
  manifest: string;
  error: RegExp;
}

const BAD: Case[] = [
  {
    name: 'an unknown field deep in a pod template',
    manifest: DEPLOYMENT.replace('image: example/web:1', 'image: example/web:1\n        imagePullPolic: Always'),
    error: /BadRequest.*strict decoding error: unknown field "spec\.template\.spec\.containers\[0\]\.imagePullPolic"/,
  },
  {
    name: 'a string where an int32 belongs',
    manifest: DEPLOYMENT.replace('containerPort: 8080', 'containerPort: "8080"'),
    error: /cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field .*containerPort of type int32/,
  },
  {
    name: 'a selector that does not match the template labels',
    manifest: DEPLOYMENT.replace('matchLabels: {app: web}', 'matchLabels: {app: other}'),
    error: /The Deployment "web" is invalid: spec\.template\.metadata\.labels: Invalid value.*`selector` does not match template `labels`/,
  },
  {
    name: 'a volume mount of no volume',
    manifest: DEPLOYMENT.replace('{name: token, mountPath', '{name: tokn, mountPath'),
    error: /spec\.template\.spec\.containers\[0\]\.volumeMounts\[0\]\.name: Not found: "tokn"/,
  },
  {
    name: 'a Service without ports',
    manifest: 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: {app: web}}\n',
    error: /Service "s" is invalid: spec\.ports: Required value/,
  },
  {
    name: 'a PodDisruptionBudget with both limits',
    manifest: 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {minAvailable: 1, maxUnavailable: 1}\n',
    error: /minAvailable and maxUnavailable cannot be both set/,
  },
  {
    name: 'a ClusterRoleBinding to a Role',
    manifest:
      'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: c}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\nsubjects: [{kind: ServiceAccount, name: a}]\n',
    error: /roleRef\.kind: Unsupported value: "Role": supported values: "ClusterRole".*subjects\[0\]\.namespace: Required value/s,
  },
  {
    name: 'a Role rule without verbs',
    manifest: 'apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\nrules: [{apiGroups: [""], resources: [pods]}]\n',
    error: /rules\[0\]\.verbs: Required value/,
  },
  {
    name: 'a Secret key that is no config key',
    manifest: 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {"a/b": x}\n',
    error: /stringData\[a\/b\]: Invalid value/,
  },
  {
    name: 'a ServiceAccount with a misspelled field',
    manifest: 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\nautomountServiceAccountTokn: false\n',
    error: /strict decoding error: unknown field "automountServiceAccountTokn"/,
  },
  {
    name: 'a Namespace with a string for a list',
    manifest: 'apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\nspec: {finalizers: kubernetes}\n',
    error: /cannot unmarshal string into Go struct field NamespaceSpec\.spec\.finalizers of type \[\]string/,
  },
  {
    name: 'a ConfigMap with a number as a value',
    manifest: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: 1}\n',
    error: /cannot unmarshal number into Go struct field ConfigMap\.data\[a\] of type string/,
  },
];

describe('devcluster validation of deployment manifests (kubectl apply --dry-run=server)', function () {
  this.timeout(60_000);
  let t: TestCluster;
  const kubectl = (args: string[], input?: string) => runKubectl(args, { kubeconfig: t.kubeconfig, input });

  before(async () => {
    t = await startTestCluster();
  });
  after(async () => {
    await t?.stop();
  });

  it('accepts valid Deployments, Services, PodDisruptionBudgets, Leases and bindings', async () => {
    const result = await kubectl(['apply', '--dry-run=server', '-n', 'default', '-f', '-'], GOOD);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /deployment\.apps\/web created \(server dry run\)/);
    assert.match(result.stdout, /service\/web created \(server dry run\)/);
    assert.match(result.stdout, /poddisruptionbudget\.policy\/web created \(server dry run\)/);
    assert.match(result.stdout, /lease\.coordination\.k8s\.io\/lock created \(server dry run\)/);
    const listed = await kubectl(['get', 'deployments,services,pdb,leases', '-n', 'default', '-o', 'name']);
    assert.equal(listed.code, 0, listed.stderr);
    // The `kubernetes` Service is there from the start, as in every cluster.
    const stored = listed.stdout.split('\n').filter((line) => line !== '' && line !== 'service/kubernetes');
    assert.deepEqual(stored, [], 'a dry run stores nothing');
  });

  for (const c of BAD) {
    it(`refuses ${c.name}`, async () => {
      const result = await kubectl(['apply', '--dry-run=server', '-n', 'default', '-f', '-'], c.manifest);
      assert.notEqual(result.code, 0, result.stdout);
      assert.match(result.stderr, c.error);
    });
  }

  it('only warns about unknown fields under --validate=warn, and drops them', async () => {
    const manifest = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: warned}\ndata: {a: b}\nextra: 1\n';
    const result = await kubectl(['apply', '--validate=warn', '-n', 'default', '-f', '-'], manifest);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Warning: unknown field "extra"/);
    const stored = await kubectl(['get', 'configmap', 'warned', '-n', 'default', '-o', 'json']);
    assert.equal((JSON.parse(stored.stdout) as Record<string, unknown>).extra, undefined);
  });

  it('stores a Deployment and answers it with kubectl get and rollout-free describe', async () => {
    const created = await kubectl(['apply', '-n', 'default', '-f', '-'], DEPLOYMENT);
    assert.equal(created.code, 0, created.stderr);
    const replicas = await kubectl(['get', 'deployment', 'web', '-n', 'default', '-o', 'jsonpath={.spec.replicas}']);
    assert.equal(replicas.stdout, '2');
    assert.equal((await kubectl(['delete', 'deployment', 'web', '-n', 'default'])).code, 0);
  });
});
