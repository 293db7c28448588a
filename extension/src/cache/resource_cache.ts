// One watch-fed cache per agent: a WatchFeed per (kind, namespace, label selector), shared by
// every view that shows it (the Agents tree, the dashboard, YAML documents). Views subscribe;
// the first subscription starts the list+watch, the last one's dispose stops it, so a kind no
// view shows is not watched. Nothing here runs on the UI path: reads answer from memory and
// the network work happens in the feeds' own loops.
import type { KubeClient, KubeObject } from '../kas_client/kube_client';
import { collectionPath, kindKey, type KindInfo } from './kinds';
import { WatchFeed } from './watch_feed';

export interface Subscription<T extends KubeObject = KubeObject> {
  readonly feed: WatchFeed<T>;
  /** Releases this view's hold; the feed stops when no view holds it. Idempotent. */
  dispose(): void;
}

interface Entry {
  feed: WatchFeed;
  listeners: Set<() => void>;
}

export interface ResourceCacheOptions {
  client: () => Promise<KubeClient>;
  /** How long a burst of watch events is gathered into one change signal. */
  debounceMs?: number;
}

export class ResourceCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: ResourceCacheOptions) {}

  /**
   * Holds the live list of `info` in `namespace` (undefined: the whole cluster, or a
   * cluster-scoped kind); `onChange` fires (debounced) when its content or state changed.
   */
  subscribe<T extends KubeObject = KubeObject>(
    info: KindInfo,
    namespace: string | undefined,
    onChange: () => void,
    labelSelector?: string,
  ): Subscription<T> {
    const scope = info.namespaced ? namespace : undefined;
    const key = `${kindKey(info)}|${scope ?? '*'}|${labelSelector ?? ''}`;
    let entry = this.entries.get(key);
    if (!entry) {
      const listeners = new Set<() => void>();
      const path = collectionPath(info, scope);
      const { client } = this.options;
      const feed = new WatchFeed({
        source: {
          list: async (signal) => (await client()).listObjects(path, { labelSelector }, signal),
          watch: async (resourceVersion, onEvent, signal) =>
            (await client()).watchObjects(path, { resourceVersion, labelSelector }, onEvent, signal),
        },
        onChange: () => {
          for (const listener of [...listeners]) listener();
        },
        debounceMs: this.options.debounceMs,
      });
      entry = { feed, listeners };
      this.entries.set(key, entry);
      feed.start();
    }
    const held = entry;
    // Each subscription gets its own function object, so one view subscribing twice holds twice.
    const listener = () => onChange();
    held.listeners.add(listener);
    let released = false;
    return {
      feed: held.feed as unknown as WatchFeed<T>,
      dispose: () => {
        if (released) return;
        released = true;
        held.listeners.delete(listener);
        if (held.listeners.size > 0 || this.entries.get(key) !== held) return;
        this.entries.delete(key);
        void held.feed.stop(); // stop never rejects: the loop catches its own failures
      },
    };
  }

  /** How many feeds are running (what a test checks to see that unwatched kinds stop). */
  get activeFeeds(): number {
    return this.entries.size;
  }

  /** Stops every feed; subscriptions held afterwards are inert. */
  async dispose(): Promise<void> {
    const feeds = [...this.entries.values()].map((e) => e.feed);
    this.entries.clear();
    await Promise.all(feeds.map((f) => f.stop()));
  }
}

/** The caches of every (connection, agent), created on first use. */
export class ResourceCaches {
  private readonly caches = new Map<string, ResourceCache>();

  constructor(
    private readonly client: (connectionId: string, agentId: string) => Promise<KubeClient>,
    private readonly debounceMs?: number,
  ) {}

  forAgent(connectionId: string, agentId: string): ResourceCache {
    const key = `${connectionId}/${agentId}`;
    let cache = this.caches.get(key);
    if (!cache) {
      cache = new ResourceCache({ client: () => this.client(connectionId, agentId), debounceMs: this.debounceMs });
      this.caches.set(key, cache);
    }
    return cache;
  }

  /** Stops the caches whose connection `keep` rejects. */
  async prune(keep: (connectionId: string) => boolean): Promise<void> {
    const gone = [...this.caches.entries()].filter(([key]) => !keep(key.split('/')[0] ?? ''));
    for (const [key] of gone) this.caches.delete(key);
    await Promise.all(gone.map(([, cache]) => cache.dispose()));
  }

  async dispose(): Promise<void> {
    const all = [...this.caches.values()];
    this.caches.clear();
    await Promise.all(all.map((c) => c.dispose()));
  }
}

/** Custom resource kinds served by the cluster, as its CustomResourceDefinitions say (storage version). */
export function customKindsOf(crds: readonly KubeObject[]): KindInfo[] {
  const kinds: KindInfo[] = [];
  for (const crd of crds) {
    const spec = crd['spec'] as
      | {
          group?: string;
          scope?: string;
          names?: { kind?: string; plural?: string };
          versions?: Array<{ name: string; served?: boolean; storage?: boolean }>;
        }
      | undefined;
    const version = spec?.versions?.find((v) => v.storage && v.served !== false) ?? spec?.versions?.find((v) => v.served !== false);
    if (!spec?.group || !spec.names?.kind || !spec.names.plural || !version) continue;
    kinds.push({
      kind: spec.names.kind,
      group: spec.group,
      version: version.name,
      plural: spec.names.plural,
      namespaced: spec.scope !== 'Cluster',
    });
  }
  return kinds.sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
}
