import type { Logger } from '../internal/log';

/** Stops what was started, last first; keeps going when one part fails to stop. */
export class ShutdownStack {
  private readonly steps: Array<() => Promise<void>> = [];

  constructor(private readonly logger: Logger) {}

  push(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  async unwind(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        this.logger.warn('stopping a component failed', { err });
      }
    }
  }
}
