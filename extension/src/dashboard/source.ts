// What the dashboard needs of the extension's watch cache, as a small interface: the kinds it
// can watch in a namespace, each kind's objects now, a signal when they changed, and (where the
// cache has them) an object's events. The panel depends on this only; `podSource` adapts the
// pod feed the Agents tree uses (trees/pod_feed.ts), the one kind the cache watches today. A
// cache that watches more kinds offers them by implementing this interface.
import type { ResourceKind } from '../../../webviews/dashboard/messages';
import type { ClusterParts, KubeClient } from '../kas_client/kube_client';
import { PodFeed, type FeedState } from '../trees/pod_feed';
import { watchObjectEvents } from './event_watch';
import type { KubeEvent, KubeObject } from './summarise';

export interface NamespaceWatch {
  /** The kind's objects as last seen; the same objects until they change (identity is the change signal). */
  objects(kind: ResourceKind): readonly KubeObject[];
  /** 'loading' until the first list; 'error' (with the error) while it cannot be read and nothing is known. */
  state(kind: ResourceKind): { state: FeedState; error?: unknown };
  stop(): Promise<void>;
}

export interface DashboardSource {
  /** The kinds this source watches; the others show as not available. */
  readonly kinds: readonly ResourceKind[];
  namespaces(signal?: AbortSignal): Promise<string[]>;
  /** Starts watching a namespace; `onChange(kind)` fires (debounced) when a kind's objects or state changed. */
  watch(namespace: string, onChange: (kind: ResourceKind) => void): NamespaceWatch;
  /** An object's events, as they arrive; absent while the cache has no events. Returns stop. */
  watchEvents?(namespace: string, uid: string, onEvents: (events: KubeEvent[]) => void): () => void;
}

/** Dashboard redraws are cheap: changes come in at most every this many ms. */
const DEBOUNCE_MS = 100;

/** Pods from a pod feed per namespace; events, when `parts` gives the cluster's address and credential. */
export function podSource(client: () => Promise<KubeClient>, parts?: () => Promise<ClusterParts>): DashboardSource {
  return {
    watchEvents: parts && ((namespace, uid, onEvents) => watchObjectEvents(parts, namespace, uid, onEvents)),
    kinds: ['Pod'],
    namespaces: async (signal) => (await (await client()).listNamespaces(signal)).sort(),
    watch(namespace, onChange) {
      const feed = new PodFeed({ client, namespace, onChange: () => onChange('Pod'), debounceMs: DEBOUNCE_MS });
      feed.start();
      return {
        objects: (kind) => (kind === 'Pod' ? feed.snapshot() : []),
        state: (kind) => (kind === 'Pod' ? { state: feed.state, error: feed.error } : { state: 'stopped' }),
        stop: () => feed.stop(),
      };
    },
  };
}
