import { Counter } from 'prom-client';
import { processMetric } from '../../internal/metrics';

export const configDeliveriesCounter = processMetric(
  'kas_config_deliveries_total',
  () => new Counter({ name: 'kas_config_deliveries_total', help: 'Agent configurations sent to agentk' }),
);
