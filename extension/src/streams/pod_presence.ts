// Whether the pod a long-lived stream is bound to is still there, as seen through kas: a GET of
// the pod, then a watch of that one pod. Failing to reach it (agentk restarting, kas away) is
// "unreachable", retried with backoff until it answers again; a 404, a DELETED event, another
// pod under the same name (a new uid) or a finished phase is "gone", and final. The watch is what
// notices an agent that went away while no connection was open, and a pod deleted meanwhile.
import readline from 'node:readline';
import { abortableSleep } from '../cache/sleep';
import { KasClientError } from '../kas_client/errors';
import { openResponse, requestJson, type HttpTarget } from '../kas_client/http';
import type { ClusterParts, Pod, WatchEvent } from '../kas_client/kube_client';

export type PodPresence = 'present' | 'unreachable' | 'gone';
export type PodGoneReason = 'POD_DELETED' | 'POD_FINISHED';

export interface PresenceBackoff {
  initialMs: number;
  maxMs: number;
  factor: number;
}

/** Short steps: a user waits on a forward while it reconnects, and each try is one small GET. */
export const PRESENCE_BACKOFF: PresenceBackoff = { initialMs: 250, maxMs: 3_000, factor: 1.6 };

const FINISHED_PHASES = new Set(['Succeeded', 'Failed']);

export class PodPresenceWatch {
  private readonly stopped = new AbortController();
  /** Aborted by recheck(): the current watch or backoff ends and the pod is read again at once. */
  private wake = new AbortController();
  private uid: string | undefined;
  private presence: PodPresence | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly parts: () => Promise<ClusterParts>,
    private readonly namespace: string,
    private readonly pod: string,
    private readonly onChange: (presence: PodPresence, reason?: PodGoneReason) => void,
    private readonly backoff: PresenceBackoff = PRESENCE_BACKOFF,
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  /**
   * A stream through kas broke: read the pod again now instead of waiting for the watch. The
   * caller has stopped trusting the last verdict (a forward says "reconnecting" meanwhile), so the
   * next one is reported even when it is the same.
   */
  recheck(): void {
    this.presence = undefined;
    this.wake.abort();
  }

  async stop(): Promise<void> {
    this.stopped.abort();
    await this.running;
  }

  private report(presence: PodPresence, reason?: PodGoneReason): void {
    if (this.stopped.signal.aborted || presence === this.presence) return;
    this.presence = presence;
    this.onChange(presence, reason);
  }

  private async loop(): Promise<void> {
    let delay = this.backoff.initialMs;
    while (!this.stopped.signal.aborted) {
      const signal = AbortSignal.any([this.stopped.signal, this.wake.signal]);
      try {
        const target = targetOf(await this.parts());
        const pod = await requestJson<Pod>(target, this.podPath(), { signal });
        const gone = this.goneReason(pod);
        if (gone) return this.report('gone', gone);
        this.report('present');
        delay = this.backoff.initialMs;
        const ended = await this.watch(target, pod.metadata?.resourceVersion ?? '', signal);
        if (ended) return this.report('gone', ended);
      } catch (error) {
        if (this.stopped.signal.aborted) return;
        if (error instanceof KasClientError && error.code === 'NOT_FOUND') return this.report('gone', 'POD_DELETED');
        // GONE (a too old resourceVersion) only means: read the pod again.
        if (!(error instanceof KasClientError && error.code === 'GONE') && !this.wake.signal.aborted) {
          this.report('unreachable');
          await abortableSleep(delay, AbortSignal.any([this.stopped.signal, this.wake.signal]));
          delay = Math.min(delay * this.backoff.factor, this.backoff.maxMs);
        }
      }
      if (this.wake.signal.aborted) this.wake = new AbortController();
    }
  }

  /**
   * Reads watch events until the pod is gone (its reason), the server ends the watch cleanly
   * (undefined: read the pod again) or the stream breaks (rejects).
   */
  private async watch(target: HttpTarget, resourceVersion: string, signal: AbortSignal): Promise<PodGoneReason | undefined> {
    const query = new URLSearchParams({
      watch: '1',
      fieldSelector: `metadata.name=${this.pod}`,
      resourceVersion,
      allowWatchBookmarks: 'true',
    });
    const response = await openResponse(target, `${this.collectionPath()}?${query}`, { signal });
    let broken = false;
    response.once('aborted', () => (broken = true));
    response.once('error', () => (broken = true));
    const lines = readline.createInterface({ input: response, crlfDelay: Infinity });
    // readline ends only on 'end': a stream that breaks or is aborted must end the loop too.
    const abort = () => response.destroy();
    signal.addEventListener('abort', abort, { once: true });
    response.once('close', () => lines.close());
    try {
      for await (const line of lines) {
        if (!line.trim()) continue;
        const event = JSON.parse(line) as WatchEvent<Pod & { code?: number }>;
        if (event.type === 'ERROR') throw new KasClientError(event.object.code === 410 ? 'GONE' : 'BAD_RESPONSE');
        if (event.type === 'DELETED' && event.object.metadata?.uid === this.uid) return 'POD_DELETED';
        if (event.type === 'ADDED' || event.type === 'MODIFIED') {
          const gone = this.goneReason(event.object);
          if (gone) return gone;
        }
      }
    } finally {
      signal.removeEventListener('abort', abort);
      lines.close();
      response.destroy();
    }
    if (!broken && response.complete) return undefined;
    // Said before the next read, which may wait long in kas for the agent to come back.
    this.report('unreachable');
    throw new KasClientError('UNREACHABLE');
  }

  private goneReason(pod: Pod): PodGoneReason | undefined {
    const uid = pod.metadata?.uid;
    this.uid ??= uid;
    if (uid !== this.uid) return 'POD_DELETED';
    if (FINISHED_PHASES.has(pod.status?.phase ?? '')) return 'POD_FINISHED';
    return undefined;
  }

  private collectionPath(): string {
    return `api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods`;
  }

  private podPath(): string {
    return `${this.collectionPath()}/${encodeURIComponent(this.pod)}`;
  }
}

function targetOf(parts: ClusterParts): HttpTarget {
  return { baseUrl: parts.server, authorization: `Bearer ${parts.token}`, caPem: parts.caPem, timeoutMs: parts.timeoutMs };
}
