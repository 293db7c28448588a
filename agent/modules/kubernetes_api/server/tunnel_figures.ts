// Per-agent tunnel figures for the REST API (GET /api/v1/agents/<id>/tunnel_figures): the
// proxy's request histogram (metrics.ts) is per process and per status only, so the same
// observations are also kept here per agent, in one-minute buckets over the last 15 minutes,
// with the histogram's bucket bounds; p50/p99 are estimated from those buckets the way
// Prometheus's histogram_quantile does. Memory is bounded: 15 buckets per agent that made a
// request, and an agent whose buckets all left the window is dropped.
import type { TunnelFiguresMinute, TunnelFiguresView } from '../../../shared/kas_api';
import type { TunnelCounts } from '../../reverse_tunnel/server/metrics';
import { PROXY_DURATION_BUCKETS } from './metrics';

export const WINDOW_MINUTES = 15;
const MINUTE_MS = 60_000;

interface MinuteBucket {
  start: number;
  requests: number;
  errors: number;
  /** Counts per histogram bucket (not cumulative); the last one is +Inf. */
  latency: number[];
  /** Open streams when last sampled in this minute. */
  openStreams: number;
}

export interface TunnelFiguresOptions {
  /** This replica's tunnel streams per agent (the tunnel registry's counts). */
  streams: () => TunnelCounts[];
  now?: () => number;
}

export class TunnelFigures {
  private readonly agents = new Map<string, MinuteBucket[]>();
  private readonly now: () => number;

  constructor(private readonly options: TunnelFiguresOptions) {
    this.now = options.now ?? Date.now;
  }

  /** One answered request; `status` 0 means none came (counted as an error). */
  record(agentId: string, status: number, seconds: number): void {
    const bucket = this.currentBucket(agentId);
    bucket.requests++;
    if (status === 0 || status >= 500) bucket.errors++;
    bucket.latency[bucketIndex(seconds)]!++;
  }

  view(agentId: number): TunnelFiguresView {
    const key = String(agentId);
    const counts = this.streamsOf(key);
    const open = counts.idle + counts.busy;
    const minutes = this.minutes(key, open);
    const latency = sumLatency(minutes.map((m) => m.latency));
    const requests = minutes.reduce((sum, m) => sum + m.requests, 0);
    const errors = minutes.reduce((sum, m) => sum + m.errors, 0);
    return {
      agentId,
      windowMinutes: WINDOW_MINUTES,
      minutes: minutes.map(toView),
      requestsPerMinute: requests / WINDOW_MINUTES,
      errorsPerMinute: errors / WINDOW_MINUTES,
      p50Ms: quantileMs(latency, 0.5),
      p99Ms: quantileMs(latency, 0.99),
      openStreams: open,
      busyStreams: counts.busy,
      scope: 'replica',
    };
  }

  private currentBucket(agentId: string): MinuteBucket {
    const start = minuteStart(this.now());
    let buckets = this.agents.get(agentId);
    if (!buckets) {
      buckets = [];
      this.agents.set(agentId, buckets);
      this.dropIdleAgents(start);
    }
    let last = buckets[buckets.length - 1];
    if (last?.start !== start) {
      last = emptyBucket(start, this.openStreams(agentId));
      buckets.push(last);
      while (buckets.length > 0 && buckets[0]!.start <= start - WINDOW_MINUTES * MINUTE_MS) buckets.shift();
    }
    last.openStreams = this.openStreams(agentId);
    return last;
  }

  /**
   * The window's 15 minutes, oldest first, with empty ones filled in. A minute without requests
   * has no sample of the open streams: it carries the last sample before it (streams change only
   * when agentk connects or traffic runs), and the minute under way shows the streams now.
   */
  private minutes(agentId: string, openNow: number): MinuteBucket[] {
    const current = minuteStart(this.now());
    const kept = new Map((this.agents.get(agentId) ?? []).map((b) => [b.start, b]));
    const result: MinuteBucket[] = [];
    let carried = 0;
    for (let i = WINDOW_MINUTES - 1; i >= 0; i--) {
      const start = current - i * MINUTE_MS;
      const bucket = kept.get(start);
      if (bucket) carried = bucket.openStreams;
      result.push(bucket ? { ...bucket } : emptyBucket(start, carried));
    }
    result[result.length - 1]!.openStreams = openNow;
    return result;
  }

  private dropIdleAgents(current: number): void {
    for (const [agentId, buckets] of this.agents) {
      const newest = buckets[buckets.length - 1];
      if (newest && newest.start <= current - WINDOW_MINUTES * MINUTE_MS) this.agents.delete(agentId);
    }
  }

  private openStreams(agentId: string): number {
    const counts = this.streamsOf(agentId);
    return counts.idle + counts.busy;
  }

  private streamsOf(agentId: string): { idle: number; busy: number } {
    return this.options.streams().find((c) => c.agentId === agentId) ?? { idle: 0, busy: 0 };
  }
}

function minuteStart(ms: number): number {
  return ms - (ms % MINUTE_MS);
}

function emptyBucket(start: number, openStreams: number): MinuteBucket {
  return { start, requests: 0, errors: 0, latency: new Array<number>(PROXY_DURATION_BUCKETS.length + 1).fill(0), openStreams };
}

function bucketIndex(seconds: number): number {
  const index = PROXY_DURATION_BUCKETS.findIndex((bound) => seconds <= bound);
  return index === -1 ? PROXY_DURATION_BUCKETS.length : index;
}

function sumLatency(all: number[][]): number[] {
  const total = new Array<number>(PROXY_DURATION_BUCKETS.length + 1).fill(0);
  for (const counts of all) counts.forEach((count, i) => (total[i]! += count));
  return total;
}

/**
 * The q-quantile in ms from bucket counts, interpolating linearly inside the bucket the rank
 * falls in (as histogram_quantile); in the +Inf bucket, the highest finite bound.
 */
export function quantileMs(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((sum, c) => sum + c, 0);
  if (total === 0) return null;
  const rank = q * total;
  let cumulative = 0;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]!;
    if (cumulative + count >= rank && count > 0) {
      if (i >= PROXY_DURATION_BUCKETS.length) return PROXY_DURATION_BUCKETS[PROXY_DURATION_BUCKETS.length - 1]! * 1000;
      const lower = i === 0 ? 0 : PROXY_DURATION_BUCKETS[i - 1]!;
      const upper = PROXY_DURATION_BUCKETS[i]!;
      return (lower + (upper - lower) * ((rank - cumulative) / count)) * 1000;
    }
    cumulative += count;
  }
  return null;
}

function toView(bucket: MinuteBucket): TunnelFiguresMinute {
  return {
    start: bucket.start,
    requests: bucket.requests,
    errors: bucket.errors,
    p50Ms: quantileMs(bucket.latency, 0.5),
    p99Ms: quantileMs(bucket.latency, 0.99),
    openStreams: bucket.openStreams,
  };
}

/** One figures store per kas: both modules reach it through the kas's own tunnel registry. */
const stores = new WeakMap<object, TunnelFigures>();

export function tunnelFiguresOf(registry: { counts(): TunnelCounts[] }): TunnelFigures {
  let store = stores.get(registry);
  if (!store) {
    store = new TunnelFigures({ streams: () => registry.counts() });
    stores.set(registry, store);
  }
  return store;
}
