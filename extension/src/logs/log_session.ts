// One pod-log stream feeding the log view: opens the stream, splits it into lines, batches them
// (one message per ~50 ms rather than per line), and works out the states users need to see:
// no logs yet (container not started: retry), pod failed, pod deleted, stream ended, error.
import type { Readable } from 'node:stream';
import type { LogTarget, LogViewState } from '../../../webviews/logview/messages';
import { KasClientError, userMessage } from '../kas_client/errors';
import { abortableSleep } from '../cache/sleep';
import type { KubeClient, Pod } from '../kas_client/kube_client';

export interface LogSessionEvents {
  lines(lines: string[]): void;
  state(state: LogViewState, detail: string): void;
}

export interface LogSessionOptions {
  follow: boolean;
  tailLines: number;
  batchMs?: number;
  /** Delay between attempts while the container has not started. */
  waitRetryMs?: number;
}

export class LogSession {
  private readonly abort = new AbortController();
  private pending: string[] = [];
  private partial = '';
  private flushTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly target: LogTarget,
    private readonly options: LogSessionOptions,
    private readonly events: LogSessionEvents,
  ) {}

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.flushTimer);
    await this.running;
  }

  private async run(): Promise<void> {
    this.events.state('connecting', `${this.target.namespace}/${this.target.pod} (${this.target.container})`);
    while (!this.abort.signal.aborted) {
      const outcome = await this.attempt();
      if (outcome !== 'retry') return;
      await this.sleep(this.options.waitRetryMs ?? 2000);
    }
  }

  /** One try at streaming; 'retry' when the container has not started yet. */
  private async attempt(): Promise<'done' | 'retry'> {
    const pod = await this.readPod();
    if (pod === 'deleted') return this.finish('podDeleted', 'The pod no longer exists.');
    if (pod && !containerStarted(pod, this.target.container)) {
      this.events.state(
        'waiting',
        `No logs yet: container ${this.target.container} has not started (${waitingReason(pod, this.target.container)}).`,
      );
      return 'retry';
    }
    try {
      const stream = await this.client.streamLogs(this.target.namespace, this.target.pod, {
        container: this.target.container,
        follow: this.options.follow,
        tailLines: this.options.tailLines,
        signal: this.abort.signal,
      });
      this.events.state('streaming', this.options.follow ? 'Following new lines.' : `Last ${this.options.tailLines} lines.`);
      await this.consume(stream);
    } catch (error) {
      if (this.abort.signal.aborted) return 'done';
      if (!(error instanceof KasClientError && (error.code === 'NOT_FOUND' || error.code === 'UNREACHABLE'))) {
        return this.finish('error', userMessage(error));
      }
    }
    return this.afterStream();
  }

  /** The stream ended or broke: say why, from the pod's state. */
  private async afterStream(): Promise<'done'> {
    this.flush();
    if (this.abort.signal.aborted) return 'done';
    const pod = await this.readPod();
    if (pod === 'deleted') return this.finish('podDeleted', 'The pod was deleted; the lines above are the last ones received.');
    if (pod?.status?.phase === 'Failed')
      return this.finish(
        'podFailed',
        `The pod failed${pod.status.reason ? ` (${pod.status.reason})` : ''}; the lines above are its last logs.`,
      );
    return this.finish('ended', 'The log stream ended.');
  }

  private finish(state: LogViewState, detail: string): 'done' {
    this.flush();
    if (!this.abort.signal.aborted) this.events.state(state, detail);
    return 'done';
  }

  private async readPod(): Promise<Pod | 'deleted' | undefined> {
    try {
      return await this.client.readPod(this.target.namespace, this.target.pod, this.abort.signal);
    } catch (error) {
      // Unknown: carry on and let the log request tell.
      return error instanceof KasClientError && error.code === 'NOT_FOUND' ? 'deleted' : undefined;
    }
  }

  private async consume(stream: Readable): Promise<void> {
    try {
      for await (const chunk of stream) this.push((chunk as Buffer).toString('utf8'));
    } catch {
      // A broken connection mid-stream; afterStream() explains it from the pod's state.
      if (!this.abort.signal.aborted) throw new KasClientError('UNREACHABLE');
    }
    if (this.partial) this.pending.push(this.partial);
    this.partial = '';
  }

  private push(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    this.pending.push(...parts);
    this.flushTimer ??= setTimeout(() => this.flush(), this.options.batchMs ?? 50);
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.events.lines(lines);
  }

  private sleep(ms: number): Promise<void> {
    return abortableSleep(ms, this.abort.signal);
  }
}

function containerStarted(pod: Pod, container: string): boolean {
  const status = pod.status?.containerStatuses?.find((s) => s.name === container);
  if (!status) return pod.status?.phase !== 'Pending';
  return Boolean(status.state?.running || status.state?.terminated) || (status.restartCount ?? 0) > 0;
}

function waitingReason(pod: Pod, container: string): string {
  const status = pod.status?.containerStatuses?.find((s) => s.name === container);
  return status?.state?.waiting?.reason ?? pod.status?.phase ?? 'Pending';
}
