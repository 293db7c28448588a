// The extension's streams through kas + agentk to the dev cluster, without VS Code: port-forward
// (a local port, HTTP GETs through it, stop), exec (a shell with a TTY: typed commands, their
// output, the exit code) and attach with stdin; and the pod health the tree's icons show, from real simulated pods.
import { strict as assert } from 'node:assert';
import type { ClusterParts, Pod } from '../../extension/src/kas_client/kube_client';
import { ExecSession } from '../../extension/src/streams/exec_session';
import { PortForward } from '../../extension/src/streams/port_forward';
import { podHealth } from '../../extension/src/trees/pod_health';
import type { TestCluster } from '../support/devcluster';
import { startClusterBehindKas, type ClusterBehindKas } from '../support/cluster_behind_kas';
import { adminClient, createObjects, simulatedPod, waitFor } from './helpers';

describe('extension streams through kas (port-forward, exec) and pod health', function () {
  this.timeout(60_000);
  let stack: ClusterBehindKas;
  let cluster: TestCluster;
  let parts: ClusterParts;
  const forwards: PortForward[] = [];

  before(async () => {
    stack = await startClusterBehindKas();
    cluster = stack.cluster;
    parts = { server: stack.kas.proxyUrl, token: stack.userToken, caPem: stack.caPem };
    const web = simulatedPod('web', {}, { app: 'web' });
    (web.spec as { containers: Array<Record<string, unknown>> }).containers[0]!.ports = [{ containerPort: 8080 }];
    await createObjects(cluster.cluster, 'default', { pods: [web] });
    const client = await adminClient(cluster.cluster);
    await waitFor('web to run', async () => (await client.readPod('default', 'web')).status?.phase === 'Running');
  });
  after(async () => {
    for (const forward of forwards) await forward.stop();
    await stack?.stop();
  });

  it('port-forwards a local port to the pod through kas; HTTP GETs answer; stop frees the port', async () => {
    const forward = new PortForward(async () => parts, { namespace: 'default', pod: 'web', remotePort: 8080, localPort: 0 });
    forwards.push(forward);
    const port = await forward.start();
    for (const name of ['/a', '/b']) {
      const response = await fetch(`http://127.0.0.1:${port}${name}`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), `web main:8080 GET ${name}\n`);
    }
    const started = Date.now();
    const big = await fetch(`http://127.0.0.1:${port}/bytes/20000000`);
    assert.equal((await big.arrayBuffer()).byteLength, 20_000_000);
    const seconds = (Date.now() - started) / 1000;
    console.log(`      port-forward through kas: ${(20 / seconds).toFixed(1)} MB/s`);
    assert.ok(forward.state.totalConnections >= 1);
    await forward.stop();
    await assert.rejects(fetch(`http://127.0.0.1:${port}/after-stop`));
  });

  it('port-forwards an upload of 20 MB whole, through the back-pressure on both sides', async () => {
    const forward = new PortForward(async () => parts, { namespace: 'default', pod: 'web', remotePort: 8080, localPort: 0 });
    forwards.push(forward);
    const port = await forward.start();
    const response = await fetch(`http://127.0.0.1:${port}/count`, { method: 'POST', body: Buffer.alloc(20_000_000, 'u') });
    assert.equal(await response.text(), '20000000\n');
    await forward.stop();
  });

  it('reports a port no container declares as the forward’s last error', async () => {
    const forward = new PortForward(async () => parts, { namespace: 'default', pod: 'web', remotePort: 9, localPort: 0 });
    forwards.push(forward);
    const port = await forward.start();
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
    await waitFor('the error', () => forward.state.lastError?.includes('listens on port 9'));
  });

  it('runs a shell with a TTY: typed commands echo and answer, exit gives the code', async () => {
    let output = '';
    let exit: number | undefined | null = null;
    const session = await ExecSession.open(
      parts,
      { namespace: 'default', pod: 'web', command: ['sh'], tty: true },
      { output: (data) => (output += data.toString()), exit: (code) => (exit = code) },
    );
    assert.equal(session.protocol, 'v5.channel.k8s.io');
    session.resize(120, 40);
    const typedAt = Date.now();
    session.write('x');
    await waitFor('the keystroke echo', () => output.includes('x'));
    console.log(`      keystroke echo through kas: ${Date.now() - typedAt} ms`);
    session.write('\recho typed-$(hostname)\r');
    await waitFor('the command output', () => /typed-web/.test(output));
    session.write('exit 3\r');
    await waitFor('the exit', () => exit !== null);
    assert.equal(exit, 3);
  });

  it('attaches to a container with stdin: typed lines reach its process, whose output comes back; ending stdin ends it', async () => {
    const reader = simulatedPod('reader');
    Object.assign((reader.spec as { containers: Array<Record<string, unknown>> }).containers[0]!, {
      command: ['cat'],
      stdin: true,
      stdinOnce: true,
    });
    (reader.spec as Record<string, unknown>).restartPolicy = 'Never';
    await createObjects(cluster.cluster, 'default', { pods: [reader] });
    const client = await adminClient(cluster.cluster);
    await waitFor('reader to run', async () => (await client.readPod('default', 'reader')).status?.phase === 'Running');
    let output = '';
    let exit: number | undefined | null = null;
    const session = await ExecSession.open(
      parts,
      { namespace: 'default', pod: 'reader', command: [], tty: false, attach: true },
      { output: (data) => (output += data.toString()), exit: (code) => (exit = code) },
    );
    session.write('hello through kas\n');
    await waitFor('the line back from cat', () => output.includes('hello through kas\n'));
    session.endInput();
    await waitFor('the end of the attach', () => exit !== null);
    assert.equal(exit, 0);
    await waitFor('reader to complete', async () => (await client.readPod('default', 'reader')).status?.phase === 'Succeeded');
  });

  it('tells ready, not-ready, pending, crash-looping, completed and terminating pods apart', async () => {
    await createObjects(cluster.cluster, 'health', {
      namespace: true,
      pods: [
        simulatedPod('ready', { SIM_DURATION_SECONDS: 'forever' }),
        simulatedPod('pending', { SIM_START_DELAY_MS: '600000' }),
        simulatedPod('crashing', { SIM_EXIT_CODE: '1' }),
        {
          ...simulatedPod('done', { SIM_LINES: '1' }),
          spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'sim', env: [{ name: 'SIM_LINES', value: '1' }] }] },
        },
      ],
    });
    const client = await adminClient(cluster.cluster);
    const healthOf = async (name: string) => podHealth(await client.readPod('health', name));
    await waitFor('ready', async () => (await healthOf('ready')) === 'ready');
    assert.equal(await healthOf('pending'), 'pending');
    await waitFor('completed', async () => (await healthOf('done')) === 'completed');
    await waitFor('crash loop', async () => (await healthOf('crashing')) === 'failing');
    const crashing = await client.readPod('health', 'crashing');
    assert.equal(crashing.status?.phase, 'Running', 'a crash-looping pod is Running by phase, yet shown as failing');
    const ready = await client.readPod('health', 'ready');
    const terminating: Pod = { ...ready, metadata: { ...ready.metadata, deletionTimestamp: new Date() } };
    assert.equal(podHealth(terminating), 'terminating');
    const notReady: Pod = { ...ready, status: { ...ready.status, conditions: [{ type: 'Ready', status: 'False' }] } };
    assert.equal(podHealth(notReady), 'notReady');
  });
});
