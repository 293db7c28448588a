// The Job controller: runs pods from the template until `completions` of them succeeded
// (at most `parallelism` at once), gives up after `backoffLimit` failures, and reports
// status and the Complete/Failed conditions `kubectl wait` and `kubectl get jobs` read.
import type { KubeObject } from '../types';
import type { ControllerContext } from './context';
import {
  isOwnedBy,
  numberOr,
  nowSeconds,
  podStatus,
  TYPES,
  withCondition,
  type Condition,
  type LabelSelector,
  type PodTemplate,
} from './objects';
import { podFromTemplate } from './replica_sets';

interface JobSpec {
  parallelism?: number;
  completions?: number;
  backoffLimit?: number;
  suspend?: boolean;
  selector?: LabelSelector;
  template?: PodTemplate;
}

interface JobStatus {
  startTime?: string;
  completionTime?: string;
  active?: number;
  succeeded?: number;
  failed?: number;
  ready?: number;
  conditions?: Condition[];
}

function jobLabels(job: KubeObject): Record<string, string> {
  const uid = job.metadata.uid ?? '';
  const name = job.metadata.name ?? '';
  return { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': uid, 'job-name': name };
}

/** What the API server defaults on a Job: the selector on its own uid and the template labels. */
function withJobDefaults(ctx: ControllerContext, job: KubeObject): KubeObject {
  const spec = (job.spec ?? {}) as JobSpec;
  if (spec.selector) return job;
  const labels = jobLabels(job);
  const template = spec.template ?? {};
  return ctx.store.update(TYPES.jobs, {
    ...job,
    spec: {
      parallelism: 1,
      completions: 1,
      backoffLimit: 6,
      completionMode: 'NonIndexed',
      suspend: false,
      ...spec,
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': labels['batch.kubernetes.io/controller-uid']! } },
      template: { ...template, metadata: { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), ...labels } } },
    },
  });
}

function isFinished(status: JobStatus): boolean {
  return (status.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

export function reconcileJob(ctx: ControllerContext, namespace: string, name: string): void {
  const stored = ctx.store.get(TYPES.jobs, namespace, name);
  if (!stored) return;
  const job = withJobDefaults(ctx, { ...stored, apiVersion: 'batch/v1', kind: 'Job' });
  job.apiVersion = 'batch/v1';
  job.kind = 'Job';
  const spec = (job.spec ?? {}) as JobSpec;
  const previous = (job.status ?? {}) as JobStatus;
  if (isFinished(previous)) return;
  const pods = ctx.store.list(TYPES.pods, { namespace }).items.filter((pod) => isOwnedBy(pod, job));
  const succeeded = pods.filter((p) => podStatus(p).phase === 'Succeeded').length;
  const failed = pods.filter((p) => podStatus(p).phase === 'Failed').length;
  let active = pods.filter((p) => !['Succeeded', 'Failed'].includes(podStatus(p).phase ?? '')).length;
  const completions = numberOr(spec.completions, 1);
  const status: JobStatus = { ...previous, startTime: previous.startTime ?? nowSeconds(), succeeded, failed };
  if (failed > numberOr(spec.backoffLimit, 6)) {
    for (const pod of pods.filter((p) => !['Succeeded', 'Failed'].includes(podStatus(p).phase ?? '')))
      ctx.store.delete(TYPES.pods, namespace, pod.metadata.name ?? '');
    status.active = 0;
    status.conditions = withCondition(status.conditions, {
      type: 'FailureTarget',
      status: 'True',
      reason: 'BackoffLimitExceeded',
      message: 'Job has reached the specified backoff limit',
    });
    status.conditions = withCondition(status.conditions, {
      type: 'Failed',
      status: 'True',
      reason: 'BackoffLimitExceeded',
      message: 'Job has reached the specified backoff limit',
    });
  } else if (succeeded >= completions) {
    status.active = 0;
    status.completionTime = nowSeconds();
    status.conditions = withCondition(status.conditions, {
      type: 'SuccessCriteriaMet',
      status: 'True',
      reason: 'CompletionsReached',
      message: 'Reached expected number of succeeded pods',
    });
    status.conditions = withCondition(status.conditions, {
      type: 'Complete',
      status: 'True',
      reason: 'CompletionsReached',
      message: 'Reached expected number of succeeded pods',
    });
  } else if (!spec.suspend) {
    const wanted = Math.min(numberOr(spec.parallelism, 1), completions - succeeded);
    const ref = { apiVersion: 'batch/v1', kind: 'Job', name, uid: job.metadata.uid ?? '', controller: true, blockOwnerDeletion: true };
    for (; active < wanted; active++) ctx.store.create(TYPES.pods, podFromTemplate(job, ref, spec.template, { labels: jobLabels(job) }));
    status.active = active;
  }
  ctx.writeIfChanged(TYPES.jobs, { ...job, status });
}
