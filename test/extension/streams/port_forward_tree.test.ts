// The Agents view's Port Forwards node, from the model and the presentation the tree shows:
// real forwards through kas and agentk to the dev cluster. It appears with the first forward,
// lists each one with its state, follows a reconnect and a request, and a row's Stop (the
// command's target) takes the forward out and frees its port; a forward whose pod is deleted
// leaves the list by itself, and the node goes with the last forward.
import { strict as assert } from 'node:assert';
import net from 'node:net';
import type { Agentk } from '../../../agent/agentk';
import { argumentOrSelection } from '../../../extension/src/commands/command_target';
import type { ClusterParts } from '../../../extension/src/kas_client/kube_client';
import type { PortForwardState } from '../../../extension/src/streams/port_forward';
import { AgentsModel } from '../../../extension/src/trees/agents_model';
import { present, type AgentsNode, type PortForwardNode } from '../../../extension/src/trees/nodes';
import { AGENT_ID, USER_TOKEN, startAgentk, startKas, waitForIdleTunnels, type Kas } from '../../modules/reverse_tunnel/harness';
import { startTestCluster, type TestCluster } from '../../support/devcluster';
import { adminClient, createObjects, simulatedPod, waitFor } from '../helpers';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

describe('the Port Forwards node of the Agents view', function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let kas: Kas;
  let agentk: Agentk | undefined;
  let parts: ClusterParts;
  let model: AgentsModel;
  let changes = 0;

  const connectAgentk = async () => {
    agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: cluster.kubeconfig });
    await waitForIdleTunnels(kas.registry, 1);
  };
  const servingPod = async (name: string) => {
    const pod = simulatedPod(name);
    (pod.spec as { containers: Array<Record<string, unknown>> }).containers[0]!.ports = [{ containerPort: 8080 }];
    await createObjects(cluster.cluster, 'default', { pods: [pod] });
    const client = await adminClient(cluster.cluster);
    await waitFor(`${name} to run`, async () => (await client.readPod('default', name)).status?.phase === 'Running');
  };
  /** What the tree shows at its top and under Port Forwards: labels, descriptions, contextValues. */
  const shown = () => {
    const top = model.children();
    const group = top.find((node) => node.kind === 'portForwards');
    const rows = group ? model.children(group) : [];
    return {
      top: top.map((node) => present(node, Date.now()).label),
      group: group && present(group, Date.now()),
      rows: rows.map((node) => ({ node, ...present(node, Date.now()) })),
    };
  };

  before(async () => {
    cluster = await startTestCluster();
    kas = await startKas({ agentWaitTimeoutMs: 2_000 });
    parts = { server: kas.proxyUrl, token: `pat:${AGENT_ID}:${USER_TOKEN}` };
    await connectAgentk();
    model = new AgentsModel({
      connections: () => [],
      session: () => Promise.reject(new Error('no connection in this test')),
      onChange: () => changes++,
    });
    await Promise.all([servingPod('web'), servingPod('api')]);
  });
  after(async () => {
    await model?.forwards.stopAll();
    await model?.dispose();
    await agentk?.stop();
    await kas?.stop();
    await cluster?.stop();
  });

  it('appears with the first forward, lists each with its state, follows a reconnect, and a row Stop frees the port', async () => {
    assert.deepEqual(shown().top, [], 'no node while nothing is forwarded');
    const ended: PortForwardState[] = [];
    const hooks = { onEnded: (_: unknown, state: PortForwardState) => ended.push({ ...state }) };
    const web = await model.forwards.start(async () => parts, { namespace: 'default', pod: 'web', remotePort: 8080, localPort: 0 }, hooks);
    const api = await model.forwards.start(async () => parts, { namespace: 'default', pod: 'api', remotePort: 8080, localPort: 0 }, hooks);
    const webPort = web.state.localPort;

    let view = shown();
    assert.deepEqual(view.top, ['Port Forwards']);
    assert.equal(view.group?.description, '2');
    assert.equal(view.group?.contextValue, 'kubernetesAgents.portForwards');
    assert.deepEqual(
      view.rows.map((row) => [row.label, row.contextValue]),
      [
        [`127.0.0.1:${webPort} → default/web:8080`, 'kubernetesAgents.portForward.active'],
        [`127.0.0.1:${api.state.localPort} → default/api:8080`, 'kubernetesAgents.portForward.active'],
      ],
    );
    assert.equal(new Set(view.rows.map((row) => row.id)).size, 2, 'tree ids are unique');

    const before = changes;
    assert.equal(await (await fetch(`http://127.0.0.1:${webPort}/hello`)).text(), 'web main:8080 GET /hello\n');
    await waitFor('the row to count the request', () => /1 in all/.test(shown().rows[0]?.tooltip ?? ''));
    assert.ok(changes > before, 'the model told the tree to refresh');

    await agentk!.stop();
    agentk = undefined;
    await waitFor('both rows to say reconnecting', () =>
      shown().rows.every((row) => row.contextValue === 'kubernetesAgents.portForward.reconnecting'),
    );
    assert.match(shown().rows[0]!.description ?? '', /reconnecting/);
    await connectAgentk();
    await waitFor('both rows to be active again', () =>
      shown().rows.every((row) => row.contextValue === 'kubernetesAgents.portForward.active'),
    );

    // The inline Stop passes the row's node; the command acts on it.
    const row = shown().rows[0]!.node;
    const target = argumentOrSelection(row, [], ['portForward']);
    assert.equal(target, row);
    await model.forwards.stop((target as PortForwardNode).forward);
    view = shown();
    assert.deepEqual(
      view.rows.map((r) => r.label),
      [`127.0.0.1:${api.state.localPort} → default/api:8080`],
    );
    assert.equal(view.group?.description, '1');
    assert.ok(await refused(webPort), 'the stopped forward freed its port');
    assert.equal(web.state.endReason, 'STOPPED');
    assert.equal(ended.length, 0, 'a stopped forward is not reported as ended by itself');

    // A forward whose pod is deleted leaves the list by itself; with it goes the node.
    await (await adminClient(cluster.cluster)).deletePod('default', 'api');
    await waitFor('the api forward to leave the tree', () => shown().top.length === 0);
    assert.deepEqual(
      ended.map((state) => state.endReason),
      ['POD_DELETED'],
    );
    assert.deepEqual(model.children(), [] as AgentsNode[]);
  });
});
