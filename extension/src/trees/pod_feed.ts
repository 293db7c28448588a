// The live pod list of one namespace (optionally filtered by a label selector): one list, then
// a watch that applies ADDED/MODIFIED/DELETED events to an in-memory map. Readers take a sorted
// snapshot at any time without waiting. Changes are reported debounced, so a burst of events
// redraws the tree once. A watch that ends is resumed from the last resourceVersion; a 410
// Gone relists; failures retry with a capped backoff.
import { KasClientError } from '../kas_client/errors';
import { abortableSleep } from '../cache/sleep';
import { podName, type KubeClient, type Pod, type WatchEvent } from '../kas_client/kube_client';

export type FeedState = 'loading' | 'live' | 'error' | 'stopped';

export interface PodFeedOptions {
  client: () => Promise<KubeClient>;
  namespace: string;
  labelSelector?: string;
  onChange: () => void;
  debounceMs?: number;
}

const BACKOFF_INITIAL_MS = 1000;
const BACKOFF_MAX_MS = 20_000;

export class PodFeed {
  private readonly pods = new Map<string, Pod>();
  private sorted: Pod[] | undefined;
  private resourceVersion: string | undefined;
  private readonly abort = new AbortController();
  private debounceTimer: NodeJS.Timeout | undefined;
  private backoffMs = BACKOFF_INITIAL_MS;
  private running: Promise<void> | undefined;
  state: FeedState = 'loading';
  error: unknown;

  constructor(private readonly options: PodFeedOptions) {}

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

  /** Pods sorted by name; the array is reused until the next change. */
  snapshot(): readonly Pod[] {
    this.sorted ??= [...this.pods.values()].sort((a, b) => compareNames(podName(a), podName(b)));
    return this.sorted;
  }

  get(name: string): Pod | undefined {
    return this.pods.get(name);
  }

  /** Replaces the whole content (used by the list, and by benchmarks). */
  replaceAll(pods: Pod[], resourceVersion: string | undefined): void {
    this.pods.clear();
    for (const pod of pods) this.pods.set(podName(pod), pod);
    this.resourceVersion = resourceVersion;
    this.sorted = undefined;
  }

  apply(event: WatchEvent<Pod>): void {
    const version = event.object?.metadata?.resourceVersion;
    if (version) this.resourceVersion = version;
    if (event.type === 'BOOKMARK') return;
    const name = podName(event.object);
    if (event.type === 'DELETED') this.pods.delete(name);
    else this.pods.set(name, event.object);
    this.sorted = undefined;
    this.scheduleChange();
  }

  private async loop(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        if (this.resourceVersion === undefined) await this.list();
        this.backoffMs = BACKOFF_INITIAL_MS;
        await this.watchOnce();
      } catch (error) {
        if (this.abort.signal.aborted) return;
        if (error instanceof KasClientError && error.code === 'GONE') {
          this.resourceVersion = undefined;
          continue;
        }
        this.fail(error);
        await this.sleep(this.backoffMs);
        this.backoffMs = Math.min(this.backoffMs * 1.6, BACKOFF_MAX_MS);
      }
    }
  }

  private async list(): Promise<void> {
    const client = await this.options.client();
    const list = await client.listPods(this.options.namespace, this.options.labelSelector, this.abort.signal);
    this.replaceAll(list.items, list.resourceVersion);
    this.state = 'live';
    this.error = undefined;
    this.options.onChange();
  }

  private async watchOnce(): Promise<void> {
    const client = await this.options.client();
    await client.watchPods(
      this.options.namespace,
      { resourceVersion: this.resourceVersion ?? '0', labelSelector: this.options.labelSelector },
      (event) => this.apply(event),
      this.abort.signal,
    );
  }

  private fail(error: unknown): void {
    // Keep showing the last known pods; the state tells the view that they may be stale.
    this.state = this.pods.size > 0 ? 'live' : 'error';
    this.error = error;
    this.resourceVersion = undefined;
    this.options.onChange();
  }

  private scheduleChange(): void {
    if (this.debounceTimer) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      this.options.onChange();
    }, this.options.debounceMs ?? 200);
  }

  private sleep(ms: number): Promise<void> {
    return abortableSleep(ms, this.abort.signal);
  }
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
