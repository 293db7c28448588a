// client-go's leader election gauge, under the name it exports: 1 while this replica leads.
import { Gauge } from 'prom-client';
import { processMetric } from '../../internal/metrics';

export const leaderGauge = processMetric(
  'leader_election_master_status',
  () =>
    new Gauge({
      name: 'leader_election_master_status',
      help: 'Whether this agentk replica holds the leader Lease (1) or not (0)',
      labelNames: ['name'],
    }),
);
