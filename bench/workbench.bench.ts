// The cluster-workbench timings, in one run against one dev cluster behind kas + agentk:
// tree expansion of 5,000 pods (from the cache), Open as YAML (get through kas + YAML text),
// an apply round trip (server-side dry-run plan, then server-side apply), terminal keystroke
// echo through kas (exec, a shell on a TTY), and port-forward throughput through kas against
// `kubectl port-forward` straight to the dev cluster. The load average is printed with them.
import { promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { loadavg } from 'node:os';
import path from 'node:path';
import type { Agentk } from '../agent/agentk';
import { createCertificateAuthority } from '../agent/internal/tls';
import { applyPlan, parseObjects, planApply } from '../extension/src/documents/apply_plan';
import { objectYaml } from '../extension/src/documents/describe';
import { ResourceApi } from '../extension/src/documents/resource_api';
import type { ClusterParts } from '../extension/src/kas_client/kube_client';
import { ExecSession } from '../extension/src/streams/exec_session';
import { PortForward } from '../extension/src/streams/port_forward';
import { AGENT_ID, USER_TOKEN, startAgentk, startKas, waitForIdleTunnels, type Kas } from '../test/modules/reverse_tunnel/harness';
import { startTestCluster, type TestCluster } from '../test/support/devcluster';
import { runKubectl, spawnKubectl, stopAllKubectl } from '../test/support/kubectl';
import { expand, filledFeed, makePods } from './extension.bench';
import { formatMs, median, timeRuns } from './stats';

const RUNS = 20;
const ECHO_RUNS = 50;
const TRANSFER_BYTES = 50_000_000;
const TRANSFER_RUNS = 3;

const DEPLOYMENT = (replicas: number) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: bench, namespace: default}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: bench}}
  template:
    metadata: {labels: {app: bench}}
    spec:
      containers:
      - {name: web, image: nginx, ports: [{containerPort: 8080}]}
`;

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

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * The body's length, counted as it streams: the client shares the process (and its core) with
 * the dev cluster, kas and agentk, and collecting 50 MB into one buffer would cost as much as a hop.
 */
function getLength(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let length = 0;
        res.on('data', (chunk: Buffer) => (length += chunk.length));
        res.once('end', () => resolve(length));
        res.once('error', reject);
      })
      .once('error', reject);
  });
}

/** MB/s of GET /bytes/<n> through a local forwarded port, median of TRANSFER_RUNS. */
async function throughput(port: number): Promise<number> {
  const rates: number[] = [];
  for (let i = 0; i < TRANSFER_RUNS; i++) {
    const started = performance.now();
    const length = await getLength(`http://127.0.0.1:${port}/bytes/${TRANSFER_BYTES}`);
    if (length !== TRANSFER_BYTES) throw new Error(`short transfer: ${length}`);
    rates.push(TRANSFER_BYTES / 1e6 / ((performance.now() - started) / 1000));
  }
  return median(rates);
}

export default async function run(): Promise<string> {
  const loadBefore = loadavg();
  const now = Date.now();
  const feed = filledFeed(makePods(5000));
  const node = { kind: 'namespace', connectionId: 'c', agentId: '1', namespace: 'bench' } as const;
  const treeMs = median(await timeRuns(() => expand(feed, node, now), RUNS));

  let cluster: TestCluster | undefined;
  let kas: Kas | undefined;
  let agentk: Agentk | undefined;
  let forward: PortForward | undefined;
  try {
    cluster = await startTestCluster();
    const ca = createCertificateAuthority();
    const caFile = path.join(cluster.dir, 'kas-ca.pem');
    await fs.writeFile(caFile, ca.certPem);
    kas = await startKas({ tlsCa: ca });
    agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: cluster.kubeconfig, caFile });
    await waitForIdleTunnels(kas.registry);
    const parts: ClusterParts = { server: kas.proxyUrl, token: `pat:${AGENT_ID}:${USER_TOKEN}`, caPem: ca.certPem };
    const api = new ResourceApi(parts);

    await applyPlan(api, await planApply(api, parseObjects(DEPLOYMENT(1), 'default')));
    const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: 'bench' };
    const yamlMs = median(await timeRuns(async () => objectYaml(await api.get(ref)), RUNS, 3));
    let replicas = 1;
    const applyMs = median(
      await timeRuns(
        async () => {
          replicas = (replicas % 3) + 1;
          const plan = await planApply(api, parseObjects(DEPLOYMENT(replicas), 'default'));
          await applyPlan(api, plan);
        },
        RUNS,
        3,
      ),
    );
    const kubectl = (args: string[]) => runKubectl(args, { kubeconfig: cluster!.kubeconfig });
    await kubectl(['scale', 'deploy/bench', '--replicas=1']);
    await until('the bench pod to run', async () => {
      const out = await kubectl(['get', 'pods', '-l', 'app=bench', '--field-selector=status.phase=Running', '-o', 'name']);
      return out.stdout.trim().split('\n').filter(Boolean).length === 1;
    });
    const pod = (await kubectl(['get', 'pods', '-l', 'app=bench', '-o', 'jsonpath={.items[0].metadata.name}'])).stdout.trim();

    let output = '';
    // The echo is timed when it arrives, not by polling (a 25 ms poll would be all the figure showed).
    let echoed: (() => void) | undefined;
    const session = await ExecSession.open(
      parts,
      { namespace: 'default', pod, command: ['sh'], tty: true },
      {
        output: (data) => {
          output += data.toString();
          echoed?.();
        },
        exit: () => undefined,
      },
    );
    await until('the prompt', () => output.length > 0);
    const echoes: number[] = [];
    for (let i = 0; i < ECHO_RUNS; i++) {
      const echo = new Promise<void>((resolve) => (echoed = resolve));
      const typed = performance.now();
      session.write('x');
      await Promise.race([echo, until('the echo', () => false, 5000)]);
      echoes.push(performance.now() - typed);
    }
    session.close();

    forward = new PortForward(async () => parts, { namespace: 'default', pod, remotePort: 8080, localPort: 0 });
    const kasRate = await throughput(await forward.start());
    const directPort = await freePort();
    const direct = spawnKubectl(['port-forward', `pod/${pod}`, `${directPort}:8080`], { kubeconfig: cluster.kubeconfig });
    await direct.waitForLine(/Forwarding from 127\.0\.0\.1/);
    const directRate = await throughput(directPort);
    const loadAfter = loadavg();

    const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' / ');
    return [
      '## Cluster workbench (issue 15: tree, YAML, apply, terminal, port-forward)',
      '',
      `\`npx tsx bench/workbench.bench.ts\`, one run, one dev cluster behind kas + agentk on loopback (TLS). Load average (1/5/15 min): ${load(loadBefore)} before, ${load(loadAfter)} after.`,
      '',
      '| what | median | runs |',
      '| --- | --- | --- |',
      `| tree expansion, a namespace of 5,000 pods (children + presentations, from the cache) | ${formatMs(treeMs)} | ${RUNS} |`,
      `| Open as YAML (GET through kas + YAML text) | ${formatMs(yamlMs)} | ${RUNS} |`,
      `| apply round trip (server-side dry-run plan, then server-side apply, through kas) | ${formatMs(applyMs)} | ${RUNS} |`,
      `| terminal keystroke echo (exec, sh on a TTY, through kas) | ${formatMs(median(echoes))} | ${ECHO_RUNS} |`,
      `| port-forward through kas (extension, WebSocket v4), GET of ${TRANSFER_BYTES / 1e6} MB | ${kasRate.toFixed(1)} MB/s | ${TRANSFER_RUNS} |`,
      `| \`kubectl port-forward\` straight to the dev cluster, same GET | ${directRate.toFixed(1)} MB/s | ${TRANSFER_RUNS} |`,
      '',
      `Port-forward through kas runs at ${((kasRate / directRate) * 100).toFixed(0)}% of kubectl's direct rate.`,
    ].join('\n');
  } finally {
    await forward?.stop();
    await stopAllKubectl();
    await agentk?.stop();
    await kas?.stop();
    await cluster?.stop();
  }
}

if (require.main === module) {
  run().then(
    (section) => process.stdout.write(`${section}\n`),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
