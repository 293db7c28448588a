// A list kept current by a watch: list, watch from its resourceVersion, relist when the watch
// ends or expires, pause and retry after a failure. Feeds the live documents (one object by a
// name field selector, or the events of a namespace or an object).
import type { KubeObject, ResourceApi } from './resource_api';

const RETRY_MS = 2_000;
const DEBOUNCE_MS = 50;

export interface LiveListOptions {
  api: ResourceApi;
  /** The collection path, resolved on start (discovery may be needed). */
  path: () => Promise<string>;
  fieldSelector?: string;
  /** Called (debounced) with the current items, and with the failure while the list is stale. */
  onChange: (items: KubeObject[], error?: unknown) => void;
}

export class LiveList {
  private readonly items = new Map<string, KubeObject>();
  private readonly abort = new AbortController();
  private debounce: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private lastError: unknown;

  constructor(private readonly options: LiveListOptions) {
    void this.run();
  }

  snapshot(): KubeObject[] {
    return [...this.items.values()];
  }

  private async run(): Promise<void> {
    const { api, fieldSelector } = this.options;
    try {
      const path = await this.options.path();
      const list = await api.list(path, { fieldSelector });
      this.items.clear();
      for (const item of list.items) this.items.set(keyOf(item), item);
      this.lastError = undefined;
      this.changed();
      await api.watch(
        path,
        { fieldSelector, resourceVersion: list.resourceVersion },
        (type, object) => {
          if (type === 'BOOKMARK') return;
          if (type === 'DELETED') this.items.delete(keyOf(object));
          else this.items.set(keyOf(object), object);
          this.changed();
        },
        this.abort.signal,
      );
      if (!this.abort.signal.aborted) void this.run();
    } catch (error) {
      if (this.abort.signal.aborted) return;
      this.lastError = error;
      this.changed();
      this.retry = setTimeout(() => void this.run(), RETRY_MS);
    }
  }

  private changed(): void {
    if (this.debounce || this.abort.signal.aborted) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      if (!this.abort.signal.aborted) this.options.onChange(this.snapshot(), this.lastError);
    }, DEBOUNCE_MS);
  }

  dispose(): void {
    this.abort.abort();
    clearTimeout(this.debounce);
    clearTimeout(this.retry);
  }
}

function keyOf(object: KubeObject): string {
  return object.metadata?.uid ?? `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}
