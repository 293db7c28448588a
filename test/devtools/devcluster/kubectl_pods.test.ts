// Pods of the dev cluster seen through real clients: kubectl (logs, auth can-i, exec) and
// @kubernetes/client-node (Log, Exec), against a dev cluster on a free port.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { stringify } from 'yaml';
import type { KubeConfig, V1Status } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { runKubectl, spawnKubectl, stopAllKubectl } from '../../support/kubectl';
import { startTestCluster, type TestCluster } from '../../support/devcluster';
import type { KubeObject } from '../../../agent/devtools/devcluster/types';

const PODS = { group: '', version: 'v1', resource: 'pods' };
const RBAC = 'rbac.authorization.k8s.io/v1';

interface PodStatusView {
  phase?: string;
  containerStatuses?: Array<{ restartCount?: number; state?: { running?: unknown } }>;
}

function podManifest(name: string, container: Record<string, unknown>, restartPolicy = 'Never'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { restartPolicy, containers: [{ name: 'main', image: 'busybox', ...container }] },
  });
}

function simEnv(values: Record<string, string | number>): Array<{ name: string; value: string }> {
  return Object.entries(values).map(([name, value]) => ({ name, value: String(value) }));
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** kubectl's client minor version: exec over WebSocket needs 1.30 or later. */
async function kubectlMinorVersion(kubeconfig: string): Promise<number> {
  const result = await runKubectl(['version', '--client', '-o', 'json'], { kubeconfig });
  const minor = (JSON.parse(result.stdout) as { clientVersion?: { minor?: string } }).clientVersion?.minor ?? '0';
  return Number.parseInt(minor, 10);
}

describe('devcluster pods through kubectl and client-node', function () {
  this.timeout(90_000);
  let test: TestCluster;
  let kubeconfig: string;

  before(async () => {
    test = await startTestCluster();
    kubeconfig = test.kubeconfig;
  });

  after(async () => {
    await stopAllKubectl();
    await test?.stop();
  });

  afterEach(async () => {
    await stopAllKubectl();
  });

  const pod = (name: string) => test.cluster.store.get(PODS, 'default', name) as (KubeObject & { status?: PodStatusView }) | undefined;
  const phaseOf = (name: string) => pod(name)?.status?.phase;

  async function apply(manifest: string): Promise<void> {
    const result = await runKubectl(['apply', '-f', '-'], { kubeconfig, input: manifest });
    assert.equal(result.code, 0, result.stderr);
  }

  /** A kubeconfig for another user of the same cluster, authenticated by its own token. */
  async function kubeconfigFor(username: string, groups: string[] = []): Promise<string> {
    const token = `${username}-token-${Date.now()}`;
    await test.cluster.addToken(token, { username, groups });
    const file = path.join(test.dir, `kubeconfig-${username}`);
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'dev',
          cluster: { server: test.cluster.url, 'certificate-authority-data': Buffer.from(test.cluster.caPem).toString('base64') },
        },
      ],
      users: [{ name: username, user: { token } }],
      contexts: [{ name: 'dev', context: { cluster: 'dev', user: username, namespace: 'default' } }],
      'current-context': 'dev',
    };
    await fs.writeFile(file, stringify(config), { mode: 0o600 });
    return file;
  }

  it('kubectl logs -f receives lines as they are written, before the pod finishes', async () => {
    await apply(podManifest('ticker', { env: simEnv({ SIM_LINES: 6, SIM_LINE_INTERVAL_MS: 400, SIM_MESSAGE: 'tick {n}' }) }));
    await waitFor('ticker running', () => phaseOf('ticker') === 'Running');
    const follower = spawnKubectl(['logs', '-f', 'ticker'], { kubeconfig });
    await follower.waitForLine(/^tick 2$/);
    assert.equal(phaseOf('ticker'), 'Running', 'the second line arrived while the pod was still running');
    await follower.waitForExit(20_000);
    assert.deepEqual(
      follower.lines.filter((line) => line.startsWith('tick')),
      ['tick 1', 'tick 2', 'tick 3', 'tick 4', 'tick 5', 'tick 6'],
    );
    await waitFor('ticker succeeded', () => phaseOf('ticker') === 'Succeeded');
  });

  it('kubectl logs --tail and --timestamps read the end of a finished pod', async () => {
    await apply(podManifest('counted', { command: ['sh', '-c', 'for i in $(seq 1 5); do echo "n=$i"; done; exit 4'] }));
    await waitFor('counted failed', () => phaseOf('counted') === 'Failed');
    const tail = await runKubectl(['logs', 'counted', '--tail=2'], { kubeconfig });
    assert.equal(tail.stdout, 'n=4\nn=5\n');
    const stamped = await runKubectl(['logs', 'counted', '--tail=1', '--timestamps'], { kubeconfig });
    assert.match(stamped.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z n=5\n$/);
    const described = await runKubectl(
      ['get', 'pod', 'counted', '-o', 'jsonpath={.status.containerStatuses[0].state.terminated.exitCode}'],
      { kubeconfig },
    );
    assert.equal(described.stdout, '4');
  });

  it('kubectl logs --previous reads the run before a restart', async () => {
    await apply(podManifest('crasher', { command: ['sh', '-c', 'echo "crashing now"; exit 1'] }, 'Always'));
    await waitFor('a restart', () => (pod('crasher')?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1, 30_000);
    const previous = await runKubectl(['logs', 'crasher', '--previous'], { kubeconfig });
    assert.equal(previous.code, 0, previous.stderr);
    assert.equal(previous.stdout, 'crashing now\n');
  });

  it('kubectl logs --previous of a container that never restarted is a 400, as from a kubelet', async () => {
    await apply(podManifest('steady', { env: simEnv({ SIM_LINES: 1, SIM_DURATION_SECONDS: 'forever' }) }));
    await waitFor('steady running', () => phaseOf('steady') === 'Running');
    const previous = await runKubectl(['logs', 'steady', '--previous'], { kubeconfig });
    assert.notEqual(previous.code, 0);
    assert.match(previous.stderr, /previous terminated container "main" in pod "steady" not found/);
  });

  it('kubectl auth can-i answers yes with a RoleBinding and no without', async () => {
    await apply(
      [
        stringify({
          apiVersion: RBAC,
          kind: 'Role',
          metadata: { name: 'pod-reader', namespace: 'default' },
          rules: [{ apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] }],
        }),
        stringify({
          apiVersion: RBAC,
          kind: 'RoleBinding',
          metadata: { name: 'reader-binding', namespace: 'default' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'reader' }],
        }),
      ].join('---\n'),
    );
    const reader = await kubeconfigFor('reader');
    const stranger = await kubeconfigFor('stranger');
    const canList = await runKubectl(['auth', 'can-i', 'list', 'pods', '-n', 'default'], { kubeconfig: reader });
    assert.deepEqual([canList.stdout.trim(), canList.code], ['yes', 0], canList.stderr);
    const canLogs = await runKubectl(['auth', 'can-i', 'get', 'pods/log', '-n', 'default'], { kubeconfig: reader });
    assert.equal(canLogs.stdout.trim(), 'yes');
    const cannotDelete = await runKubectl(['auth', 'can-i', 'delete', 'pods', '-n', 'default'], { kubeconfig: reader });
    assert.deepEqual([cannotDelete.stdout.trim(), cannotDelete.code], ['no', 1]);
    const otherNamespace = await runKubectl(['auth', 'can-i', 'list', 'pods', '-n', 'kube-system'], { kubeconfig: reader });
    assert.equal(otherNamespace.stdout.trim(), 'no');
    const strangerList = await runKubectl(['auth', 'can-i', 'list', 'pods', '-n', 'default'], { kubeconfig: stranger });
    assert.deepEqual([strangerList.stdout.trim(), strangerList.code], ['no', 1]);
    const forbidden = await runKubectl(['get', 'pods', '-n', 'default'], { kubeconfig: stranger });
    assert.notEqual(forbidden.code, 0);
    assert.match(forbidden.stderr, /forbidden: User "stranger" cannot list resource "pods"/);
    const allowed = await runKubectl(['get', 'pods', '-n', 'default', '-o', 'name'], { kubeconfig: reader });
    assert.equal(allowed.code, 0, allowed.stderr);
  });

  it('kubectl exec runs commands in a running container and returns their exit codes', async function () {
    if ((await kubectlMinorVersion(kubeconfig)) < 30) {
      // kubectl before 1.30 execs over SPDY only, which the dev cluster does not serve.
      this.skip();
    }
    await apply(podManifest('shell', { image: 'nginx', env: simEnv({ COLOR: 'teal' }) }));
    await waitFor('shell running', () => phaseOf('shell') === 'Running');
    const echo = await runKubectl(['exec', 'shell', '--', 'sh', '-c', 'echo "color is $COLOR on $(hostname)"'], { kubeconfig });
    assert.equal(echo.code, 0, echo.stderr);
    assert.equal(echo.stdout, 'color is teal on shell\n');
    const failing = await runKubectl(['exec', 'shell', '--', 'sh', '-c', 'echo oops >&2; exit 3'], { kubeconfig });
    assert.equal(failing.code, 3);
    assert.match(failing.stderr, /oops/);
    assert.match(failing.stderr, /command terminated with exit code 3/);
    const piped = await runKubectl(['exec', '-i', 'shell', '--', 'cat'], { kubeconfig, input: 'through stdin\n' });
    assert.equal(piped.stdout, 'through stdin\n');
    const missing = await runKubectl(['exec', 'shell', '--', 'nonexistent-tool'], { kubeconfig });
    assert.equal(missing.code, 127);
    const script = await runKubectl(['exec', '-i', 'shell', '--', 'sh'], { kubeconfig, input: 'N=7\necho "n is $N"\nexit 2\n' });
    assert.deepEqual([script.stdout, script.code], ['n is 7\n', 2]);
  });

  it('kubectl attach streams what the container writes until it stops', async function () {
    if ((await kubectlMinorVersion(kubeconfig)) < 30) this.skip();
    await apply(podManifest('talker', { env: simEnv({ SIM_LINES: 8, SIM_LINE_INTERVAL_MS: 300, SIM_MESSAGE: 'said {n}' }) }));
    await waitFor('talker running', () => phaseOf('talker') === 'Running');
    const attached = spawnKubectl(['attach', 'talker'], { kubeconfig });
    await attached.waitForLine(/^said \d$/);
    await attached.waitForExit(20_000);
    assert.ok(attached.lines.includes('said 8'), attached.lines.join('\n') + attached.stderr);
  });

  describe('with @kubernetes/client-node', () => {
    let k8s: typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });
    let config: KubeConfig;

    before(async () => {
      k8s = await import('@kubernetes/client-node');
      config = new k8s.KubeConfig();
      config.loadFromFile(kubeconfig);
    });

    it('Log with follow streams lines until the container ends', async () => {
      await apply(podManifest('streamer', { env: simEnv({ SIM_LINES: 4, SIM_LINE_INTERVAL_MS: 300, SIM_MESSAGE: 'event {n}' }) }));
      await waitFor('streamer running', () => phaseOf('streamer') === 'Running');
      const output = new PassThrough();
      const received: Array<{ text: string; phase: string | undefined }> = [];
      let partial = '';
      output.on('data', (chunk: Buffer) => {
        const pieces = (partial + chunk.toString()).split('\n');
        partial = pieces.pop() ?? '';
        for (const text of pieces) received.push({ text, phase: phaseOf('streamer') });
      });
      const ended = new Promise<void>((resolve) => output.on('finish', resolve));
      await new k8s.Log(config).log('default', 'streamer', 'main', output, { follow: true });
      await ended;
      assert.deepEqual(
        received.map((r) => r.text),
        ['event 1', 'event 2', 'event 3', 'event 4'],
      );
      assert.equal(received[0]?.phase, 'Running', 'the first line arrived while the pod was running');
    });

    it('Exec runs a command and reports the exit code in its Status', async () => {
      await apply(podManifest('exec-target', { image: 'nginx' }));
      await waitFor('exec-target running', () => phaseOf('exec-target') === 'Running');
      const stdout = new PassThrough();
      let text = '';
      stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const status = await new Promise<V1Status>((resolve, reject) => {
        new k8s.Exec(config)
          .exec('default', 'exec-target', 'main', ['sh', '-c', 'cat /etc/hostname; exit 5'], stdout, null, null, false, resolve)
          .catch(reject);
      });
      assert.equal(text, 'exec-target\n');
      assert.equal(status.status, 'Failure');
      assert.deepEqual(status.details?.causes, [{ reason: 'ExitCode', message: '5' }]);
    });
  });
});
