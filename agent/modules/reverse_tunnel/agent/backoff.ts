// Exponential reconnect backoff with jitter, reset after a stretch of health.
export interface BackoffSettings {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** ±fraction of the delay, randomised so that many agents do not reconnect in step. */
  jitter: number;
  /** A connection healthy for this long forgets earlier failures. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { initialMs: 1000, maxMs: 20_000, factor: 1.6, jitter: 0.2, resetAfterMs: 25_000 };

export class Backoff {
  private attempt = 0;
  private healthySince: number | undefined;

  constructor(
    private readonly settings: BackoffSettings,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  markHealthy(): void {
    this.healthySince ??= this.now();
  }

  /** The delay before the next attempt after a failure. */
  nextDelayMs(): number {
    if (this.healthySince !== undefined && this.now() - this.healthySince >= this.settings.resetAfterMs) this.attempt = 0;
    this.healthySince = undefined;
    const base = Math.min(this.settings.maxMs, this.settings.initialMs * this.settings.factor ** this.attempt);
    this.attempt++;
    const spread = 1 + this.settings.jitter * (2 * this.random() - 1);
    return Math.round(base * spread);
  }
}
