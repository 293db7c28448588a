// kubectl 1.32 against the dev cluster directly and through kas + agentk: workloads (create
// deployment, scale, rollout status, get all, get nodes/svc), port-forward (SPDY tunneled over
// WebSocket, and the SPDY fallback) followed by HTTP GETs to the local port, exec with stdin;
// and @kubernetes/client-node's PortForward (the v4 WebSocket channel protocol).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { stringify } from 'yaml';
import type { Agentk } from '../../../agent/agentk';
import { createCertificateAuthority } from '../../../agent/internal/tls';
import { startTestCluster, type TestCluster } from '../../support/devcluster';
import { runKubectl, spawnKubectl, stopAllKubectl } from '../../support/kubectl';
import { AGENT_ID, USER_TOKEN, startAgentk, startKas, waitForIdleTunnels, type Kas } from '../../modules/reverse_tunnel/harness';

type ClientNode = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function httpGet(port: number, pathname: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${pathname}`);
  return { status: response.status, body: await response.text() };
}

const WEB_DEPLOYMENT = ['create', 'deployment', 'web', '--image=nginx', '--replicas=2', '--port=8080'];

function suite(name: string, kubeconfigOf: () => string, extraEnv: Record<string, string> = {}) {
  describe(name, function () {
    this.timeout(90_000);
    const kubectl = async (args: string[], input?: string) => {
      const result = await runKubectl(args, { kubeconfig: kubeconfigOf(), input });
      assert.equal(result.code, 0, `kubectl ${args.join(' ')}: ${result.stderr}`);
      return result.stdout;
    };
    afterEach(() => stopAllKubectl());

    it('create deployment, scale, rollout status, get all, get nodes, get svc', async () => {
      await kubectl(WEB_DEPLOYMENT);
      assert.match(await kubectl(['rollout', 'status', 'deploy/web', '--timeout=40s']), /successfully rolled out/);
      await kubectl(['scale', 'deploy/web', '--replicas=3']);
      assert.match(await kubectl(['rollout', 'status', 'deploy/web', '--timeout=40s']), /successfully rolled out/);
      await kubectl(['expose', 'deploy/web', '--port=80', '--target-port=8080']);
      const all = await kubectl(['get', 'all']);
      assert.match(all, /^deployment\.apps\/web\s+3\/3\s+3\s+3\s/m);
      assert.match(all, /^replicaset\.apps\/web-\w+\s+3\s+3\s+3\s/m);
      assert.match(all, /^service\/web\s+ClusterIP\s+10\.96\./m);
      assert.equal((all.match(/^pod\/web-\w+-\w+\s+1\/1\s+Running/gm) ?? []).length, 3);
      assert.match(await kubectl(['get', 'nodes']), /^devcluster-node\s+Ready/m);
    });

    it('kubectl port-forward to a deployment, then HTTP GETs to the local port (several connections)', async () => {
      const port = await freePort();
      const forward = spawnKubectl(['port-forward', 'deploy/web', `${port}:8080`], { kubeconfig: kubeconfigOf(), env: extraEnv });
      await forward.waitForLine(new RegExp(`Forwarding from 127\\.0\\.0\\.1:${port} -> 8080`));
      for (const pathname of ['/one', '/two', '/three']) {
        const answer = await httpGet(port, pathname);
        assert.equal(answer.status, 200);
        assert.match(answer.body, new RegExp(`^web-\\w+-\\w+ nginx:8080 GET ${pathname}\\n$`));
      }
      const big = await fetch(`http://127.0.0.1:${port}/bytes/5000000`);
      assert.equal((await big.arrayBuffer()).byteLength, 5_000_000);
    });

    it('kubectl port-forward to a port no container declares reports the refusal on stderr', async () => {
      const port = await freePort();
      const forward = spawnKubectl(['port-forward', 'deploy/web', `${port}:9999`], { kubeconfig: kubeconfigOf(), env: extraEnv });
      await forward.waitForLine(/Forwarding from 127\.0\.0\.1/);
      await assert.rejects(httpGet(port, '/'));
      await waitFor(() => /no running container of pod \S+ listens on port 9999/.test(forward.stderr), 'the refusal on stderr');
    });

    it('kubectl exec -i with stdin: cat echoes it, and sh runs the typed commands', async () => {
      const pod = (await kubectl(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
      assert.equal(await kubectl(['exec', '-i', pod, '--', 'cat'], 'typed through stdin\n'), 'typed through stdin\n');
      const shell = await kubectl(['exec', '-i', pod, '--', 'sh'], 'echo hello-$(hostname)\nexit 0\n');
      assert.match(shell, new RegExp(`hello-${pod}`));
    });
  });
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('devcluster port-forward, exec and workloads with kubectl 1.32, directly and through kas', function () {
  this.timeout(90_000);
  let direct: TestCluster;
  let behindKas: TestCluster;
  let kas: Kas;
  let agentk: Agentk;
  let kasKubeconfig = '';

  before(async () => {
    direct = await startTestCluster();
    behindKas = await startTestCluster();
    const ca = createCertificateAuthority();
    const caFile = path.join(behindKas.dir, 'kas-ca.pem');
    await fs.writeFile(caFile, ca.certPem);
    kas = await startKas({ tlsCa: ca });
    agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: behindKas.kubeconfig, caFile });
    await waitForIdleTunnels(kas.registry);
    kasKubeconfig = path.join(behindKas.dir, 'kubeconfig-through-kas');
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'kas', cluster: { server: kas.proxyUrl, 'certificate-authority-data': Buffer.from(ca.certPem).toString('base64') } },
      ],
      users: [{ name: 'user', user: { token: `pat:${AGENT_ID}:${USER_TOKEN}` } }],
      contexts: [{ name: 'kas', context: { cluster: 'kas', user: 'user', namespace: 'default' } }],
      'current-context': 'kas',
    };
    await fs.writeFile(kasKubeconfig, stringify(config), { mode: 0o600 });
  });
  after(async () => {
    await stopAllKubectl();
    await agentk?.stop();
    await kas?.stop();
    await behindKas?.stop();
    await direct?.stop();
  });

  suite('directly to the dev cluster', () => direct.kubeconfig);
  suite('through kas and agentk', () => kasKubeconfig);

  describe('the SPDY fallback (kubectl with KUBECTL_PORT_FORWARD_WEBSOCKETS=false)', function () {
    it('forwards through kas too', async () => {
      const port = await freePort();
      const forward = spawnKubectl(['port-forward', 'deploy/web', `${port}:8080`], {
        kubeconfig: kasKubeconfig,
        env: { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' },
      });
      await forward.waitForLine(/Forwarding from 127\.0\.0\.1/);
      assert.match((await httpGet(port, '/spdy')).body, /nginx:8080 GET \/spdy/);
      await stopAllKubectl();
    });
  });

  describe('@kubernetes/client-node PortForward (v4.channel.k8s.io) through kas', function () {
    it('sends a request and reads the HTTP answer', async () => {
      const k8s: ClientNode = await import('@kubernetes/client-node');
      const config = new k8s.KubeConfig();
      config.loadFromFile(kasKubeconfig);
      const core = config.makeApiClient(k8s.CoreV1Api);
      const pods = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' });
      const podName = pods.items[0]!.metadata!.name!;
      const output = new PassThrough();
      const input = new PassThrough();
      let received = '';
      output.on('data', (chunk: Buffer) => (received += chunk.toString()));
      const ws = (await new k8s.PortForward(config).portForward('default', podName, [8080], output, null, input)) as { close(): void };
      input.write('GET /client-node HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await waitFor(() => received.includes('GET /client-node'), 'the HTTP answer');
      assert.match(received, /^HTTP\/1\.1 200 OK/);
      ws.close();
    });
  });
});
