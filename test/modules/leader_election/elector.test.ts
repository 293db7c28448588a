// The Lease elector in-process against the dev cluster: of three candidates exactly one leads at
// any time, a stopped leader hands over, and a candidate the API refuses (RBAC) neither leads
// nor crashes, only logs the status code.
import assert from 'node:assert/strict';
import type { KubeConfig } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { createLogger } from '../../../agent/internal/log';
import { candidateIdentity, LeaseElector } from '../../../agent/modules/leader_election/elector';
import type { LeaderElectionSettings } from '../../../agent/module/modagent';
import { startTestCluster, type TestCluster } from '../../support/devcluster';
import { waitUntil } from '../../agentk/harness';

const SETTINGS: LeaderElectionSettings = {
  leaseName: 'unit-lock',
  leaseDurationMs: 2_000,
  renewDeadlineMs: 1_500,
  retryPeriodMs: 200,
  enabled: true,
};

async function kubeConfigFor(t: TestCluster, token?: string): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(t.kubeconfig);
  if (token) kc.users = kc.users.map((u) => ({ ...u, token }));
  return kc;
}

describe('leader_election: LeaseElector', function () {
  this.timeout(60_000);
  let t: TestCluster;
  const electors: LeaseElector[] = [];

  before(async () => {
    t = await startTestCluster();
  });
  after(async () => {
    for (const e of electors) await e.stop();
    await t?.stop();
  });

  it('one leader among three candidates at every moment; a stopped leader hands over', async () => {
    const leading = new Set<number>();
    let overlap = 0;
    const kc = await kubeConfigFor(t);
    for (let i = 0; i < 3; i++) {
      const elector = new LeaseElector({
        kubeConfig: kc,
        namespace: 'default',
        settings: SETTINGS,
        identity: candidateIdentity(`c${i}`),
        onChange: (isLeader) => {
          if (isLeader) leading.add(i);
          else leading.delete(i);
          if (leading.size > 1) overlap++;
        },
        logger: createLogger({ component: 'test' }, { write: () => undefined }),
      });
      electors.push(elector);
      await elector.start();
    }
    const first = await waitUntil('a leader', () => (leading.size === 1 ? [...leading][0] : undefined));
    await new Promise((r) => setTimeout(r, 1_000)); // several retry periods: nobody else takes over
    assert.deepEqual([...leading], [first]);
    await electors[first]!.stop();
    const second = await waitUntil(
      'another leader',
      () => (leading.size === 1 && !leading.has(first) ? [...leading][0] : undefined),
      10_000,
    );
    assert.notEqual(second, first);
    assert.equal(overlap, 0, 'two candidates never led at once');
  });

  it('a candidate without rights on leases stays a follower and logs the status code only', async () => {
    await t.cluster.addToken('no-rights-token', { username: 'nobody', groups: ['system:authenticated'] });
    const lines: string[] = [];
    let changes = 0;
    const elector = new LeaseElector({
      kubeConfig: await kubeConfigFor(t, 'no-rights-token'),
      namespace: 'default',
      settings: { ...SETTINGS, leaseName: 'forbidden-lock' },
      identity: candidateIdentity('nobody'),
      onChange: () => changes++,
      logger: createLogger({ component: 'test' }, { write: (line) => lines.push(line), level: 'debug' }),
    });
    electors.push(elector);
    await elector.start();
    await waitUntil('a failed round logged', () => (lines.some((l) => l.includes('leader election round failed')) ? true : undefined));
    assert.ok(
      lines.some((l) => l.includes('"code":403')),
      lines.join('\n'),
    );
    assert.ok(!lines.some((l) => l.includes('no-rights-token')), 'the token is never logged');
    assert.equal(elector.isLeader(), false);
    assert.equal(changes, 0);
  });
});
