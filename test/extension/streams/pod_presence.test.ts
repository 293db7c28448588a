// The presence watch a port-forward relies on, against the dev cluster: it reports the pod
// present; after recheck() (a forward that saw its path break has said "reconnecting" and waits
// for a verdict) it reports it present again; a deleted pod is gone. And, against a stand-in for
// kas, the order that left a forward reconnecting for good: the watch ends cleanly (kas lost the
// agent), the next read waits in kas, and recheck() comes meanwhile.
import { strict as assert } from 'node:assert';
import type { ServerResponse } from 'node:http';
import type { DevCluster } from '../../../agent/devtools/devcluster/index';
import { PodPresenceWatch, type PodGoneReason, type PodPresence } from '../../../extension/src/streams/pod_presence';
import { adminClient, createObjects, serve, simulatedPod, startQuietDevCluster, waitFor } from '../helpers';

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

  it('reports present after a recheck that aborted a read held while the agent was away', async () => {
    const pod = { metadata: { name: 'held', namespace: 'default', uid: 'u1', resourceVersion: '1' }, status: { phase: 'Running' } };
    const watches: ServerResponse[] = [];
    const heldReads: ServerResponse[] = [];
    let holdReads = false;
    const kas = await serve((req, res) => {
      if (req.url?.includes('watch=1')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        return void watches.push(res);
      }
      if (holdReads) return void heldReads.push(res);
      res.end(JSON.stringify(pod));
    });
    const verdicts: PodPresence[] = [];
    const held = new PodPresenceWatch(
      async () => ({ server: kas.url, token: 't' }),
      'default',
      'held',
      (presence) => verdicts.push(presence),
    );
    try {
      held.start();
      await waitFor('the watch open', () => watches.length === 1);
      assert.deepEqual(verdicts, ['present']);
      holdReads = true;
      watches[0]!.end(); // a clean end: read the pod again, no verdict yet
      await waitFor('the read held', () => heldReads.length === 1);
      held.recheck();
      holdReads = false;
      await waitFor('a verdict after the recheck', () => verdicts.length === 2);
      assert.deepEqual(verdicts, ['present', 'present']);
    } finally {
      await held.stop();
      for (const res of heldReads) res.destroy();
      await kas.close();
    }
  });
});
