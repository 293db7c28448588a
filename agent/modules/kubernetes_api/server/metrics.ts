import { Histogram } from 'prom-client';
import { processMetric } from '../../../internal/metrics';

/** The latency histogram's bucket bounds (seconds); the REST API's tunnel figures use the same. */
export const PROXY_DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 20];

export const proxyRequestDuration = processMetric(
  'kas_k8s_proxy_request_duration_seconds',
  () =>
    new Histogram({
      name: 'kas_k8s_proxy_request_duration_seconds',
      help: 'Kubernetes API proxy requests, from arrival to response headers, by status code.',
      labelNames: ['status'],
      buckets: [...PROXY_DURATION_BUCKETS],
    }),
);
