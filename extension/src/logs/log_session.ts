// One pod-log stream feeding the log view: opens the stream, splits it into lines, batches them
// (one message per ~50 ms rather than per line), and works out the states users need to see:
// no logs yet (container not started: retry), pod failed, pod deleted, stream ended, error.
// Following, it carries on across container restarts: when the stream ends and the pod's policy
// restarts the container, it waits out the back-off and streams the new instance after a break.
import type { Readable } from 'node:stream';
import type { LogTarget, LogViewState } from '../../../webviews/logview/messages';
import { KasClientError, userMessage } from '../kas_client/errors';
import { abortableSleep } from '../cache/sleep';
import type { KubeClient, Pod } from '../kas_client/kube_client';

export interface LogSessionEvents {
  lines(lines: string[]): void;
  state(state: LogViewState, detail: string): void;
  /** The container restarted; the lines that follow are its new instance's (`restartCount` of them so far). */
  restarted?(restartCount: number): void;
}

export interface LogSessionOptions {
  follow: boolean;
  tailLines: number;
  /** The instance before the container's last restart (read once; follow does not apply). */
  previous?: boolean;
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
  /** The restartCount of the instance being streamed, once the pod has been read. */
  private instance: number | undefined;

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
      if (outcome === 'done') return;
      if (outcome === 'retry') await this.sleep(this.retryMs);
    }
  }

  private get following(): boolean {
    return this.options.follow && !this.options.previous;
  }

  private get retryMs(): number {
    return this.options.waitRetryMs ?? 2000;
  }

  /** One try at streaming; 'retry' when the container has not started yet, 'restarted' to stream its new instance. */
  private async attempt(): Promise<'done' | 'retry' | 'restarted'> {
    const pod = await this.readPod();
    if (pod === 'deleted') return this.finish('podDeleted', 'The pod no longer exists.');
    if (this.options.previous && pod && containerRestartCount(pod, this.target.container) === 0) return this.noPreviousInstance();
    if (!this.options.previous && pod && !containerStarted(pod, this.target.container)) {
      this.events.state(
        'waiting',
        `No logs yet: container ${this.target.container} has not started (${waitingReason(pod, this.target.container)}).`,
      );
      return 'retry';
    }
    // After a restart the new instance is read from its first line: it has only just started.
    const afterRestart = this.instance !== undefined;
    if (pod) this.instance = containerRestartCount(pod, this.target.container);
    try {
      const stream = await this.client.streamLogs(this.target.namespace, this.target.pod, {
        container: this.target.container,
        follow: this.following,
        tailLines: afterRestart ? undefined : this.options.tailLines,
        previous: this.options.previous,
        signal: this.abort.signal,
      });
      this.events.state('streaming', this.streamingDetail());
      await this.consume(stream);
    } catch (error) {
      if (this.abort.signal.aborted) return 'done';
      // 400 is the API's answer to previous=true when the container has not restarted.
      if (this.options.previous && error instanceof KasClientError && error.status === 400) return this.noPreviousInstance();
      if (!(error instanceof KasClientError && (error.code === 'NOT_FOUND' || error.code === 'UNREACHABLE'))) {
        return this.finish('error', userMessage(error));
      }
    }
    return this.afterStream();
  }

  private streamingDetail(): string {
    if (this.options.previous) return `Instance before restart ${this.instance ?? '?'} (last ${this.options.tailLines} lines).`;
    return this.options.follow ? 'Following new lines.' : `Last ${this.options.tailLines} lines.`;
  }

  private noPreviousInstance(): 'done' {
    return this.finish('ended', `No previous logs: container ${this.target.container} has not restarted.`);
  }

  /**
   * The stream ended or broke: say why, from the pod's state. Following, a container the pod
   * restarts is waited for (through its back-off) and its new instance streamed.
   */
  private async afterStream(): Promise<'done' | 'restarted'> {
    this.flush();
    let waitingShown = false;
    // The stream can end a moment before the status says the container stopped: look again a few times.
    for (let stillRunning = 0; !this.abort.signal.aborted;) {
      const pod = await this.readPod();
      if (pod === 'deleted') return this.finish('podDeleted', 'The pod was deleted; the lines above are the last ones received.');
      if (pod?.status?.phase === 'Failed')
        return this.finish(
          'podFailed',
          `The pod failed${pod.status.reason ? ` (${pod.status.reason})` : ''}; the lines above are its last logs.`,
        );
      const next = this.following && pod && this.instance !== undefined ? afterEnd(pod, this.target.container, this.instance) : 'ended';
      if (next === 'restarted') {
        this.events.restarted?.(containerRestartCount(pod as Pod, this.target.container));
        return 'restarted';
      }
      if (next === 'ended' || (next === 'running' && ++stillRunning > 3)) return this.finish('ended', 'The log stream ended.');
      if (next === 'restarting' && !waitingShown) {
        waitingShown = true;
        this.events.state('waiting', `Container ${this.target.container} exited; waiting for it to restart.`);
      }
      await this.sleep(next === 'running' ? Math.min(this.retryMs, 500) : this.retryMs);
    }
    return 'done';
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

/** How often `container` of `pod` restarted (0 when it has no status yet). */
export function containerRestartCount(pod: Pod, container: string): number {
  return pod.status?.containerStatuses?.find((s) => s.name === container)?.restartCount ?? 0;
}

/**
 * After the stream of instance `instance` ended: a newer instance exists, the container waits to
 * restart (back-off) or will, it still shows running (the status lags), or it is done for good.
 */
function afterEnd(pod: Pod, container: string, instance: number): 'restarted' | 'restarting' | 'running' | 'ended' {
  const status = pod.status?.containerStatuses?.find((s) => s.name === container);
  if (!status) return 'ended';
  if ((status.restartCount ?? 0) > instance) return 'restarted';
  if (status.state?.waiting) return 'restarting';
  if (status.state?.running) return 'running';
  const exitCode = status.state?.terminated?.exitCode ?? 0;
  const policy = pod.spec?.restartPolicy ?? 'Always';
  return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0) ? 'restarting' : 'ended';
}

function waitingReason(pod: Pod, container: string): string {
  const status = pod.status?.containerStatuses?.find((s) => s.name === container);
  return status?.state?.waiting?.reason ?? pod.status?.phase ?? 'Pending';
}
