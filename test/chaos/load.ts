// The bounded load of the fault suite: `concurrency` loops, each sending one GET at a time through
// the kas k8s proxy, every request with a deadline. Each finished request is recorded with its
// start and end time, so a scenario can count what failed, what was in flight at the moment of a
// fault, and how long until requests succeeded again.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

export interface RequestRecord {
  startedAt: number;
  endedAt: number;
  /** HTTP status, or 'deadline' (no answer within the deadline), or an error code (ECONNREFUSED...). */
  outcome: number | string;
  /** A failed answer's Status message (kas's own errors say what broke), to tell failures of one status apart. */
  message?: string;
}

export interface LoadOptions {
  url: string;
  token: string;
  caFile: string;
  concurrency: number;
  deadlineMs: number;
}

export class Load {
  readonly records: RequestRecord[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly dispatcher: Agent;
  private inFlight = new Set<number>();
  private nextId = 0;

  constructor(readonly options: LoadOptions) {
    this.dispatcher = new Agent({
      connect: { ca: readFileSync(options.caFile) },
      keepAliveTimeout: 10_000,
      connections: options.concurrency,
    });
  }

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.options.concurrency }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await this.dispatcher.close().catch(() => undefined);
  }

  /** Requests started and not yet finished right now. */
  inFlightCount(): number {
    return this.inFlight.size;
  }

  /** One request outside the loops (probes), recorded nowhere. */
  async probe(): Promise<number | string> {
    return (await this.send()).outcome;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const id = this.nextId++;
      this.inFlight.add(id);
      const record = await this.send();
      this.inFlight.delete(id);
      this.records.push(record);
      // A refused connection answers at once: do not spin while a process is down.
      if (typeof record.outcome === 'string' || record.outcome >= 500) await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async send(): Promise<RequestRecord> {
    const startedAt = Date.now();
    const signal = AbortSignal.timeout(this.options.deadlineMs);
    try {
      const response = await request(this.options.url, {
        dispatcher: this.dispatcher,
        headers: { authorization: `Bearer ${this.options.token}` },
        signal,
      });
      const body = await response.body.text();
      const record: RequestRecord = { startedAt, endedAt: Date.now(), outcome: response.statusCode };
      if (response.statusCode !== 200) record.message = statusMessage(body);
      return record;
    } catch (err) {
      const code = signal.aborted ? 'deadline' : ((err as { code?: string }).code ?? (err as Error).name);
      return { startedAt, endedAt: Date.now(), outcome: code };
    }
  }
}

/** The message of a Kubernetes Status body, shortened; undefined for any other body. */
function statusMessage(body: string): string | undefined {
  try {
    const message = (JSON.parse(body) as { message?: unknown }).message;
    return typeof message === 'string' ? message.slice(0, 160) : undefined;
  } catch {
    return undefined;
  }
}

export interface LoadSummary {
  sent: number;
  ok: number;
  failedByOutcome: Record<string, number>;
  /** Failed answers by status and Status message ("504: kas: …"), counted. */
  failedByMessage: Record<string, number>;
  /** Requests past their deadline. */
  hung: number;
  maxLatencyMs: number;
  /** From the fault to the end of the first successful request started after it. */
  recoveryMs: number | undefined;
}

/** The requests of a scenario: those that ended after it began (the ones in flight at its fault included) and started before its end. */
export function inWindow(r: RequestRecord, from: number, to: number): boolean {
  return r.endedAt >= from && r.startedAt < to;
}

export function summarize(records: RequestRecord[], from: number, to: number, faultAt: number | undefined): LoadSummary {
  const window = records.filter((r) => inWindow(r, from, to));
  const failedByOutcome: Record<string, number> = {};
  const failedByMessage: Record<string, number> = {};
  let ok = 0;
  let maxLatencyMs = 0;
  for (const r of window) {
    maxLatencyMs = Math.max(maxLatencyMs, r.endedAt - r.startedAt);
    if (r.outcome === 200) ok++;
    else {
      failedByOutcome[String(r.outcome)] = (failedByOutcome[String(r.outcome)] ?? 0) + 1;
      if (r.message !== undefined) {
        const key = `${r.outcome}: ${r.message}`;
        failedByMessage[key] = (failedByMessage[key] ?? 0) + 1;
      }
    }
  }
  let recoveryMs: number | undefined;
  if (faultAt !== undefined) {
    const firstOk = window.filter((r) => r.startedAt >= faultAt && r.outcome === 200).sort((a, b) => a.endedAt - b.endedAt)[0];
    recoveryMs = firstOk ? firstOk.endedAt - faultAt : undefined;
  }
  return { sent: window.length, ok, failedByOutcome, failedByMessage, hung: failedByOutcome.deadline ?? 0, maxLatencyMs, recoveryMs };
}
