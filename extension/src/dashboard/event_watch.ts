// The drawer's live events: one object's events (core/v1, field selector involvedObject.uid),
// listed and then watched with client-node's ListWatch (it resumes and relists by itself), through
// kas like every cluster call. A failure restarts it after a pause until the drawer closes.
import type { CoreV1Event } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import type { ClusterParts } from '../kas_client/kube_client';
import { loadKubeLayer } from '../kube/load';
import type { KubeEvent } from './summarise';

const RESTART_MS = 2_000;
/** Watch events of one object arrive in bursts (a rollout): the drawer is told once per burst. */
const DEBOUNCE_MS = 100;

export function watchObjectEvents(
  parts: () => Promise<ClusterParts>,
  namespace: string,
  uid: string,
  onEvents: (events: KubeEvent[]) => void,
): () => void {
  let stopped = false;
  let stopInformer: (() => Promise<void>) | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;

  const start = async () => {
    const layer = await loadKubeLayer();
    const kubeConfig = layer.createKubeConfig(await parts());
    const core = kubeConfig.makeApiClient(layer.clientNode.CoreV1Api);
    const fieldSelector = `involvedObject.uid=${uid}`;
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`;
    const informer = new layer.clientNode.ListWatch<CoreV1Event>(
      path,
      new layer.clientNode.Watch(kubeConfig),
      () => core.listNamespacedEvent({ namespace, fieldSelector }),
      false,
      undefined,
      fieldSelector,
    );
    const changed = () => {
      if (debounce) return;
      debounce = setTimeout(() => {
        debounce = undefined;
        if (!stopped) onEvents(informer.list(namespace) as KubeEvent[]);
      }, DEBOUNCE_MS);
    };
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', changed);
    informer.on('connect', changed);
    informer.on('error', () => {
      if (!stopped) restartTimer = setTimeout(() => void informer.start().catch(() => undefined), RESTART_MS);
    });
    stopInformer = () => informer.stop();
    if (stopped) return stopInformer();
    await informer.start();
  };
  const run = () => {
    start().catch(() => {
      void stopInformer?.().catch(() => undefined);
      if (!stopped) restartTimer = setTimeout(run, RESTART_MS);
    });
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(restartTimer);
    clearTimeout(debounce);
    void stopInformer?.().catch(() => undefined);
  };
}
