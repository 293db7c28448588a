// Show Previous Logs from the palette picks namespace → pod → container from the agent's watch
// cache: against a real dev cluster, each step starts loading and fills in when its feed lists,
// pods say how often they restarted, a pod with one container skips the container step, and a
// dismissed step ends the flow. The picker answers like a user: it waits until the choice it
// wants is shown, then takes it.
import { strict as assert } from 'node:assert';
import type { DevCluster } from '../../agent/devtools/devcluster/index';
import { ResourceCache } from '../../extension/src/cache/resource_cache';
import { pickLogTarget, type ChoiceList, type LivePick } from '../../extension/src/logs/log_target_picker';
import { adminClient, createObjects, simulatedPod, startQuietDevCluster, waitFor } from './helpers';

interface Step {
  title: string;
  /** What the step showed first (before any change signal). */
  first: { labels: string[]; loading: boolean };
  last: { labels: string[]; descriptions: Array<string | undefined> };
}

/** Picks, at each step, the first choice whose label matches the next of `wanted` (undefined: dismiss). */
function scriptedPick(wanted: Array<RegExp | undefined>, steps: Step[]): LivePick {
  return async <T>(title: string, read: () => ChoiceList<T>, subscribe: (onChange: () => void) => { dispose(): void }) => {
    let signals = 0;
    const subscription = subscribe(() => signals++);
    try {
      const first = read();
      const step: Step = {
        title,
        first: { labels: first.choices.map((c) => c.label), loading: first.loading },
        last: { labels: [], descriptions: [] },
      };
      steps.push(step);
      const pattern = wanted.shift();
      if (!pattern) return undefined;
      const choice = await waitFor(`a choice ${String(pattern)} in "${title}"`, () => {
        const list = read();
        step.last = { labels: list.choices.map((c) => c.label), descriptions: list.choices.map((c) => c.description) };
        return list.choices.find((c) => pattern.test(c.label));
      });
      if (step.first.loading) assert.ok(signals > 0, 'a step that opened loading was filled by a change signal');
      return choice.value;
    } finally {
      subscription.dispose();
    }
  };
}

describe('Show Previous Logs: the palette flow over the watch cache', function () {
  this.timeout(60_000);
  let cluster: DevCluster;
  let cache: ResourceCache;

  before(async () => {
    cluster = await startQuietDevCluster();
    const crashing = simulatedPod('crashing', { SIM_LINES: '1', SIM_MESSAGE: 'run {n}', SIM_EXIT_CODE: '1' });
    (crashing.spec as Record<string, unknown>).restartPolicy = 'Always';
    const pair = simulatedPod('pair');
    (pair.spec as { containers: Array<Record<string, unknown>> }).containers.push({ name: 'sidecar', image: 'sim' });
    await createObjects(cluster, 'logs-pick', { namespace: true, pods: [crashing, pair] });
    const admin = await adminClient(cluster);
    await waitFor(
      'crashing to restart',
      async () => ((await admin.readPod('logs-pick', 'crashing')).status?.containerStatuses?.[0]?.restartCount ?? 0) > 0,
      30_000,
    );
    cache = new ResourceCache({ client: () => adminClient(cluster), debounceMs: 20 });
  });
  after(async () => {
    await cache?.dispose();
    await cluster?.stop();
  });

  it('picks namespace and pod (one container: no container step), live from the cache, with restart counts', async () => {
    const steps: Step[] = [];
    const target = await pickLogTarget(cache, 'dev', 'Previous Logs', scriptedPick([/^logs-pick$/, /^crashing$/], steps));
    assert.deepEqual(target, { namespace: 'logs-pick', pod: 'crashing', container: 'main' });
    assert.deepEqual(
      steps.map((s) => s.title),
      ['Previous Logs: namespace (agent dev)', 'Previous Logs: pod in logs-pick'],
    );
    assert.deepEqual(steps[0]!.first, { labels: [], loading: true }, 'nothing was listed before the step subscribed');
    assert.ok(steps[0]!.last.labels.includes('default'));
    const podStep = steps[1]!;
    assert.deepEqual(podStep.last.labels, ['crashing', 'pair']);
    assert.match(podStep.last.descriptions[0] ?? '', / · [1-9]\d* restarts?$/);
    assert.match(podStep.last.descriptions[1] ?? '', / · 0 restarts$/);
    // Each step released its feed: nothing stays watched after the pick.
    assert.equal(cache.activeFeeds, 0);
  });

  it('asks for the container of a pod with two, and ends when a step is dismissed', async () => {
    const steps: Step[] = [];
    const target = await pickLogTarget(cache, 'dev', 'Previous Logs', scriptedPick([/^logs-pick$/, /^pair$/, /^sidecar$/], steps));
    assert.deepEqual(target, { namespace: 'logs-pick', pod: 'pair', container: 'sidecar' });
    assert.equal(steps[2]?.title, 'Previous Logs: container of pair');
    assert.deepEqual(steps[2]?.first.labels, ['main', 'sidecar']);

    const dismissed: Step[] = [];
    assert.equal(await pickLogTarget(cache, 'dev', 'Previous Logs', scriptedPick([/^logs-pick$/, undefined], dismissed)), undefined);
    assert.equal(dismissed.length, 2);
  });
});
