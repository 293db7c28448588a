// The kustomize bases: deploy/agentk/ is what install_manifest.ts generates (never edited by
// hand), deploy/kas/ is kas with Redis, a Service per listener and a PodDisruptionBudget. Both
// build with kubectl's built-in kustomize and their output passes `kubectl apply
// --dry-run=server` against the dev cluster, as do the overlays README.md tells users to write.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { parseKasConfig } from '../../agent/kascfg/kascfg';
import { kustomizeBaseFiles, PLACEHOLDER_KAS_ADDRESS } from '../../agent/modules/agent_registry/install_manifest';
import { runKubectl } from '../support/kubectl';
import { startTestCluster, type TestCluster } from '../support/devcluster';
import { makeTempDir } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const AGENTK_BASE = path.join(ROOT, 'deploy', 'agentk');
const KAS_BASE = path.join(ROOT, 'deploy', 'kas');

type Obj = { kind: string; metadata: { name: string; namespace?: string }; [key: string]: unknown };

function objectsOf(yaml: string): Obj[] {
  return parseAllDocuments(yaml)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

describe('kustomize bases deploy/agentk and deploy/kas', function () {
  this.timeout(120_000);
  let t: TestCluster;
  let temp: ReturnType<typeof makeTempDir>;
  const kubectl = (args: string[], input?: string) => runKubectl(args, { kubeconfig: t.kubeconfig, input });

  async function build(dir: string): Promise<string> {
    const result = await kubectl(['kustomize', dir]);
    assert.equal(result.code, 0, `kubectl kustomize ${dir} failed:\n${result.stderr}`);
    return result.stdout;
  }

  async function dryRun(yaml: string): Promise<void> {
    const result = await kubectl(['apply', '--dry-run=server', '-f', '-'], yaml);
    assert.equal(result.code, 0, `kubectl apply --dry-run=server failed:\n${result.stderr}`);
  }

  before(async () => {
    t = await startTestCluster();
    temp = makeTempDir('deploy-');
    for (const ns of ['gitlab-agent', 'gitlab-kas']) assert.equal((await kubectl(['create', 'namespace', ns])).code, 0);
  });
  after(async () => {
    await t?.stop();
    temp?.remove();
  });

  it('deploy/agentk is exactly what install_manifest.ts generates', () => {
    for (const [name, content] of Object.entries(kustomizeBaseFiles())) {
      assert.equal(
        readFileSync(path.join(AGENTK_BASE, name), 'utf8'),
        content,
        `deploy/agentk/${name} is stale: run npx tsx agent/devtools/generate_deploy_agentk.ts`,
      );
    }
  });

  it('deploy/agentk builds and passes a server dry run', async () => {
    const yaml = await build(AGENTK_BASE);
    const kinds = objectsOf(yaml).map((o) => o.kind);
    for (const kind of ['Namespace', 'ServiceAccount', 'Secret', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Deployment'])
      assert.ok(kinds.includes(kind), kind);
    await dryRun(yaml);
  });

  it("an overlay with the real token and kas address (README's example) builds and passes", async () => {
    const overlay = path.join(temp.dir, 'agentk-overlay');
    mkdirSync(overlay, { recursive: true });
    writeFileSync(path.join(overlay, 'token'), 'kat_real-token');
    writeFileSync(
      path.join(overlay, 'kustomization.yaml'),
      stringify({
        resources: [path.relative(overlay, AGENTK_BASE)],
        secretGenerator: [
          {
            name: 'gitlab-agent-main-token',
            namespace: 'gitlab-agent',
            behavior: 'replace',
            files: ['token'],
            options: { disableNameSuffixHash: true },
          },
        ],
        images: [{ name: 'agentk', newName: 'registry.example.com/agentk', newTag: '0.1.0' }],
        patches: [
          {
            target: { kind: 'Deployment', name: 'gitlab-agent-main' },
            patch: stringify([
              { op: 'replace', path: '/spec/template/spec/containers/0/args/0', value: '--kas-address=wss://kas.corp.example/' },
            ]),
          },
        ],
      }),
    );
    const yaml = await build(overlay);
    const objects = objectsOf(yaml);
    const secret = objects.find((o) => o.kind === 'Secret') as unknown as { data: { token: string } };
    assert.equal(Buffer.from(secret.data.token, 'base64').toString(), 'kat_real-token');
    const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { containers: Array<{ args: string[]; image: string }> } } };
    };
    const container = deployment.spec.template.spec.containers[0]!;
    assert.equal(container.args[0], '--kas-address=wss://kas.corp.example/');
    assert.ok(!yaml.includes(PLACEHOLDER_KAS_ADDRESS));
    assert.equal(container.image, 'registry.example.com/agentk:0.1.0');
    await dryRun(yaml);
  });

  it('deploy/kas builds: N replicas, a Service per listener, Redis, a PodDisruptionBudget; it passes a server dry run', async () => {
    const yaml = await build(KAS_BASE);
    const objects = objectsOf(yaml);
    const kas = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'kas') as unknown as {
      spec: { replicas: number; template: { spec: { containers: Array<{ ports: Array<{ containerPort: number }> }> } } };
    };
    assert.equal(kas.spec.replicas, 3);
    const services = objects.filter((o) => o.kind === 'Service').map((o) => o.metadata.name);
    assert.deepEqual(services.sort(), ['kas-agent', 'kas-api', 'kas-k8s-proxy', 'kas-observability', 'kas-private-api', 'redis']);
    assert.deepEqual(
      kas.spec.template.spec.containers[0]!.ports.map((p) => p.containerPort),
      [8150, 8151, 8153, 8154, 8155],
    );
    assert.ok(objects.some((o) => o.kind === 'PodDisruptionBudget'));
    assert.ok(objects.some((o) => o.kind === 'Deployment' && o.metadata.name === 'redis'));
    assert.ok(objects.every((o) => o.kind === 'Namespace' || o.metadata.namespace === 'gitlab-kas'));
    await dryRun(yaml);
  });

  it("deploy/kas's kascfg is a valid kascfg for several replicas", () => {
    const config = parseKasConfig(readFileSync(path.join(KAS_BASE, 'kascfg.yaml'), 'utf8'), '/etc/kas/kascfg.yaml');
    assert.equal(config.redis?.serverAddress, 'redis:6379');
    assert.equal(config.registry.configRepository, '/var/lib/kas/config/agents.git');
  });

  it('an overlay with an external Redis drops the bundled one and still passes', async () => {
    const overlay = path.join(temp.dir, 'kas-overlay');
    mkdirSync(overlay, { recursive: true });
    const kascfg = readFileSync(path.join(KAS_BASE, 'kascfg.yaml'), 'utf8').replace(
      'address: redis:6379',
      'address: redis.corp.example:6379',
    );
    writeFileSync(path.join(overlay, 'kascfg.yaml'), kascfg);
    writeFileSync(
      path.join(overlay, 'kustomization.yaml'),
      stringify({
        resources: [path.relative(overlay, KAS_BASE)],
        configMapGenerator: [{ name: 'kascfg', behavior: 'replace', files: ['kascfg.yaml'] }],
        patches: [
          {
            target: { kind: 'Deployment', name: 'redis' },
            patch: '$patch: delete\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: redis\n',
          },
          {
            target: { kind: 'Service', name: 'redis' },
            patch: '$patch: delete\napiVersion: v1\nkind: Service\nmetadata:\n  name: redis\n',
          },
        ],
      }),
    );
    const yaml = await build(overlay);
    assert.ok(!objectsOf(yaml).some((o) => o.metadata.name === 'redis'));
    assert.match(yaml, /redis\.corp\.example:6379/);
    await dryRun(yaml);
  });
});
