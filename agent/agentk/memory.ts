// agentk's memory between bursts. V8 keeps the heap a burst of requests grew (both young-generation
// semispaces and old-space pages) and gives it back only when a later allocation-driven collection
// or its memory reducer gets around to it; measured (BENCHMARKS.md, agentk memory) agentk sat at
// the RSS of its last load for minutes. So once the tunnel pool has been busy and is idle again,
// and once after start-up, agentk asks for one full collection, which shrinks the heap and returns
// its pages. At most once per quiet period: an idle agentk does no work.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { PoolStats } from '../modules/reverse_tunnel/agent/pool';

const CHECK_MS = 5_000;

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

/** Collects once after start-up and once whenever the pool went from busy to idle; returns the stop. */
export function collectWhenIdle(stats: () => PoolStats): () => void {
  const gc = fullCollection();
  if (!gc) return () => undefined;
  let dirty = true; // start-up allocated (bundle init, the kubeconfig, the first config)
  const timer = setInterval(() => {
    const { busy } = stats();
    if (busy > 0) dirty = true;
    else if (dirty) {
      dirty = false;
      gc();
    }
  }, CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
