// Failed user and CI credentials (the Kubernetes API proxy, the REST API), counted per client
// address and per agent id in fixed windows (kas.authentication_failures): past delay_after
// attempts in a window each further failure is answered later (doubling, up to max_delay), past
// refuse_after the key is refused with 429 and Retry-After until its window ends, without a token
// lookup. An attempt is any check of a token kas does not know as valid. A token this kas already knows as valid (in its lookup cache) is never refused: valid
// users keep working while their address or their agent is under attack. The reference has no
// such limit; this is ours. Counted per replica: with several replicas an attacker spreading over
// them gets each replica's allowance.
import type { AuthenticationFailuresConfig } from '../../kascfg/kascfg';
import { authenticationFailures } from './metrics';
import { FixedWindowCounter } from './rate_limit';

export const DEFAULT_AUTHENTICATION_FAILURES: AuthenticationFailuresConfig = {
  delayAfter: 5,
  refuseAfter: 20,
  windowMs: 60_000,
  maxDelayMs: 1_000,
};

/** The first delay past delay_after; each further failure doubles it. */
const FIRST_DELAY_MS = 100;

/** Who presented a credential: a failure counts under each of these that is known. */
export interface CredentialClient {
  /** The peer address of the connection (no proxy headers are trusted). */
  address?: string;
  /** The agent id named in `pat:<id>:` or `ci:<id>:`. */
  agentId?: string;
}

export type CredentialCheck<P> =
  { ok: true; principal: P } | { ok: false; status: 401 } | { ok: false; status: 429; retryAfterSeconds: number };

export interface CredentialStore<P> {
  authenticate(token: string): Promise<P | undefined>;
  /** Without I/O: whether the token is cached as valid. */
  isKnownValid(token: string): boolean;
}

export class AuthenticationFailures {
  private readonly counter: FixedWindowCounter;

  constructor(private readonly settings: AuthenticationFailuresConfig = DEFAULT_AUTHENTICATION_FAILURES) {
    this.counter = new FixedWindowCounter(settings.windowMs);
  }

  /**
   * Checks `token` with `store`; `accepts` says whether the principal fits (a user token where a
   * user is expected). Every attempt with a token not known as valid counts before its lookup, so
   * concurrent attempts cannot all slip in under the limit; a success takes its count back.
   */
  async check<P>(
    store: CredentialStore<P>,
    token: string,
    client: CredentialClient,
    accepts: (principal: P) => boolean = () => true,
  ): Promise<CredentialCheck<P>> {
    const keys = keysOf(client);
    const known = store.isKnownValid(token);
    const attempts = known ? 0 : this.count(keys);
    if (attempts > this.settings.refuseAfter) {
      authenticationFailures.inc({ answer: 'refused' });
      return { ok: false, status: 429, retryAfterSeconds: this.retryAfterSeconds(keys) };
    }
    const principal = await store.authenticate(token);
    if (principal !== undefined && accepts(principal)) {
      // A valid user's first use is no failure: only failures (and checks in flight) stay counted.
      if (!known) for (const key of keys) this.counter.undo(key);
      return { ok: true, principal };
    }
    const delayMs = this.delayFor(known ? this.count(keys) : attempts);
    authenticationFailures.inc({ answer: delayMs > 0 ? 'delayed' : 'unauthorized' });
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    return { ok: false, status: 401 };
  }

  /** Counts an attempt under each key; returns the highest count. */
  private count(keys: string[]): number {
    let highest = 0;
    for (const key of keys) highest = Math.max(highest, this.counter.add(key));
    return highest;
  }

  /** Until the window of every key over the limit ends. */
  private retryAfterSeconds(keys: string[]): number {
    let longest = 0;
    for (const key of keys) {
      const { count, resetInMs } = this.counter.peek(key);
      if (count > this.settings.refuseAfter) longest = Math.max(longest, resetInMs);
    }
    return Math.max(1, Math.ceil(longest / 1000));
  }

  /** How long to hold a failure's answer: 0 up to delay_after attempts, then doubling up to max_delay. */
  private delayFor(attempts: number): number {
    const over = attempts - this.settings.delayAfter;
    if (over <= 0) return 0;
    return Math.min(this.settings.maxDelayMs, FIRST_DELAY_MS * 2 ** Math.min(over - 1, 20));
  }
}

function keysOf(client: CredentialClient): string[] {
  const keys: string[] = [];
  if (client.address) keys.push(`address:${client.address.replace(/^::ffff:/i, '')}`);
  // Canonical already (shared/proxy_credential.ts refuses "01"): no id has two keys.
  if (client.agentId) keys.push(`agent:${client.agentId}`);
  return keys;
}
