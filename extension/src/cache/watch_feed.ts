// The live content of one collection (a kind in a namespace, or across the cluster): one list,
// then a watch from the list's resourceVersion that applies ADDED/MODIFIED/DELETED events to a
// map. Readers take a sorted snapshot at any time without waiting. Changes are reported
// debounced, so a burst of events redraws once. A watch the server ends is resumed from the
// last resourceVersion (bookmarks advance it), and so is a watch cut by a network failure, after
// a capped backoff (1 s × 1.6 up to 20 s, as the reference's tunnel); only a 410 Gone (or a
// failed list) relists, as client-go's reflector does. The last content stays on show meanwhile.
import { KasClientError } from '../kas_client/errors';
import type { KubeObject, ObjectList, WatchEvent } from '../kas_client/kube_client';

/** What a feed reads of an object: its key and version. client-node's typed objects fit too. */
export interface Keyed {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}
import { abortableSleep } from './sleep';

export type FeedState = 'loading' | 'live' | 'error' | 'stopped';

/** Where a feed reads from: a list, and a watch from a resourceVersion. */
export interface FeedSource<T extends Keyed> {
  list(signal: AbortSignal): Promise<ObjectList<T>>;
  watch(resourceVersion: string, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void>;
}

export interface WatchFeedOptions<T extends Keyed> {
  source: FeedSource<T>;
  onChange: () => void;
  debounceMs?: number;
}

const BACKOFF_INITIAL_MS = 1000;
const BACKOFF_MAX_MS = 20_000;

export class WatchFeed<T extends Keyed = KubeObject> {
  private readonly objects = new Map<string, T>();
  private sorted: T[] | undefined;
  private resourceVersion: string | undefined;
  private readonly abort = new AbortController();
  private debounceTimer: NodeJS.Timeout | undefined;
  private backoffMs = BACKOFF_INITIAL_MS;
  private running: Promise<void> | undefined;
  state: FeedState = 'loading';
  error: unknown;
  /** How many times the feed listed (the first list included): a 410 or a failure adds one. */
  lists = 0;

  constructor(private readonly options: WatchFeedOptions<T>) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Stops the watch; resolves when the loop has exited. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    this.abort.abort();
    clearTimeout(this.debounceTimer);
    await this.running;
  }

  /** Objects sorted by namespace/name; the array is reused until the next change. */
  snapshot(): readonly T[] {
    this.sorted ??= [...this.objects.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
    return this.sorted;
  }

  get(name: string, namespace = ''): T | undefined {
    return this.objects.get(keyOf(namespace, name));
  }

  /** Replaces the whole content (used by the list, and by benchmarks). */
  replaceAll(objects: readonly T[], resourceVersion: string | undefined): void {
    this.objects.clear();
    for (const object of objects) this.objects.set(objectKey(object), object);
    this.resourceVersion = resourceVersion;
    this.sorted = undefined;
  }

  apply(event: WatchEvent<T>): void {
    const version = event.object?.metadata?.resourceVersion;
    if (version) this.resourceVersion = version;
    if (event.type === 'BOOKMARK') return;
    const key = objectKey(event.object);
    if (event.type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, event.object);
    this.sorted = undefined;
    this.scheduleChange();
  }

  private async loop(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        if (this.resourceVersion === undefined) await this.list();
        this.backoffMs = BACKOFF_INITIAL_MS;
        await this.options.source.watch(this.resourceVersion ?? '0', (event) => this.apply(event), this.abort.signal);
      } catch (error) {
        if (this.abort.signal.aborted) return;
        if (error instanceof KasClientError && error.code === 'GONE') {
          this.resourceVersion = undefined;
          continue;
        }
        this.fail(error);
        await abortableSleep(this.backoffMs, this.abort.signal);
        this.backoffMs = Math.min(this.backoffMs * 1.6, BACKOFF_MAX_MS);
      }
    }
  }

  private async list(): Promise<void> {
    const list = await this.options.source.list(this.abort.signal);
    this.lists++;
    this.replaceAll(list.items, list.resourceVersion);
    this.state = 'live';
    this.error = undefined;
    this.options.onChange();
  }

  private fail(error: unknown): void {
    // Keep showing the last known objects; the state tells the view that they may be stale.
    this.state = this.objects.size > 0 ? 'live' : 'error';
    this.error = error;
    this.options.onChange();
  }

  private scheduleChange(): void {
    if (this.debounceTimer) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      this.options.onChange();
    }, this.options.debounceMs ?? 200);
  }
}

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function objectKey(object: Keyed): string {
  return keyOf(object.metadata?.namespace ?? '', object.metadata?.name ?? '');
}
