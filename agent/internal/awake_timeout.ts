// A deadline for a liveness verdict ("the peer did not answer within ms") that counts only time
// this process was running. A plain timer fires late after kas's event loop was blocked (a burst
// of TLS handshakes on a busy machine) and runs in the timers phase, before the poll phase reads
// the answer already waiting in the kernel: the peer is judged dead for kas's own stall. Here
// time is credited in short steps, a stall counting as at most two steps, and the verdict runs
// after the poll phase (setImmediate) that follows the last step, so what arrived is read first.

export interface AwakeTimeout {
  cancel(): void;
  /** Does not keep the process alive (as Timeout.unref). */
  unref(): this;
}

const STEP_MS = 250;

export function setAwakeTimeout(fn: () => void, ms: number): AwakeTimeout {
  const stepMs = Math.min(ms, STEP_MS);
  let credited = 0;
  let last = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let unref = false;
  const step = () => {
    const now = performance.now();
    credited += Math.min(now - last, stepMs * 2);
    last = now;
    if (credited >= ms) {
      immediate = setImmediate(fn);
      if (unref) immediate.unref();
      return;
    }
    timer = setTimeout(step, Math.min(stepMs, ms - credited));
    if (unref) timer.unref();
  };
  timer = setTimeout(step, stepMs);
  const handle: AwakeTimeout = {
    cancel: () => {
      clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
    },
    unref: () => {
      unref = true;
      timer?.unref();
      immediate?.unref();
      return handle;
    },
  };
  return handle;
}
