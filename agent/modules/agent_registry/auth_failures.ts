// Failed user and CI credentials (the Kubernetes API proxy, the REST API), counted per client
// address and per agent id in fixed windows (kas.authentication_failures): past delay_after
// failures in a window each further failure is answered later (doubling, up to max_delay), past
// refuse_after it is answered 429 with Retry-After until the window ends. Only failures count,
// and every token is still checked (without a file read: hashed_tokens.ts), so a valid user is
// never refused: not while its address or its agent id is under attack, not on its first use
// after a restart, not when many of its requests arrive at once. Tokens are 256 random bits, so
// checking a refused key's tokens gives an attacker nothing; the limit bounds what failures cost
// and tells a misconfigured client to back off. The reference has no such limit; this is ours.
// Counted per replica: with several replicas an attacker spreading over them gets each replica's
// allowance.
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
}

export class AuthenticationFailures {
  private readonly counter: FixedWindowCounter;

  constructor(private readonly settings: AuthenticationFailuresConfig = DEFAULT_AUTHENTICATION_FAILURES) {
    this.counter = new FixedWindowCounter(settings.windowMs);
  }

  /** Checks `token` with `store`; `accepts` says whether the principal fits (a user token where a user is expected). */
  async check<P>(
    store: CredentialStore<P>,
    token: string,
    client: CredentialClient,
    accepts: (principal: P) => boolean = () => true,
  ): Promise<CredentialCheck<P>> {
    const principal = await store.authenticate(token);
    if (principal !== undefined && accepts(principal)) return { ok: true, principal };
    const keys = keysOf(client);
    const failures = this.count(keys);
    if (failures > this.settings.refuseAfter) {
      authenticationFailures.inc({ answer: 'refused' });
      return { ok: false, status: 429, retryAfterSeconds: this.retryAfterSeconds(keys) };
    }
    const delayMs = this.delayFor(failures);
    authenticationFailures.inc({ answer: delayMs > 0 ? 'delayed' : 'unauthorized' });
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    return { ok: false, status: 401 };
  }

  /** Counts a failure under each key; returns the highest count. */
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

  /** How long to hold a failure's answer: 0 up to delay_after failures, then doubling up to max_delay. */
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
