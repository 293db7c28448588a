// Events expire, as with kube-apiserver's --event-ttl (1 h by default): without it a dev cluster
// left running (npm start) would keep every event the kubelet ever wrote, and save them all.
import type { ObjectStore } from '../types';

const EVENTS = { group: '', version: 'v1', resource: 'events' };

export const DEFAULT_EVENT_TTL_MS = 60 * 60 * 1000;
const SWEEP_INTERVAL_MS = 60 * 1000;

function lastSeenMs(event: Record<string, unknown> & { metadata: { creationTimestamp?: string } }): number {
  const stamp = (event.lastTimestamp ?? event.eventTime ?? event.metadata.creationTimestamp) as string | undefined;
  return Date.parse(stamp ?? '');
}

/** Deletes events last seen more than ttlMs ago; returns how many went. */
export function deleteExpiredEvents(store: ObjectStore, ttlMs: number, now = Date.now()): number {
  let deleted = 0;
  for (const event of store.list(EVENTS).items) {
    const seen = lastSeenMs(event);
    if (Number.isNaN(seen) || now - seen <= ttlMs) continue;
    try {
      store.delete(EVENTS, event.metadata.namespace, event.metadata.name ?? '');
      deleted++;
    } catch {
      // deleted meanwhile by someone else: nothing to do
    }
  }
  return deleted;
}

/** Sweeps expired events every minute until the returned function is called. */
export function startEventExpiry(store: ObjectStore, ttlMs = DEFAULT_EVENT_TTL_MS): () => void {
  const timer = setInterval(() => deleteExpiredEvents(store, ttlMs), SWEEP_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
