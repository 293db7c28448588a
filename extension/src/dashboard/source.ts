// What the dashboard needs of the extension's watch cache, as a small interface: the kinds it
// can watch in a namespace, each kind's objects now, a signal when they changed, and an
// object's events. The panel depends on this only; `cacheSource` adapts the agent's
// ResourceCache (cache/resource_cache.ts), the same feeds the Agents tree holds.
import { RESOURCE_KINDS, type ResourceKind } from '../../../webviews/dashboard/messages';
import { BUILTIN_KINDS } from '../cache/kinds';
import type { ResourceCache, Subscription } from '../cache/resource_cache';
import type { FeedState } from '../cache/watch_feed';
import type { ClusterParts } from '../kas_client/kube_client';
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
  /** The namespace names, now (when known) and on every change, until the returned stop is called. */
  watchNamespaces(onNames: (names: string[]) => void): () => void;
  /** Starts watching a namespace; `onChange(kind)` fires (debounced) when a kind's objects or state changed. */
  watch(namespace: string, onChange: (kind: ResourceKind) => void): NamespaceWatch;
  /** An object's events, as they arrive; absent while the cache has no events. Returns stop. */
  watchEvents?(namespace: string, uid: string, onEvents: (events: KubeEvent[]) => void): () => void;
}

/** Every dashboard kind from the agent's watch cache; events, when `parts` gives the cluster's address and credential. */
export function cacheSource(cache: ResourceCache, parts?: () => Promise<ClusterParts>): DashboardSource {
  return {
    watchEvents: parts && ((namespace, uid, onEvents) => watchObjectEvents(parts, namespace, uid, onEvents)),
    kinds: RESOURCE_KINDS,
    watchNamespaces: (onNames) => watchNamespaces(cache, onNames),
    watch(namespace, onChange) {
      const subs = new Map<ResourceKind, Subscription>(
        RESOURCE_KINDS.map((kind) => [kind, cache.subscribe(BUILTIN_KINDS[kind], namespace, () => onChange(kind))]),
      );
      return {
        objects: (kind) => (subs.get(kind)?.feed.snapshot() ?? []) as readonly KubeObject[],
        state: (kind) => {
          const feed = subs.get(kind)?.feed;
          return feed ? { state: feed.state, error: feed.error } : { state: 'stopped' };
        },
        stop: () => {
          for (const sub of subs.values()) sub.dispose();
          return Promise.resolve();
        },
      };
    },
  };
}

/** The cache's Namespace feed (the tree holds the same one), as names; nothing while it cannot list. */
function watchNamespaces(cache: ResourceCache, onNames: (names: string[]) => void): () => void {
  let last: readonly unknown[] | undefined;
  // The cache calls back debounced, never from within subscribe.
  const sub = cache.subscribe(BUILTIN_KINDS.Namespace, undefined, () => changed());
  const changed = () => {
    const { feed } = sub;
    const objects = feed.snapshot();
    if (feed.state !== 'live' || objects === last) return;
    last = objects;
    onNames(objects.map((n) => n.metadata?.name ?? '').filter((name) => name !== ''));
  };
  changed();
  return () => sub.dispose();
}
