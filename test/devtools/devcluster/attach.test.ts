// kubectl 1.32 `attach -i` with stdin, against the dev cluster directly and through kas + agentk:
// what is typed reaches the container's stdin (`stdin: true`), its output comes back, and the
// end of input closes a `stdinOnce` container's stdin, so its program ends.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Agentk } from '../../../agent/agentk';
import { createCertificateAuthority } from '../../../agent/internal/tls';
import { startTestCluster, type TestCluster } from '../../support/devcluster';
import { runKubectl, stopAllKubectl } from '../../support/kubectl';
import { AGENT_ID, USER_TOKEN, startAgentk, startKas, waitForIdleTunnels, type Kas } from '../../modules/reverse_tunnel/harness';

const READER = (name: string, stdinOnce: boolean) =>
  stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', command: ['cat'], stdin: true, stdinOnce }] },
  });

describe('devcluster attach with stdin (kubectl attach -i), directly and through kas', function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let kas: Kas;
  let agentk: Agentk;
  let kasKubeconfig = '';

  before(async () => {
    cluster = await startTestCluster();
    const ca = createCertificateAuthority();
    const caFile = path.join(cluster.dir, 'kas-ca.pem');
    await fs.writeFile(caFile, ca.certPem);
    kas = await startKas({ tlsCa: ca });
    agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: cluster.kubeconfig, caFile });
    await waitForIdleTunnels(kas.registry);
    kasKubeconfig = path.join(cluster.dir, 'kubeconfig-through-kas');
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
  afterEach(() => stopAllKubectl());
  after(async () => {
    await stopAllKubectl();
    await agentk?.stop();
    await kas?.stop();
    await cluster?.stop();
  });

  const kubectl = async (kubeconfig: string, args: string[], input?: string) => {
    const result = await runKubectl(args, { kubeconfig, input });
    assert.equal(result.code, 0, `kubectl ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };

  for (const [how, kubeconfig] of [
    ['directly', () => cluster.kubeconfig],
    ['through kas', () => kasKubeconfig],
  ] as const) {
    it(`${how}: the typed lines come back from cat, and the end of input ends the container`, async () => {
      const name = how === 'directly' ? 'reader-direct' : 'reader-kas';
      await kubectl(kubeconfig(), ['apply', '-f', '-'], READER(name, true));
      await kubectl(kubeconfig(), ['wait', '--for=condition=Ready', `pod/${name}`, '--timeout=30s']);
      const output = await kubectl(kubeconfig(), ['attach', '-i', name], 'first line\nsecond line\n');
      assert.match(output, /first line\nsecond line\n/);
      const phase = async () => kubectl(kubeconfig(), ['get', 'pod', name, '-o', 'jsonpath={.status.phase}']);
      const deadline = Date.now() + 20_000;
      while ((await phase()) !== 'Succeeded') assert.ok(Date.now() < deadline, 'the pod to succeed once its stdin closed');
      assert.match(await kubectl(kubeconfig(), ['logs', name]), /^first line\nsecond line$/m);
    });
  }
});
