// Leader election with real agentk processes in in-cluster mode against the dev cluster:
// exactly one holds the Lease, every replica keeps its tunnels open, a leader killed with
// SIGKILL is replaced within the lease duration (plus one retry period), a leader stopped
// cleanly hands over at the next retry (it releases the Lease), and kubectl keeps working
// through the survivors.
import assert from 'node:assert/strict';
import { NAMESPACE, SERVICE_ACCOUNT, spawnAgentk, startStack, waitUntil, type AgentkProcess, type Stack } from '../../agentk/harness';

const LEASE_MS = 3_000;
const RENEW_MS = 2_000;
const RETRY_MS = 500;
const TIMING = [
  `--leader-election-lease-duration=${LEASE_MS}ms`,
  `--leader-election-renew-deadline=${RENEW_MS}ms`,
  `--leader-election-retry-period=${RETRY_MS}ms`,
];
const LEASES = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases' };

/** /metrics of a replica, at the probe address it logged. */
async function metricsOf(replica: AgentkProcess): Promise<string> {
  const address = /"observability listener started".*?"address":"([^"]+)"/.exec(replica.output())?.[1];
  assert.ok(address, replica.output());
  const response = await fetch(`http://${address}/metrics`);
  return response.text();
}

describe('leader election: two agentk replicas and a Lease', function () {
  this.timeout(120_000);
  let stack: Stack;
  const replicas: AgentkProcess[] = [];

  const holder = (): string | undefined => {
    const lease = stack.cluster.store.get(LEASES, NAMESPACE, `${SERVICE_ACCOUNT}-leader`) as
      { spec?: { holderIdentity?: string } } | undefined;
    return lease?.spec?.holderIdentity || undefined;
  };
  const holderPod = () => holder()?.split('_')[0];
  const start = async (podName: string) => {
    const replica = spawnAgentk(stack, podName, await stack.serviceAccountDir(podName), TIMING);
    replicas.push(replica);
    return replica;
  };
  const connectedPods = async () => (await stack.connections()).map((c) => c.podName).sort();

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    for (const replica of replicas) await replica.kill('SIGKILL');
    await stack?.stop();
  });

  it('elects exactly one leader while both replicas keep tunnels open', async () => {
    await start('agentk-a');
    await start('agentk-b');
    await waitUntil('both replicas connected to kas', async () =>
      (await connectedPods()).join() === 'agentk-a,agentk-b' ? true : undefined,
    );
    const leader = await waitUntil('a leader', () => holderPod());
    assert.ok(['agentk-a', 'agentk-b'].includes(leader));
    const follower = replicas.find((r) => r.podName !== leader)!;
    await waitUntil('the leader logs its leadership', () =>
      replicas
        .find((r) => r.podName === leader)!
        .output()
        .includes('became the leader')
        ? true
        : undefined,
    );
    assert.ok(!follower.output().includes('became the leader'), 'the follower never led');
    const listed = await stack.kubectl(['get', 'namespaces', '-o', 'name']);
    assert.equal(listed.code, 0, listed.stderr);
    for (const replica of replicas) {
      const metrics = await metricsOf(replica);
      const expected = replica.podName === leader ? 1 : 0;
      assert.match(metrics, new RegExp(`^leader_election_master_status\\{name="${SERVICE_ACCOUNT}-leader"\\} ${expected}$`, 'm'));
    }
  });

  it('a leader killed with SIGKILL is replaced within the lease duration', async () => {
    const leaderPod = holderPod()!;
    const leader = replicas.find((r) => r.podName === leaderPod)!;
    const survivor = replicas.find((r) => r.podName !== leaderPod && r.child.exitCode === null)!;
    const killedAt = Date.now();
    await leader.kill('SIGKILL');
    await waitUntil('the survivor holds the Lease', () => (holderPod() === survivor.podName ? true : undefined), 20_000);
    const takeoverMs = Date.now() - killedAt;
    process.stdout.write(`      takeover after SIGKILL: ${takeoverMs} ms (lease ${LEASE_MS} ms, retry ${RETRY_MS} ms)\n`);
    // At most a lease duration after the last renewal, plus a retry period, plus a loaded machine.
    assert.ok(takeoverMs <= LEASE_MS + RETRY_MS + 1_500, `took ${takeoverMs} ms`);
    await waitUntil('the survivor logs its leadership', () => (survivor.output().includes('became the leader') ? true : undefined));
    await waitUntil('kas drops the dead replica', async () => ((await connectedPods()).join() === survivor.podName ? true : undefined));
    const listed = await stack.kubectl(['get', 'namespaces', '-o', 'name']);
    assert.equal(listed.code, 0, listed.stderr);
  });

  it('a leader stopped cleanly releases the Lease: the other takes over at its next retry', async () => {
    const leaderPod = holderPod()!;
    const leader = replicas.find((r) => r.podName === leaderPod)!;
    const next = await start('agentk-c');
    await waitUntil('agentk-c connected', async () => ((await connectedPods()).includes('agentk-c') ? true : undefined));
    assert.equal(holderPod(), leaderPod, 'a new replica does not take the Lease from a live leader');
    const stoppedAt = Date.now();
    await leader.kill('SIGTERM');
    assert.match(leader.output(), /stopped leading/);
    await waitUntil('agentk-c holds the Lease', () => (holderPod() === next.podName ? true : undefined), 20_000);
    const handoverMs = Date.now() - stoppedAt;
    process.stdout.write(`      hand-over after SIGTERM: ${handoverMs} ms\n`);
    assert.ok(handoverMs < LEASE_MS, `a released Lease is taken before it would expire (${handoverMs} ms)`);
  });
});
