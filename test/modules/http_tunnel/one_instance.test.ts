// One agentk process is one instance on both of its transports: the tunnel streams' descriptors
// and the reverse HTTP/1.1 connections carry the same instance id, so kas can judge the process
// alive or dead as a whole (frozen_instance.test.ts shows what kas does with that).
import { strict as assert } from 'node:assert';
import { AGENT_ID, startAgentk, startKas, useTunnelTransport, useUpstreamFixture, waitForIdleTunnels } from '../reverse_tunnel/harness';

describe('agentk: one instance id on both transports', function () {
  this.timeout(60_000);
  useTunnelTransport('v2');
  const fixture = useUpstreamFixture();

  it('sends the same instance id in its tunnel descriptors and its reverse HTTP/1.1 dials', async () => {
    const kas = await startKas();
    fixture.cleanups.push(() => kas.stop());
    const agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: fixture.kubeconfig });
    fixture.cleanups.push(() => agentk.stop());
    await waitForIdleTunnels(kas.registry, 2);
    const grpcInstances = kas.registry.connectedAgents()[0]?.replicas.map((r) => r.instanceId) ?? [];
    const v2Instances = kas.httpTunnels.instancesOf(AGENT_ID).map((i) => i.instanceId);
    assert.equal(grpcInstances.length, 1, `tunnel stream instances: ${grpcInstances.join(', ')}`);
    assert.equal(v2Instances.length, 1, `reverse HTTP/1.1 instances: ${v2Instances.join(', ')}`);
    assert.match(grpcInstances[0]!, /^[0-9a-f-]{36}$/);
    assert.equal(v2Instances[0], grpcInstances[0]);
  });
});
