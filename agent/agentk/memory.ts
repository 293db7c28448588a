// agentk's memory between bursts. V8 keeps the heap a burst of requests grew (both young-generation
// semispaces and old-space pages) and gives it back only when a later allocation-driven collection
// or its memory reducer gets around to it; measured (BENCHMARKS.md, agentk memory) agentk sat at
// the RSS of its last load for minutes. So once agentk has been busy and is quiet again, and once
// after start-up, it asks for a full collection, which shrinks the heap and returns its pages.
// At most once per quiet period: an idle agentk does no work.
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const CHECK_MS = 5_000;
/**
 * "Busy" is the event loop's utilization over a check interval, whatever the work was: requests on
 * either tunnel transport, a watch's events, a configuration change. An idle agentk (leader
 * election's renewals every 2 s, kas's pings) stays far below this; a request a second is below it
 * too, and allocates too little to matter.
 */
const BUSY_UTILIZATION = 0.05;
/**
 * V8 drops a function's bytecode once it has gone unused through --bytecode-old-age (5) full
 * collections. Start-up code (the bundle's module bodies, argument parsing, the first config) runs
 * once, so after start-up agentk asks for one more than that, back to back (a few ms on its small
 * heap): measured idle RSS 60.1 -> 59.2 MiB (V8's anonymous pages 11.7 -> 11.1, BENCHMARKS.md).
 */
const START_UP_COLLECTIONS = 6;

/** V8's gc(), made reachable without --expose-gc on the command line (agentk is run as `node dist/agentk.js`). */
function fullCollection(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined; // a runtime without the flag: the heap shrinks on V8's own schedule
  }
}

/**
 * V8 doubles the young generation (up to 2 x 16 MiB here) when a burst's objects survive, and
 * never shrinks it again outside memory pressure: measured, agentk stayed 32 MiB above its idle
 * RSS after every load. Growth factor 1 keeps the semispaces at their start size; the scavenges
 * that costs are cheap (a request's garbage dies young). The flag is read at each growth, so it
 * works when set at run time, unlike --max-semi-space-size.
 */
function keepYoungGenerationSmall(): void {
  try {
    setFlagsFromString('--semi-space-growth-factor=1');
  } catch {
    // not this V8: the young generation grows as usual
  }
}

/**
 * undici parses HTTP/1.1 with llhttp compiled to WebAssembly, and V8 compiles that module with
 * TurboFan as well as Liftoff: measured, ~35 MiB of V8's malloc'd zone memory at the first upstream
 * connection, on worker threads, whose malloc arenas kept 10-12 MiB of it resident for good (idle
 * RSS 65-80 MiB from run to run). Liftoff alone compiles it in ~2 MiB. Set before the first
 * connection: V8 reads it when it compiles the module.
 */
function wasmBaselineCompilerOnly(): void {
  try {
    setFlagsFromString('--liftoff-only');
  } catch {
    // not this V8: llhttp is compiled as usual
  }
}

/** V8 settings for a process that is agentk's alone; before any module starts (and so before undici compiles llhttp). */
export function tuneOwnProcess(): void {
  keepYoungGenerationSmall();
  wasmBaselineCompilerOnly();
}

/** Collects once after start-up and once whenever a busy interval is followed by a quiet one; returns the stop. */
export function collectWhenIdle(checkMs = CHECK_MS): () => void {
  const gc = fullCollection();
  if (!gc) return () => undefined;
  let collections = START_UP_COLLECTIONS; // start-up allocated (bundle init, the kubeconfig, the first config)
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, last).utilization >= BUSY_UTILIZATION;
    last = now;
    if (busy) collections = Math.max(collections, 1);
    else if (collections > 0) {
      for (; collections > 0; collections--) gc();
      last = performance.eventLoopUtilization(); // the collection itself is not work
    }
  }, checkMs);
  timer.unref();
  return () => clearInterval(timer);
}
