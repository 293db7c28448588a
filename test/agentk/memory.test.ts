// agentk's idle collections (agent/agentk/memory.ts), observed through V8's own GC entries: one
// full collection after start-up, one after any busy spell once the event loop is quiet again
// (whichever transport or module did the work), none while agentk stays idle.
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { collectWhenIdle } from '../../agent/agentk/memory';

const CHECK_MS = 200;

/** Counts the full collections someone asked for (gc()), not the ones V8 chose. */
function forcedFullCollections(): { count: () => number; stop: () => void } {
  let count = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries() as (PerformanceEntry & { detail?: { kind: number; flags: number } })[]) {
      const { kind, flags } = entry.detail ?? { kind: 0, flags: 0 };
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR && flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) count++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return { count: () => count, stop: () => observer.disconnect() };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Keeps the event loop busy for `ms`, as a burst of requests does. */
function spin(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) JSON.parse(JSON.stringify({ rows: Array.from({ length: 100 }, (_, i) => i) }));
}

describe('agentk collects when idle', function () {
  this.timeout(30_000);
  let stopCollecting: (() => void) | undefined;
  let collections: ReturnType<typeof forcedFullCollections> | undefined;
  afterEach(() => {
    stopCollecting?.();
    collections?.stop();
  });

  it('collects after start-up, again after a busy spell, and not while idle', async () => {
    collections = forcedFullCollections();
    const gcs = collections;
    stopCollecting = collectWhenIdle(CHECK_MS);
    await until('the start-up collection', () => gcs.count() >= 1);
    // Idle: the collections stop. The test process's own start-up work may still count as busy
    // once or twice, so this waits for ten quiet intervals in a row without a collection.
    let quietSince = { at: Date.now(), count: gcs.count() };
    await until('ten intervals without a collection', () => {
      if (gcs.count() !== quietSince.count) quietSince = { at: Date.now(), count: gcs.count() };
      return Date.now() - quietSince.at >= 10 * CHECK_MS;
    });
    const afterStart = gcs.count();
    spin(3 * CHECK_MS);
    await until('the collection after the busy spell', () => gcs.count() > afterStart);
  });
});
