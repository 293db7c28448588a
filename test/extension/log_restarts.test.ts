// The log view's session through kas + agentk to the dev cluster: following a container that
// restarts carries on with a marked break per restart, and the previous instance's logs can be
// read (previous=true; the API's 400 when the container has not restarted).
import { strict as assert } from 'node:assert';
import type { ClusterParts, KubeClient } from '../../extension/src/kas_client/kube_client';
import { KasClientError } from '../../extension/src/kas_client/errors';
import { kubeClientFor } from '../../extension/src/kube/load';
import { LogSession, type LogSessionOptions } from '../../extension/src/logs/log_session';
import type { LogViewState } from '../../webviews/logview/messages';
import { startClusterBehindKas, type ClusterBehindKas } from '../support/cluster_behind_kas';
import { adminClient, createObjects, simulatedPod, waitFor } from './helpers';

describe('log sessions across container restarts, through kas', function () {
  this.timeout(60_000);
  let stack: ClusterBehindKas;
  let client: KubeClient;
  let admin: KubeClient;
  const sessions: LogSession[] = [];

  /** A pod that prints two lines and fails, under the given restart policy. */
  function crashingPod(name: string, restartPolicy: string, exitCode = 1): Record<string, unknown> {
    const pod = simulatedPod(name, {
      SIM_LINES: '2',
      SIM_MESSAGE: 'run {n}',
      SIM_LINE_INTERVAL_MS: '200',
      SIM_EXIT_CODE: String(exitCode),
    });
    (pod.spec as Record<string, unknown>).restartPolicy = restartPolicy;
    return pod;
  }

  /** What the view would show: lines, and a `#restart N` entry where the break line goes. */
  function watch(pod: string, options: Partial<LogSessionOptions> = {}) {
    const shown: string[] = [];
    const states: Array<{ state: LogViewState; detail: string }> = [];
    const session = new LogSession(
      client,
      { namespace: 'default', pod, container: 'main' },
      { follow: true, tailLines: 100, waitRetryMs: 100, ...options },
      {
        lines: (batch) => shown.push(...batch),
        state: (state, detail) => states.push({ state, detail }),
        restarted: (count) => shown.push(`#restart ${count}`),
      },
    );
    sessions.push(session);
    session.start();
    return { shown, states, stateNames: () => states.map((s) => s.state) };
  }

  const restarts = async (pod: string) => (await admin.readPod('default', pod)).status?.containerStatuses?.[0]?.restartCount ?? 0;

  before(async () => {
    stack = await startClusterBehindKas();
    const parts: ClusterParts = { server: stack.kas.proxyUrl, token: stack.userToken, caPem: stack.caPem };
    client = await kubeClientFor(parts);
    admin = await adminClient(stack.cluster.cluster);
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.stop()));
  });
  after(async () => {
    await stack?.stop();
  });

  it('follows a restarting container: each instance after a marked break, through the back-off', async () => {
    await createObjects(stack.cluster.cluster, 'default', { pods: [crashingPod('crasher', 'Always')] });
    const view = watch('crasher');
    await waitFor('two restarts followed', () => view.shown.includes('#restart 2') && view.shown.length >= 8, 30_000);
    assert.deepEqual(view.shown.slice(0, 8), ['run 1', 'run 2', '#restart 1', 'run 1', 'run 2', '#restart 2', 'run 1', 'run 2']);
    assert.ok(view.stateNames().includes('waiting'), 'the back-off shows as waiting');
    assert.ok(!view.stateNames().includes('ended') && !view.stateNames().includes('error'), view.stateNames().join(','));
  });

  it('ends, without a break, when the policy does not restart the container', async () => {
    await createObjects(stack.cluster.cluster, 'default', { pods: [crashingPod('done-once', 'OnFailure', 0)] });
    const view = watch('done-once');
    await waitFor('the end', () => view.stateNames().includes('ended'), 20_000);
    assert.deepEqual(view.shown, ['run 1', 'run 2']);
  });

  it('reads the previous instance’s logs after a restart, not the current one’s', async () => {
    // Each instance prints when it started (the back-off puts a second or more between two).
    const pod = simulatedPod('crashed');
    const spec = pod.spec as { restartPolicy?: string; containers: Array<Record<string, unknown>> };
    spec.restartPolicy = 'Always';
    spec.containers[0]!.command = ['sh', '-c', 'echo "up $(date)"; exit 2'];
    await createObjects(stack.cluster.cluster, 'default', { pods: [pod] });
    await waitFor('a restart', async () => (await restarts('crashed')) >= 1, 30_000);
    const current = watch('crashed', { follow: false });
    const previous = watch('crashed', { previous: true });
    await waitFor('both views to end', () => current.stateNames().includes('ended') && previous.stateNames().includes('ended'));
    assert.equal(previous.shown.length, 1, previous.shown.join('|'));
    assert.match(previous.shown[0]!, /^up /);
    assert.equal(current.shown.length, 1, current.shown.join('|'));
    assert.notEqual(previous.shown[0], current.shown[0], 'the previous instance is another run');
    assert.ok(!previous.stateNames().includes('error'));
  });

  it('answers "no previous logs" for a container that has not restarted; kas passes on the API’s 400', async () => {
    await createObjects(stack.cluster.cluster, 'default', {
      pods: [simulatedPod('steady', { SIM_LINES: '1', SIM_DURATION_SECONDS: 'forever' })],
    });
    await waitFor('steady to run', async () => (await admin.readPod('default', 'steady')).status?.phase === 'Running');
    await assert.rejects(
      client.streamLogs('default', 'steady', { container: 'main', previous: true }),
      (error: unknown) => error instanceof KasClientError && error.status === 400,
    );
    const view = watch('steady', { previous: true });
    await waitFor('the answer', () => view.stateNames().includes('ended'));
    assert.deepEqual(view.shown, []);
    assert.match(view.states.at(-1)!.detail, /has not restarted/);
  });
});
