// Container logs of the simulated kubelet: what pods/log serves. Per pod and container it keeps
// the current attempt and the one before (what `kubectl logs --previous` reads), each bounded
// to the most recent lines, with kubelet-style RFC 3339 nanosecond timestamps.
import type { LogLine, PodLogQuery, PodLogSource } from '../types';

export const DEFAULT_MAX_LINES_PER_ATTEMPT = 10_000;

export interface PodLogStoreOptions {
  maxLinesPerAttempt?: number;
  /** Wall clock in nanoseconds since the epoch; tests may replace it. */
  nowNanos?: () => bigint;
}

interface StoredLine extends LogLine {
  nanos: bigint;
}

interface Follower {
  onLine: (line: LogLine) => void;
  onEnd: () => void;
}

/** One run of a container: its lines, whether it ended, and who follows it. */
class Attempt {
  private lines: StoredLine[] = [];
  private start = 0;
  private partial = '';
  ended = false;
  readonly followers = new Set<Follower>();

  constructor(private readonly maxLines: number) {}

  /** Splits text into lines; a trailing piece without newline waits for the rest. */
  append(text: string, stamp: () => StoredLine['nanos']): void {
    const pieces = (this.partial + text).split('\n');
    this.partial = pieces.pop() ?? '';
    for (const piece of pieces) this.push(piece, stamp());
  }

  /** The container stopped: flush a last unterminated line, tell followers. */
  end(stamp: () => bigint): void {
    if (this.ended) return;
    if (this.partial !== '') this.push(this.partial, stamp());
    this.partial = '';
    this.ended = true;
    for (const follower of [...this.followers]) follower.onEnd();
    this.followers.clear();
  }

  snapshot(): StoredLine[] {
    return this.lines.slice(this.start);
  }

  private push(text: string, nanos: bigint): void {
    const line: StoredLine = { time: formatNanos(nanos), text, nanos };
    this.lines.push(line);
    // Drop the oldest lines in batches so a busy container costs amortised O(1) per line.
    if (this.lines.length - this.start > this.maxLines) this.start++;
    if (this.start > this.maxLines) {
      this.lines = this.lines.slice(this.start);
      this.start = 0;
    }
    for (const follower of this.followers) follower.onLine({ time: line.time, text: line.text });
  }
}

interface ContainerLogs {
  current: Attempt;
  previous: Attempt | undefined;
}

/** RFC 3339 with nine fractional digits, e.g. 2026-11-21T09:30:00.123456789Z. */
export function formatNanos(nanos: bigint): string {
  const millis = Number(nanos / 1_000_000n);
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  return new Date(millis).toISOString().replace(/\.\d{3}Z$/, `.${fraction}Z`);
}

/** Epoch nanoseconds from Date.now plus the sub-millisecond part of the monotonic clock. */
function wallClockNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

export class PodLogStore implements PodLogSource {
  private readonly containers = new Map<string, ContainerLogs>();
  private readonly maxLines: number;
  private readonly nowNanos: () => bigint;
  private lastNanos = 0n;

  constructor(options: PodLogStoreOptions = {}) {
    this.maxLines = options.maxLinesPerAttempt ?? DEFAULT_MAX_LINES_PER_ATTEMPT;
    this.nowNanos = options.nowNanos ?? wallClockNanos;
  }

  /** A container (re)starts: the running attempt, if any, ends and becomes the previous one. */
  startAttempt(namespace: string, pod: string, container: string): void {
    const key = containerKey(namespace, pod, container);
    const existing = this.containers.get(key);
    existing?.current.end(this.stamp);
    this.containers.set(key, { current: new Attempt(this.maxLines), previous: existing?.current });
  }

  append(namespace: string, pod: string, container: string, text: string): void {
    const logs = this.containers.get(containerKey(namespace, pod, container));
    if (logs && !logs.current.ended) logs.current.append(text, this.stamp);
  }

  /** The container stopped; followers get onEnd. */
  endAttempt(namespace: string, pod: string, container: string): void {
    this.containers.get(containerKey(namespace, pod, container))?.current.end(this.stamp);
  }

  /** The pod is gone: its logs are dropped and every follower ends. */
  deletePod(namespace: string, pod: string): void {
    const prefix = containerKey(namespace, pod, '');
    for (const [key, logs] of this.containers) {
      if (!key.startsWith(prefix)) continue;
      logs.current.end(this.stamp);
      this.containers.delete(key);
    }
  }

  /** How many follow subscriptions are open; tests use it to see that clients are cleaned up. */
  get followerCount(): number {
    let count = 0;
    for (const logs of this.containers.values()) count += logs.current.followers.size;
    return count;
  }

  read(query: PodLogQuery): LogLine[] | undefined {
    const attempt = this.attemptFor(query);
    if (!attempt) return undefined;
    let lines = attempt.snapshot();
    if (query.sinceSeconds !== undefined) {
      const cutoff = this.nowNanos() - BigInt(Math.max(0, Math.floor(query.sinceSeconds))) * 1_000_000_000n;
      lines = lines.filter((line) => line.nanos >= cutoff);
    }
    if (query.tailLines !== undefined && query.tailLines >= 0) lines = query.tailLines === 0 ? [] : lines.slice(-query.tailLines);
    return lines.map(({ time, text }) => ({ time, text }));
  }

  follow(query: PodLogQuery, onLine: (line: LogLine) => void, onEnd: () => void): () => void {
    const attempt = this.attemptFor(query);
    if (!attempt || attempt.ended) {
      // Nothing more will come; end on the next turn so the caller has its unsubscribe first.
      let cancelled = false;
      queueMicrotask(() => {
        if (!cancelled) onEnd();
      });
      return () => {
        cancelled = true;
      };
    }
    const follower: Follower = { onLine, onEnd };
    attempt.followers.add(follower);
    return () => {
      attempt.followers.delete(follower);
    };
  }

  private attemptFor(query: PodLogQuery): Attempt | undefined {
    const logs = this.containers.get(containerKey(query.namespace, query.pod, query.container));
    return query.previous ? logs?.previous : logs?.current;
  }

  /** Timestamps never go backwards, and each line gets its own, like kubelet's. */
  private readonly stamp = (): bigint => {
    const now = this.nowNanos();
    this.lastNanos = now > this.lastNanos ? now : this.lastNanos + 1n;
    return this.lastNanos;
  };
}

function containerKey(namespace: string, pod: string, container: string): string {
  return `${namespace}\u0000${pod}\u0000${container}`;
}
