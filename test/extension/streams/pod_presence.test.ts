// The presence watch a port-forward relies on, against the dev cluster: it reports the pod
// present; after recheck() (a forward that saw its path break has said "reconnecting" and waits
// for a verdict) it reports it present again; a deleted pod is gone.
import { strict as assert } from 'node:assert';
import type { DevCluster } from '../../../agent/devtools/devcluster/index';
import { PodPresenceWatch, type PodGoneReason, type PodPresence } from '../../../extension/src/streams/pod_presence';
import { adminClient, createObjects, simulatedPod, startQuietDevCluster, waitFor } from '../helpers';

describe('pod presence watch', function () {
  this.timeout(60_000);
  let cluster: DevCluster;
  let watch: PodPresenceWatch | undefined;

  before(async () => {
    cluster = await startQuietDevCluster();
    await createObjects(cluster, 'default', { pods: [simulatedPod('watched')] });
  });
  after(async () => {
    await watch?.stop();
    await cluster?.stop();
  });

  it('reports present, present again after a recheck, and gone once the pod is deleted', async () => {
    const verdicts: Array<[PodPresence, PodGoneReason | undefined]> = [];
    watch = new PodPresenceWatch(
      async () => ({ server: cluster.url, token: cluster.adminToken, caPem: cluster.caPem }),
      'default',
      'watched',
      (presence, reason) => verdicts.push([presence, reason]),
    );
    watch.start();
    await waitFor('the first verdict', () => verdicts.length === 1);
    assert.deepEqual(verdicts[0], ['present', undefined]);

    watch.recheck();
    await waitFor('present again after the recheck', () => verdicts.length > 1 && verdicts.at(-1)?.[0] === 'present');
    // The broken watch says unreachable on its way; nothing else comes between.
    assert.deepEqual(verdicts.slice(1), [
      ['unreachable', undefined],
      ['present', undefined],
    ]);

    await (await adminClient(cluster)).deletePod('default', 'watched');
    await waitFor('the pod gone', () => verdicts.at(-1)?.[0] === 'gone');
    assert.deepEqual(verdicts.at(-1), ['gone', 'POD_DELETED']);
  });
});
