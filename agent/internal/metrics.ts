import { register, type Metric } from 'prom-client';

/**
 * A metric of prom-client's default register, created on first use: one process may run several
 * kas or agentk (tests, the local pair), and prom-client refuses a second metric of one name.
 */
export function processMetric<T extends Metric>(name: string, create: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? create();
}
