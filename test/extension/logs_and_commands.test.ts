// Pod log sessions (states users see: streaming, no logs yet, deleted), the local pair's ready
// line, the kubeconfig (checked with real kubectl) and the restricted namespace objects.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DevCluster } from '../../agent/devtools/devcluster/index';
import { buildKubeconfig } from '../../extension/src/commands/kubeconfig';
import { NamespaceNameError, restrictedNamespaceObjects } from '../../extension/src/commands/restricted_namespace';
import { displayLine } from '../../extension/src/local_pair/ready_line';
import { parseReadyLine } from '../../agent/shared/local_pair_ready';
import { LogSession } from '../../extension/src/logs/log_session';
import type { LogViewState } from '../../webviews/logview/messages';
import { adminClient, createObjects, simulatedPod, startQuietDevCluster, waitFor } from './helpers';

const run = promisify(execFile);

describe('extension logs and commands', () => {
  let cluster: DevCluster;
  let dir: string;
  const sessions: LogSession[] = [];
  before(async () => {
    cluster = await startQuietDevCluster();
    dir = await mkdtemp(join(tmpdir(), 'ext-cmd-'));
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.stop()));
  });
  after(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function watchSession(pod: string, follow = true) {
    const lines: string[] = [];
    const states: LogViewState[] = [];
    const session = new LogSession(
      await adminClient(cluster),
      { namespace: 'default', pod, container: 'main' },
      { follow, tailLines: 100, waitRetryMs: 100 },
      {
        lines: (batch) => lines.push(...batch),
        state: (state) => states.push(state),
      },
    );
    sessions.push(session);
    session.start();
    return { lines, states };
  }

  describe('LogSession', () => {
    it('streams lines of a running container', async function () {
      const client = await adminClient(cluster);
      await createObjects(cluster, 'default', {
        pods: [
          simulatedPod('chatty', { SIM_LINES: '5', SIM_MESSAGE: 'hello {n}', SIM_LINE_INTERVAL_MS: '20', SIM_DURATION_SECONDS: 'forever' }),
        ],
      });
      const running = await waitFor(
        'the pod to run',
        async () => (await client.readPod('default', 'chatty')).status?.phase === 'Running',
        8000,
      ).catch(() => false);
      // Until the dev cluster's simulated kubelet is plugged in, pods never start.
      if (!running) this.skip();
      const { lines, states } = await watchSession('chatty');
      await waitFor('five lines', () => lines.length >= 5, 20_000);
      assert.equal(lines[0], 'hello 1');
      assert.ok(states.includes('streaming'));
    });

    it('says the pod was deleted, not a raw 404', async () => {
      const { states } = await watchSession('never-existed');
      await waitFor('podDeleted', () => states.includes('podDeleted'));
      assert.ok(!states.includes('error'));
    });

    it('says "no logs yet" while the container has not started', async () => {
      await createObjects(cluster, 'default', { pods: [simulatedPod('slow-start', { SIM_START_DELAY_MS: '60000' })] });
      const { states } = await watchSession('slow-start');
      await waitFor('waiting', () => states.includes('waiting'));
    });
  });

  describe('local pair ready line', () => {
    const line = JSON.stringify({
      event: 'ready',
      apiUrl: 'https://127.0.0.1:1/',
      k8sProxyUrl: 'https://127.0.0.1:2/k8s-proxy/',
      agentId: 1,
      agentName: 'dev',
      userToken: 'tok-123456',
    });
    it('parses the ready line and ignores other output', () => {
      assert.deepEqual(parseReadyLine(line), {
        apiUrl: 'https://127.0.0.1:1/',
        k8sProxyUrl: 'https://127.0.0.1:2/k8s-proxy/',
        agentId: '1',
        agentName: 'dev',
        userToken: 'tok-123456',
        caFile: undefined,
      });
      assert.equal(parseReadyLine('kas listening on 8150'), undefined);
      assert.equal(parseReadyLine('{"event":"ready"}'), undefined);
    });
    it('never shows the token in the output channel', () => {
      assert.ok(!displayLine(line, []).includes('tok-123456'));
      assert.ok(!displayLine('later: token tok-123456 used', ['tok-123456']).includes('tok-123456'));
    });
  });

  describe('Copy Kubeconfig', () => {
    it('writes a kubeconfig that real kubectl accepts', async () => {
      const file = join(dir, 'kubeconfig');
      await writeFile(
        file,
        buildKubeconfig({ contextName: 'local-dev', server: cluster.url, caPem: cluster.caPem, token: cluster.adminToken }),
      );
      const { stdout } = await run('kubectl', ['--kubeconfig', file, 'get', 'namespaces', '-o', 'name']);
      assert.match(stdout, /namespace\/default/);
    });
  });

  describe('Create Restricted Namespace', () => {
    it('creates the namespace, a service account and an edit RoleBinding for it', async () => {
      await (await adminClient(cluster)).createRestrictedNamespace(restrictedNamespaceObjects('team-a', 'group/team-a'));
      const file = join(dir, 'admin-kubeconfig');
      await writeFile(
        file,
        buildKubeconfig({ contextName: 'admin', server: cluster.url, caPem: cluster.caPem, token: cluster.adminToken }),
      );
      const { stdout } = await run('kubectl', [
        '--kubeconfig',
        file,
        '-n',
        'team-a',
        'get',
        'rolebinding',
        'team-a-edit',
        '-o',
        'jsonpath={.roleRef.name} {.subjects[0].name}',
      ]);
      assert.equal(stdout, 'edit team-a-service-account');
    });
    it('refuses names that are not DNS labels', () => {
      assert.throws(() => restrictedNamespaceObjects('Team_A', 'p'), NamespaceNameError);
    });
  });
});
