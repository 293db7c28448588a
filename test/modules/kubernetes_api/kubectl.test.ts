// Real kubectl through kas and agentk to the embedded dev cluster: kubectl → kas k8s proxy
// (HTTPS, Bearer pat:<agent-id>:<token>) → reverse tunnel (grpcs://) → agentk → dev cluster.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { stringify } from 'yaml';
import type { TestCluster } from '../../support/devcluster';
import { startClusterBehindKas, type ClusterBehindKas } from '../../support/cluster_behind_kas';
import { runKubectl, spawnKubectl, stopAllKubectl } from '../../support/kubectl';
import { AGENT_ID, USER_TOKEN } from '../reverse_tunnel/harness';

function kubeconfigThroughKas(proxyUrl: string, caPem: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kas', cluster: { server: proxyUrl, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'user', user: { token: `pat:${AGENT_ID}:${token}` } }],
    contexts: [{ name: 'kas', context: { cluster: 'kas', user: 'user', namespace: 'default' } }],
    'current-context': 'kas',
  });
}

async function kubectlMinorVersion(kubeconfig: string): Promise<number> {
  const result = await runKubectl(['version', '--client', '-o', 'json'], { kubeconfig });
  return Number.parseInt((JSON.parse(result.stdout) as { clientVersion?: { minor?: string } }).clientVersion?.minor ?? '0', 10);
}

describe('tunnel: real kubectl through kas and agentk to the dev cluster', function () {
  this.timeout(90_000);
  let stack: ClusterBehindKas;
  let cluster: TestCluster;
  let kubeconfig: string;
  const kubectl = async (args: string[], input?: string) => {
    const result = await runKubectl(args, { kubeconfig, input });
    assert.equal(result.code, 0, `kubectl ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  };

  before(async () => {
    stack = await startClusterBehindKas();
    cluster = stack.cluster;
    kubeconfig = path.join(cluster.dir, 'kubeconfig-through-kas');
    await fs.writeFile(kubeconfig, kubeconfigThroughKas(stack.kas.proxyUrl, stack.caPem, USER_TOKEN), { mode: 0o600 });
  });
  afterEach(() => stopAllKubectl());
  after(async () => {
    await stopAllKubectl();
    await stack?.stop();
  });

  it('kubectl get namespaces and get pods -A', async () => {
    assert.match(await kubectl(['get', 'namespaces', '-o', 'name']), /namespace\/default/);
    const pods = await runKubectl(['get', 'pods', '-A'], { kubeconfig });
    assert.equal(pods.code, 0, pods.stderr);
  });

  it('kubectl apply and delete a config map', async () => {
    const manifest = stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'through-tunnel', namespace: 'default' },
      data: { color: 'blue' },
    });
    assert.match(await kubectl(['apply', '-f', '-'], manifest), /configmap\/through-tunnel (created|configured)/);
    assert.equal(await kubectl(['get', 'configmap', 'through-tunnel', '-o', 'jsonpath={.data.color}']), 'blue');
    assert.match(await kubectl(['delete', 'configmap', 'through-tunnel']), /deleted/);
  });

  it('kubectl apply --server-side, diff --server-side and a conflict with another field manager, through kas', async () => {
    const configMap = (color: string) =>
      stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'applied-through-tunnel', namespace: 'default' },
        data: { color },
      });
    assert.match(
      await kubectl(['apply', '--server-side', '-f', '-'], configMap('blue')),
      /configmap\/applied-through-tunnel serverside-applied/,
    );
    const diff = await runKubectl(['diff', '--server-side', '-f', '-'], { kubeconfig, input: configMap('green') });
    assert.equal(diff.code, 1, `kubectl diff exits 1 when there are differences: ${diff.stderr}`);
    assert.match(diff.stdout, /^-\s+color: blue$/m);
    assert.match(diff.stdout, /^\+\s+color: green$/m);
    await kubectl(['patch', 'configmap', 'applied-through-tunnel', '-p', '{"data":{"color":"red"}}', '--field-manager', 'painter']);
    const refused = await runKubectl(['apply', '--server-side', '-f', '-'], { kubeconfig, input: configMap('green') });
    assert.notEqual(refused.code, 0, 'a field another manager owns conflicts');
    assert.match(refused.stderr, /conflict/i);
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], configMap('green'));
    assert.equal(await kubectl(['get', 'configmap', 'applied-through-tunnel', '-o', 'jsonpath={.data.color}']), 'green');
    await kubectl(['delete', 'configmap', 'applied-through-tunnel']);
  });

  it('kubectl get -w stays open past 30 s of silence and still receives events', async function () {
    this.timeout(120_000);
    const watch = spawnKubectl(['get', 'configmaps', '-w', '--output-watch-events', '-o', 'name'], { kubeconfig });
    await new Promise((resolve) => setTimeout(resolve, 31_000));
    assert.equal(watch.hasExited, false, `the watch ended early: ${watch.stderr}`);
    await kubectl(['create', 'configmap', 'late-arrival', '--from-literal=a=b']);
    await watch.waitForLine(/late-arrival/);
    await kubectl(['delete', 'configmap', 'late-arrival']);
  });

  it('kubectl logs -f receives lines as they are written', async () => {
    const pod = stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'ticker', namespace: 'default' },
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'main',
            image: 'busybox',
            env: [
              { name: 'SIM_LINES', value: '6' },
              { name: 'SIM_LINE_INTERVAL_MS', value: '400' },
              { name: 'SIM_MESSAGE', value: 'tick {n}' },
            ],
          },
        ],
      },
    });
    await kubectl(['apply', '-f', '-'], pod);
    await kubectl(['wait', '--for=jsonpath={.status.phase}=Running', 'pod/ticker', '--timeout=20s']);
    const follower = spawnKubectl(['logs', '-f', 'ticker'], { kubeconfig });
    await follower.waitForLine(/^tick 2$/);
    assert.equal(follower.hasExited, false, 'the second line arrived while the pod still runs');
    await follower.waitForExit(20_000);
    assert.deepEqual(
      follower.lines.filter((line) => line.startsWith('tick')),
      ['tick 1', 'tick 2', 'tick 3', 'tick 4', 'tick 5', 'tick 6'],
    );
  });

  it('kubectl exec runs a command through the tunnel (WebSocket upgrade)', async function () {
    if ((await kubectlMinorVersion(kubeconfig)) < 30) this.skip(); // older kubectl execs over SPDY only, which the dev cluster does not serve
    const pod = stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'shell', namespace: 'default' },
      spec: { containers: [{ name: 'main', image: 'busybox' }] },
    });
    await kubectl(['apply', '-f', '-'], pod);
    await kubectl(['wait', '--for=jsonpath={.status.phase}=Running', 'pod/shell', '--timeout=20s']);
    assert.equal(await kubectl(['exec', 'shell', '--', 'sh', '-c', 'echo through the tunnel']), 'through the tunnel\n');
    const piped = await runKubectl(['exec', '-i', 'shell', '--', 'cat'], { kubeconfig, input: 'stdin crosses too\n' });
    assert.equal(piped.stdout, 'stdin crosses too\n', piped.stderr);
  });

  it('kubectl with a wrong token is refused by kas (401)', async () => {
    const wrong = path.join(cluster.dir, 'kubeconfig-wrong-token');
    const text = await fs.readFile(kubeconfig, 'utf8');
    await fs.writeFile(wrong, text.replace(`pat:${AGENT_ID}:${USER_TOKEN}`, `pat:${AGENT_ID}:not-the-token`), { mode: 0o600 });
    const result = await runKubectl(['get', 'pods'], { kubeconfig: wrong });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /Unauthorized|must be logged in/);
  });
});
