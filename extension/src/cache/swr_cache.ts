// A stale-while-revalidate cache: readers get whatever is cached right away (possibly nothing
// yet, possibly stale) and a background refresh is started when the entry is missing or older
// than `maxAgeMs`. When a refresh lands, `onChange(key)` fires so views can re-render. The UI
// therefore never waits on the network.

export interface CacheEntry<V> {
  value?: V;
  /** The last refresh failure; cleared by the next success. */
  error?: unknown;
  updatedAt: number;
  refreshing: boolean;
}

export type Loader<V> = () => Promise<V>;

export class SwrCache<V> {
  private readonly entries = new Map<string, CacheEntry<V>>();
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(
    private readonly onChange: (key: string) => void,
    private readonly maxAgeMs = 30_000,
    private readonly now: () => number = Date.now,
    /** When given, a refresh that lands an equal value (and no error change) signals nothing. */
    private readonly equals?: (a: V, b: V) => boolean,
  ) {}

  /** Returns the entry at once and starts a refresh when it is missing or stale. */
  read(key: string, loader: Loader<V>): CacheEntry<V> {
    const entry = this.entries.get(key);
    if (!entry || this.now() - entry.updatedAt > this.maxAgeMs) void this.refresh(key, loader); // never rejects: a failure lands as the entry's error
    return this.entries.get(key) ?? { updatedAt: 0, refreshing: true };
  }

  peek(key: string): CacheEntry<V> | undefined {
    return this.entries.get(key);
  }

  /** Starts a refresh (or joins the one under way); resolves when it has landed. */
  refresh(key: string, loader: Loader<V>): Promise<void> {
    const running = this.inflight.get(key);
    if (running) return running;
    const previous = this.entries.get(key);
    this.entries.set(key, { ...(previous ?? { updatedAt: 0 }), refreshing: true });
    const done = loader().then(
      (value) => this.land(key, { value, updatedAt: this.now(), refreshing: false }),
      (error: unknown) => this.land(key, { value: previous?.value, error, updatedAt: this.now(), refreshing: false }),
    );
    this.inflight.set(key, done);
    return done;
  }

  /** Replaces a value directly (a watch event), without a loader. */
  set(key: string, value: V): void {
    this.entries.set(key, { value, updatedAt: this.now(), refreshing: this.inflight.has(key) });
    this.onChange(key);
  }

  /** Marks every entry stale so the next read refreshes; keeps values to show meanwhile. */
  invalidateAll(): void {
    for (const entry of this.entries.values()) entry.updatedAt = 0;
  }

  deleteWhere(predicate: (key: string) => boolean): void {
    for (const key of [...this.entries.keys()]) if (predicate(key)) this.entries.delete(key);
  }

  private land(key: string, entry: CacheEntry<V>): void {
    this.inflight.delete(key);
    const previous = this.entries.get(key);
    this.entries.set(key, entry);
    if (this.unchanged(previous, entry)) return;
    this.onChange(key);
  }

  private unchanged(previous: CacheEntry<V> | undefined, next: CacheEntry<V>): boolean {
    if (!this.equals || previous?.value === undefined || next.value === undefined) return false;
    return Boolean(previous.error) === Boolean(next.error) && this.equals(previous.value, next.value);
  }
}
