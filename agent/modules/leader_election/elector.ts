// Leader election over a coordination.k8s.io/v1 Lease, the algorithm of client-go's
// leaderelection package that the reference's agentk uses:
// - every retry period each candidate reads the Lease; a free or expired Lease is taken by an
//   update carrying the resourceVersion it read (the API server's optimistic concurrency makes
//   exactly one writer win); the holder renews it the same way;
// - "expired" is judged by the candidate's own clock: the record must not have changed for the
//   record's leaseDurationSeconds since this candidate last saw it change (no clock skew between
//   nodes matters);
// - a leader that cannot renew within the renew deadline stops leading, before its Lease can
//   expire for the others (renew deadline < lease duration);
// - on a clean stop the leader releases the Lease so a follower takes over at its next retry.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import type { Logger } from '../../internal/log';
import type { LeaderElectionSettings } from '../../module/modagent';
import { LeaseClient, type Lease } from './lease_client';

export interface ElectorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  settings: LeaderElectionSettings;
  /** Unique per process: the pod name plus a random suffix (a restarted pod is a new candidate). */
  identity: string;
  onChange(isLeader: boolean): void;
  logger: Logger;
}

interface Observed {
  /** The record as last read, to tell a change from a renewal we missed. */
  key: string;
  /** When this candidate saw the record change (its own clock). */
  at: number;
}

export function candidateIdentity(podName: string): string {
  return `${podName || os.hostname()}_${randomUUID()}`;
}

/** RFC 3339 with microseconds, as the API's MicroTime fields are written. */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** What the logs say about a failure: the HTTP status, else the system error code (ENOENT, ECONNREFUSED), never raw text. */
function errorCode(err: unknown): string | number {
  const direct = (err as { code?: unknown }).code;
  if (typeof direct === 'number' || typeof direct === 'string') return direct;
  const cause = (err as { cause?: { code?: unknown } }).cause?.code;
  if (typeof cause === 'string') return cause;
  return (err as Error).name ?? 'Error';
}

export class LeaseElector {
  private readonly api: LeaseClient;
  private observed: Observed | undefined;
  private leader = false;
  private lastRenewal = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private round: Promise<void> = Promise.resolve();

  constructor(private readonly options: ElectorOptions) {
    this.api = new LeaseClient(options.kubeConfig, options.namespace);
  }

  start(): Promise<void> {
    this.schedule(0);
    return Promise.resolve();
  }

  isLeader(): boolean {
    return this.leader;
  }

  /** Stops electing; a leader releases the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
    if (this.leader) await this.release();
    this.setLeader(false);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.round = this.electionRound().finally(() => this.schedule(this.options.settings.retryPeriodMs));
    }, delayMs);
  }

  private async electionRound(): Promise<void> {
    const { settings, logger } = this.options;
    try {
      const acquired = await withDeadline(this.tryAcquireOrRenew(), settings.renewDeadlineMs);
      if (acquired) this.lastRenewal = Date.now();
      this.setLeader(acquired || (this.leader && Date.now() - this.lastRenewal < settings.renewDeadlineMs));
    } catch (err) {
      logger.warn('leader election round failed', { code: errorCode(err), lease: settings.leaseName });
      // A leader keeps leading until the renew deadline passes without a renewal.
      if (this.leader && Date.now() - this.lastRenewal >= settings.renewDeadlineMs) this.setLeader(false);
    }
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.options.logger.info(leader ? 'became the leader' : 'stopped leading', {
      lease: this.options.settings.leaseName,
      identity: this.options.identity,
    });
    this.options.onChange(leader);
  }

  /** true when this candidate holds the Lease after the round. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const api = this.api;
    const { settings, identity } = this.options;
    const now = new Date();
    let current: Lease;
    try {
      current = await api.read(settings.leaseName);
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      await api.create(this.leaseRecord(undefined, now));
      return true;
    }
    const spec = current.spec ?? {};
    const key = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseTransitions]);
    if (this.observed?.key !== key) this.observed = { key, at: now.getTime() };
    const holder = spec.holderIdentity ?? '';
    const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder && holder !== identity && this.observed.at + durationMs > now.getTime()) return false;
    try {
      await api.replace(settings.leaseName, this.leaseRecord(current, now));
    } catch (err) {
      if (statusCode(err) === 409) return false; // another candidate wrote first
      throw err;
    }
    return true;
  }

  private leaseRecord(current: Lease | undefined, now: Date): Lease {
    const { namespace, settings, identity } = this.options;
    const spec = current?.spec ?? {};
    const takeover = spec.holderIdentity !== identity;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: settings.leaseName, namespace, resourceVersion: current?.metadata?.resourceVersion },
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds: Math.max(1, Math.ceil(settings.leaseDurationMs / 1000)),
        acquireTime: takeover ? microTime(now) : spec.acquireTime,
        renewTime: microTime(now),
        leaseTransitions: current ? (spec.leaseTransitions ?? 0) + (takeover && spec.holderIdentity ? 1 : 0) : 0,
      },
    };
  }

  /** Gives the Lease up: no holder and a one-second duration, as client-go's ReleaseOnCancel. */
  private async release(): Promise<void> {
    const { settings, identity, logger } = this.options;
    try {
      const current = await this.api.read(settings.leaseName);
      if (current.spec?.holderIdentity !== identity) return;
      const now = microTime(new Date());
      await withDeadline(
        this.api.replace(settings.leaseName, {
          ...current,
          spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
        }),
        settings.renewDeadlineMs,
      );
    } catch (err) {
      logger.warn('could not release the leader lease', { code: errorCode(err) });
    }
  }
}

class DeadlineError extends Error {
  override name = 'DeadlineError';
}

/** The request may still finish later; the round does not wait for it past the deadline. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
