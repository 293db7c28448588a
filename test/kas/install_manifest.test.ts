// `kas agent install-manifest`: for every option the printed YAML passes `kubectl apply
// --dry-run=server` against the dev cluster (which validates as a real API server does), and
// holds what the options ask for; bad options are usage errors, never a manifest.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { createCertificateAuthority } from '../../agent/internal/tls';
import { runAgentCommand } from '../../agent/kas/install_manifest';
import { AgentIdStore } from '../../agent/modules/agent_registry/agent_ids';
import { AgentTokenStore } from '../../agent/modules/agent_registry/agent_tokens';
import { runKubectl } from '../support/kubectl';
import { startTestCluster, type TestCluster } from '../support/devcluster';
import { TestRepository, makeTempDir } from './helpers';

type Obj = { kind: string; metadata: { name: string; namespace?: string }; [key: string]: unknown };

async function manifestFor(args: string[]): Promise<{ text: string; objects: Obj[]; notes: string[] }> {
  let text = '';
  const notes: string[] = [];
  const code = await runAgentCommand(
    ['install-manifest', ...args],
    (t) => (text += t),
    (line) => notes.push(line),
  );
  assert.equal(code, 0);
  const objects = parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
  return { text, objects, notes };
}

function deploymentOf(objects: Obj[]): {
  spec: { replicas: number; template: { spec: { containers: Array<Record<string, unknown>>; volumes: Array<Record<string, unknown>> } } };
} {
  return objects.find((o) => o.kind === 'Deployment') as unknown as ReturnType<typeof deploymentOf>;
}

describe('kas agent install-manifest', function () {
  this.timeout(120_000);
  let t: TestCluster;
  let temp: ReturnType<typeof makeTempDir>;
  let tokenFile: string;
  let caFile: string;
  let kascfg: string;
  let dataDir: string;
  const kubectl = (args: string[], input?: string) => runKubectl(args, { kubeconfig: t.kubeconfig, input });
  const base = () => ['--agent', 'dev', '--kas-address', 'wss://kas.example.com/-/kubernetes-agent/', '--token-file', tokenFile];

  async function dryRun(text: string): Promise<string> {
    const result = await kubectl(['apply', '--dry-run=server', '-f', '-'], text);
    assert.equal(result.code, 0, `kubectl apply --dry-run=server failed:\n${result.stderr}\n${text}`);
    return result.stdout;
  }

  before(async () => {
    t = await startTestCluster();
    temp = makeTempDir('install-manifest-');
    tokenFile = path.join(temp.dir, 'token');
    writeFileSync(tokenFile, 'kat_example-token-value\n');
    caFile = path.join(temp.dir, 'kas-ca.crt');
    writeFileSync(caFile, createCertificateAuthority('kas-ca').certPem);
    const repo = new TestRepository(temp.dir);
    repo.commit({ '.gitlab/agents/dev/config.yaml': 'user_access:\n  access_as:\n    agent: {}\n' });
    dataDir = path.join(temp.dir, 'data');
    kascfg = path.join(temp.dir, 'kascfg.yaml');
    writeFileSync(kascfg, stringify({ registry: { config_repository: repo.dir, data_dir: dataDir, project_id: 'team/agents' } }));
    // A dry run creates nothing, so the namespaces the objects live in must exist (as on a real cluster).
    for (const ns of ['gitlab-agent', 'agents-prod', 'shop', 'billing']) assert.equal((await kubectl(['create', 'namespace', ns])).code, 0);
  });
  after(async () => {
    await t?.stop();
    temp?.remove();
  });

  it('by default: namespace, service account, token Secret, cluster-admin binding and a hardened Deployment', async () => {
    const { text, objects } = await manifestFor(base());
    assert.deepEqual(
      objects.map((o) => o.kind),
      ['Namespace', 'ServiceAccount', 'Secret', 'Role', 'RoleBinding', 'ClusterRoleBinding', 'Deployment'],
    );
    assert.ok(objects.every((o) => o.kind === 'Namespace' || o.kind === 'ClusterRoleBinding' || o.metadata.namespace === 'gitlab-agent'));
    const secret = objects.find((o) => o.kind === 'Secret') as unknown as { data: { token: string } };
    assert.equal(Buffer.from(secret.data.token, 'base64').toString(), 'kat_example-token-value');
    const crb = objects.find((o) => o.kind === 'ClusterRoleBinding') as unknown as { roleRef: { name: string } };
    assert.equal(crb.roleRef.name, 'cluster-admin');
    const deployment = deploymentOf(objects);
    assert.equal(deployment.spec.replicas, 2);
    const container = deployment.spec.template.spec.containers[0]!;
    assert.deepEqual(container.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    assert.deepEqual((container.livenessProbe as { httpGet: unknown }).httpGet, { path: '/liveness', port: 'observability' });
    assert.deepEqual((container.readinessProbe as { httpGet: unknown }).httpGet, { path: '/readiness', port: 'observability' });
    assert.ok((container.resources as { requests?: unknown }).requests);
    assert.ok(!JSON.stringify(container.env).includes('token'), 'the token is a mounted file, not an env var');
    assert.ok((container.args as string[]).includes('--token-file=/etc/agentk/secrets/token'));
    assert.ok(!text.includes('kat_example-token-value'), 'the token appears only base64-encoded in the Secret');
    const out = await dryRun(text);
    assert.match(out, /deployment\.apps\/gitlab-agent-dev created \(server dry run\)/);
    assert.match(out, /clusterrolebinding\.rbac\.authorization\.k8s\.io\/gitlab-agent-dev-cluster-admin created \(server dry run\)/);
  });

  it('--namespace, --image, --replicas and --ca-file', async () => {
    const { text, objects } = await manifestFor([
      ...base(),
      '--namespace',
      'agents-prod',
      '--image',
      'registry.example.com/platform/agentk:0.1.0',
      '--replicas',
      '3',
      '--ca-file',
      caFile,
    ]);
    const deployment = deploymentOf(objects);
    assert.equal(deployment.spec.replicas, 3);
    const container = deployment.spec.template.spec.containers[0]!;
    assert.equal(container.image, 'registry.example.com/platform/agentk:0.1.0');
    assert.ok((container.args as string[]).includes('--ca-cert-file=/etc/agentk/kas-ca/ca.crt'));
    const ca = objects.find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
    assert.match(ca.data['ca.crt']!, /BEGIN CERTIFICATE/);
    assert.ok(objects.every((o) => o.kind === 'Namespace' || o.kind === 'ClusterRoleBinding' || o.metadata.namespace === 'agents-prod'));
    assert.match(await dryRun(text), /configmap\/gitlab-agent-dev-kas-ca created \(server dry run\)/);
  });

  it('--access namespaced:<ns,...>: a Role and RoleBinding per namespace and no cluster-wide binding', async () => {
    const { text, objects } = await manifestFor([...base(), '--access', 'namespaced:shop,billing']);
    assert.equal(
      objects.some((o) => o.kind === 'ClusterRoleBinding'),
      false,
    );
    for (const ns of ['shop', 'billing']) {
      assert.ok(objects.some((o) => o.kind === 'Role' && o.metadata.namespace === ns));
      assert.ok(objects.some((o) => o.kind === 'RoleBinding' && o.metadata.namespace === ns));
    }
    const out = await dryRun(text);
    assert.match(out, /role\.rbac\.authorization\.k8s\.io\/gitlab-agent-dev created \(server dry run\)/);
  });

  it('--create-token makes a new agent token in the registry and puts it in the Secret', async () => {
    const { text, objects, notes } = await manifestFor([
      '--agent',
      'dev',
      '--kas-address',
      'grpcs://kas.example.com:8150',
      '--create-token',
      '--config',
      kascfg,
    ]);
    assert.match(notes.join('\n'), /Created token .* for agent "dev"/);
    assert.ok(!notes.join('\n').includes('kat_'), 'the note does not carry the token');
    const secret = objects.find((o) => o.kind === 'Secret') as unknown as { data: { token: string } };
    const token = Buffer.from(secret.data.token, 'base64').toString();
    const store = new AgentTokenStore(dataDir, new AgentIdStore(dataDir));
    assert.equal((await store.authenticate(token))?.agentName, 'dev', 'kas accepts the token in the manifest');
    await dryRun(text);
  });

  it('passes a real apply too, and kubectl reads the objects back', async () => {
    const { text } = await manifestFor([...base(), '--replicas', '1']);
    const applied = await kubectl(['apply', '-f', '-'], text);
    assert.equal(applied.code, 0, applied.stderr);
    const got = await kubectl([
      'get',
      'deployment',
      'gitlab-agent-dev',
      '-n',
      'gitlab-agent',
      '-o',
      'jsonpath={.spec.template.spec.serviceAccountName}',
    ]);
    assert.equal(got.stdout, 'gitlab-agent-dev');
    const again = await kubectl(['apply', '-f', '-'], text);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /deployment\.apps\/gitlab-agent-dev unchanged/);
  });

  const refused: Array<[string, string[], RegExp]> = [
    ['a plain-text kas address', ['--agent', 'dev', '--kas-address', 'grpc://kas:8150', '--token-file', 'x'], /grpcs:\/\/ or wss:\/\//],
    ['an invalid agent name', ['--agent', 'Dev_1', '--kas-address', 'wss://kas', '--token-file', 'x'], /DNS label/],
    [
      'an unknown access mode',
      ['--agent', 'dev', '--kas-address', 'wss://kas', '--token-file', 'x', '--access', 'admin'],
      /cluster-admin or namespaced/,
    ],
    [
      'a bad namespace in access',
      ['--agent', 'dev', '--kas-address', 'wss://kas', '--token-file', 'x', '--access', 'namespaced:Shop'],
      /not a namespace/,
    ],
    ['zero replicas', ['--agent', 'dev', '--kas-address', 'wss://kas', '--token-file', 'x', '--replicas', '0'], /--replicas/],
    ['no token', ['--agent', 'dev', '--kas-address', 'wss://kas'], /--token-file <file> or --create-token/],
    [
      'both token sources',
      ['--agent', 'dev', '--kas-address', 'wss://kas', '--token-file', 'x', '--create-token'],
      /either --token-file or --create-token/,
    ],
  ];
  for (const [name, args, message] of refused) {
    it(`refuses ${name} with a usage error`, async () => {
      let printed = '';
      await assert.rejects(
        runAgentCommand(
          ['install-manifest', ...args],
          (text) => (printed += text),
          () => undefined,
        ),
        (err: Error) => err.name === 'UsageError' && message.test(err.message),
      );
      assert.equal(printed, '');
    });
  }

  it('is reached through the built kas command line', () => {
    const root = path.join(__dirname, '..', '..');
    const result = spawnSync(process.execPath, [path.join(root, 'dist', 'kas.js'), 'agent', 'install-manifest', ...base()], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /kind: Deployment/);
    const usage = spawnSync(process.execPath, [path.join(root, 'dist', 'kas.js'), 'agent', 'install-manifest', '--agent', 'dev'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /usage error: missing --kas-address/);
  });
});
