// agentk side: keeps a pool of idle Connect streams open to kas, each waiting for one request.
//   - at least minIdle idle (or opening) streams; when requests eat into them, scaleUpStep more;
//   - at most maxStreams streams in all;
//   - an idle stream beyond minIdle closes after idleTimeoutMs;
//   - a stream that fails before kas accepted it counts as a connection failure: reconnects wait
//     per the backoff (1 s × 1.6 up to 20 s, jitter 0.2, reset after 25 s of health).
import { Status } from '../../../internal/grpc';
import { Gauge } from 'prom-client';
import { processMetric } from '../../../internal/metrics';
import type { Logger } from '../../../internal/log';
import type { AgentDescriptor, ConnectRequest, ConnectResponse, RequestInfo } from '../protocol';
import { Backoff, DEFAULT_BACKOFF, type BackoffSettings } from './backoff';
import type { TunnelClientStream } from './dial';
import type { CallObserver, CallStatus } from './grpc_client';

export interface PoolSettings {
  minIdle: number;
  scaleUpStep: number;
  maxStreams: number;
  idleTimeoutMs: number;
  backoff: BackoffSettings;
}

export const DEFAULT_POOL_SETTINGS: PoolSettings = {
  minIdle: 2,
  scaleUpStep: 10,
  maxStreams: 500,
  idleTimeoutMs: 60_000,
  backoff: DEFAULT_BACKOFF,
};

/** Serves one tunneled request; owns the stream from here on (reads the rest, writes the answer, ends it). */
export type TunnelRequestHandler = (stream: TunnelClientStream, request: RequestInfo) => void;

export interface TunnelPoolOptions {
  openStream(): TunnelClientStream;
  descriptor: AgentDescriptor;
  handleRequest: TunnelRequestHandler;
  settings?: Partial<PoolSettings>;
  logger: Logger;
}

export interface PoolStats {
  opening: number;
  idle: number;
  busy: number;
  /** Whether kas accepted a stream since the last connection failure. */
  connected: boolean;
}

/** closing: agentk half-closed a surplus idle stream and waits for kas to end it. */
type StreamState = 'opening' | 'idle' | 'busy' | 'closing';

/** The pool's side of its streams' events (one object per pool, shared by its PooledStreams). */
interface PoolStreamEvents {
  accepted(pooled: PooledStream): void;
  request(pooled: PooledStream, message: ConnectResponse): void;
  answerSent(pooled: PooledStream): void;
  finished(pooled: PooledStream, status: CallStatus): void;
}

/** A pool entry; it observes its call directly (no listeners or closures per stream). */
class PooledStream implements CallObserver<ConnectResponse> {
  state: StreamState = 'opening';
  idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly stream: TunnelClientStream,
    private readonly events: PoolStreamEvents,
  ) {}

  onAccepted(): void {
    this.events.accepted(this);
  }

  onFirstMessage(message: ConnectResponse): void {
    this.events.request(this, message);
  }

  onEndSent(): void {
    this.events.answerSent(this);
  }

  onFinished(status: CallStatus): void {
    this.events.finished(this, status);
  }
}

/** What the top-up rule looks at: streams per state, opens scheduled for the next turn, streams in all. */
export interface PoolCounts {
  opening: number;
  idle: number;
  busy: number;
  scheduled: number;
  total: number;
}

/**
 * How many streams to open (the reference's rules): none while minIdle streams are idle, opening
 * or scheduled; a quiet pool (nothing busy) tops up to minIdle; under load, scaleUpStep at a time;
 * never beyond maxStreams. deferWhileSpare: none while a spare stream is left (the caller tops up
 * when the answer goes out, see TunnelPool.ensureCapacity).
 */
export function streamsToOpen(
  counts: PoolCounts,
  settings: Pick<PoolSettings, 'minIdle' | 'scaleUpStep' | 'maxStreams'>,
  deferWhileSpare = false,
): number {
  const available = counts.opening + counts.idle + counts.scheduled;
  if (available >= settings.minIdle) return 0;
  if (deferWhileSpare && available > 0) return 0;
  const wanted = counts.busy === 0 ? settings.minIdle - available : settings.scaleUpStep;
  const room = settings.maxStreams - counts.total - counts.scheduled;
  return Math.max(0, Math.min(wanted, room));
}

const poolSources = new Set<() => PoolStats>();
function sumStats(pick: (s: PoolStats) => number): number {
  return [...poolSources].reduce((sum, source) => sum + pick(source()), 0);
}
processMetric(
  'agentk_tunnels_idle',
  () =>
    new Gauge({
      name: 'agentk_tunnels_idle',
      help: 'Idle tunnel streams open to kas.',
      collect() {
        this.set(sumStats((s) => s.idle));
      },
    }),
);
processMetric(
  'agentk_tunnels_busy',
  () =>
    new Gauge({
      name: 'agentk_tunnels_busy',
      help: 'Tunnel streams carrying a request.',
      collect() {
        this.set(sumStats((s) => s.busy));
      },
    }),
);

export class TunnelPool {
  private readonly settings: PoolSettings;
  private readonly streams = new Set<PooledStream>();
  /** Streams per state, kept as states change: stats() runs several times per request. */
  private readonly counts: Record<StreamState, number> = { opening: 0, idle: 0, busy: 0, closing: 0 };
  private readonly backoff: Backoff;
  private backoffTimer: NodeJS.Timeout | undefined;
  private scheduledOpens = 0;
  private connected = false;
  private stopped = false;
  private readonly statsSource = () => this.stats();
  /** The same request object on every stream: dial.ts frames a descriptor once and reuses the bytes. */
  private readonly descriptorRequest: ConnectRequest;
  private readonly streamEvents: PoolStreamEvents = {
    accepted: (pooled) => this.onAccepted(pooled),
    request: (pooled, message) => this.onRequest(pooled, message.requestInfo ?? undefined),
    answerSent: (pooled) => this.onAnswerSent(pooled),
    finished: (pooled, status) => this.onStreamFinished(pooled, status.code === Status.OK ? undefined : status),
  };

  constructor(private readonly options: TunnelPoolOptions) {
    this.settings = { ...DEFAULT_POOL_SETTINGS, ...options.settings };
    this.backoff = new Backoff(this.settings.backoff);
    this.descriptorRequest = { descriptor: options.descriptor };
  }

  start(): void {
    poolSources.add(this.statsSource);
    this.ensureCapacity();
  }

  stop(): void {
    this.stopped = true;
    this.scheduledOpens = 0;
    poolSources.delete(this.statsSource);
    clearTimeout(this.backoffTimer);
    for (const pooled of this.streams) {
      clearTimeout(pooled.idleTimer);
      pooled.stream.cancel();
    }
    this.streams.clear();
    this.counts.opening = this.counts.idle = this.counts.busy = this.counts.closing = 0;
  }

  stats(): PoolStats {
    const { opening, idle, busy } = this.counts;
    return { opening, idle, busy, connected: this.connected };
  }

  private setState(pooled: PooledStream, state: StreamState): void {
    // A stream that already finished (a late message after its status) is no longer counted.
    if (this.streams.has(pooled)) {
      this.counts[pooled.state]--;
      this.counts[state]++;
    }
    pooled.state = state;
  }

  /**
   * Opens streams when fewer than minIdle are idle or opening. deferWhileSpare: called for a
   * stream that just took a request; while a spare stream is left, the top-up waits until that
   * stream's answer is sent (onAnswerSent), so that its HEADERS leave in the same write as the
   * answer and kas's acceptance arrives with kas's trailers: one wake-up less on each side per
   * request (measured with strace: kas read, accept-write and agentk read per request).
   */
  private ensureCapacity(options: { deferWhileSpare?: boolean; now?: boolean } = {}): void {
    if (this.stopped || this.backoffTimer) return;
    const { opening, idle, busy } = this.counts;
    const count = streamsToOpen(
      { opening, idle, busy, scheduled: this.scheduledOpens, total: this.streams.size },
      this.settings,
      options.deferWhileSpare,
    );
    if (count === 0) return;
    if (options.now) for (let i = 0; i < count; i++) this.openOne();
    else this.openBatch(count);
  }

  /** agentk finished writing a request's answer: the deferred top-up happens now, in the same write. */
  private onAnswerSent(pooled: PooledStream): void {
    if (pooled.state === 'busy') this.ensureCapacity({ now: true });
  }

  /**
   * Opens a batch of streams together, in the next event-loop turn: the request that asked for
   * them goes out first, and HTTP/2 carries the whole batch's HEADERS in one write that kas reads
   * in one go. (One stream per turn cost a write and a wake-up on both ends per stream: the
   * benchmark at 50 connections spent ~25% more CPU per request in kas and agentk.)
   */
  private openBatch(count: number): void {
    this.scheduledOpens += count;
    setImmediate(() => {
      if (this.stopped) return;
      this.scheduledOpens -= count;
      for (let i = 0; i < count; i++) this.openOne();
    });
  }

  private openOne(): void {
    const stream = this.options.openStream();
    const pooled = new PooledStream(stream, this.streamEvents);
    this.streams.add(pooled);
    this.counts.opening++;
    stream.observe(pooled);
    stream.write(this.descriptorRequest);
  }

  private onAccepted(pooled: PooledStream): void {
    if (pooled.state !== 'opening') return;
    this.connected = true;
    this.backoff.markHealthy();
    this.setIdle(pooled);
  }

  private setIdle(pooled: PooledStream): void {
    this.setState(pooled, 'idle');
    pooled.idleTimer = setTimeout(() => this.closeIfSurplus(pooled), this.settings.idleTimeoutMs);
  }

  private closeIfSurplus(pooled: PooledStream): void {
    if (pooled.state !== 'idle' || this.stopped) return;
    if (this.counts.idle > this.settings.minIdle) {
      // A half-close, not a cancel: kas may have claimed this stream in the same instant; a
      // clean end tells it that agentk never saw the request, so kas replays it elsewhere.
      this.setState(pooled, 'closing');
      pooled.stream.end();
    } else {
      pooled.idleTimer = setTimeout(() => this.closeIfSurplus(pooled), this.settings.idleTimeoutMs);
    }
  }

  private onRequest(pooled: PooledStream, request: RequestInfo | undefined): void {
    if (this.stopped || pooled.state === 'closing') return;
    clearTimeout(pooled.idleTimer);
    if (pooled.state === 'opening') this.onAccepted(pooled);
    clearTimeout(pooled.idleTimer);
    this.setState(pooled, 'busy');
    this.ensureCapacity({ deferWhileSpare: true });
    if (!request) {
      this.options.logger.warn('kas sent a tunnel message without a request; closing the stream');
      pooled.stream.cancel();
      return;
    }
    this.options.handleRequest(pooled.stream, request);
  }

  private onStreamFinished(pooled: PooledStream, err: CallStatus | undefined): void {
    clearTimeout(pooled.idleTimer);
    const wasKnown = this.streams.delete(pooled);
    if (wasKnown) this.counts[pooled.state]--;
    if (this.stopped || !wasKnown) return;
    // A refusal: before kas accepted the stream, or kas's own status on a stream it never used
    // (streams on an accepted connection count as accepted before kas checked them, see
    // SessionAcceptance in grpc_client.ts; a revoked token is refused then).
    const refusedByKas = pooled.state === 'idle' && err !== undefined && err.fromKas === true;
    if ((pooled.state === 'opening' && err) || refusedByKas) {
      this.onConnectFailure(err!);
      return;
    }
    this.ensureCapacity();
  }

  private onConnectFailure(err: CallStatus): void {
    this.connected = false;
    if (this.backoffTimer) return; // one backoff step per failed round, however many streams failed
    const delayMs = this.backoff.nextDelayMs();
    const level = err.code === Status.UNAUTHENTICATED ? 'error' : 'warn';
    this.options.logger[level]('cannot open tunnel to kas; retrying', {
      code: Status[err.code],
      details: err.details,
      retryInMs: delayMs,
    });
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.ensureCapacity();
    }, delayMs);
  }
}
