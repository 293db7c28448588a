// The CronJob controller: at each scheduled time a Job from the jobTemplate (named after the
// scheduled time), concurrencyPolicy Allow/Forbid/Replace, suspend, and the successful and
// failed history limits. It wakes itself up for the next scheduled time.
import type { KubeObject } from '../types';
import type { ControllerContext } from './context';
import { CronSyntaxError, parseCronSchedule } from './cron_schedule';
import { isOwnedBy, numberOr, TYPES, type Condition } from './objects';

interface CronJobSpec {
  schedule?: string;
  suspend?: boolean;
  concurrencyPolicy?: 'Allow' | 'Forbid' | 'Replace';
  successfulJobsHistoryLimit?: number;
  failedJobsHistoryLimit?: number;
  jobTemplate?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Record<string, unknown> };
}

function jobState(job: KubeObject): 'Complete' | 'Failed' | 'Active' {
  const conditions = ((job.status ?? {}) as { conditions?: Condition[] }).conditions ?? [];
  if (conditions.some((c) => c.type === 'Complete' && c.status === 'True')) return 'Complete';
  if (conditions.some((c) => c.type === 'Failed' && c.status === 'True')) return 'Failed';
  return 'Active';
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

export function reconcileCronJob(ctx: ControllerContext, namespace: string, name: string): void {
  const cronJob = ctx.store.get(TYPES.cronJobs, namespace, name);
  if (!cronJob) return;
  const spec = (cronJob.spec ?? {}) as CronJobSpec;
  let schedule;
  try {
    schedule = parseCronSchedule(spec.schedule ?? '');
  } catch (err) {
    if (err instanceof CronSyntaxError) return; // validation's job; nothing to schedule
    throw err;
  }
  const status = (cronJob.status ?? {}) as { lastScheduleTime?: string; lastSuccessfulTime?: string };
  let jobs = ctx.store.list(TYPES.jobs, { namespace }).items.filter((job) => isOwnedBy(job, cronJob));
  const now = Date.now();
  const since = Date.parse(status.lastScheduleTime ?? cronJob.metadata.creationTimestamp ?? '') || now;
  let due: number | undefined;
  for (let t = schedule.next(since); t !== undefined && t <= now; t = schedule.next(t)) due = t;
  let lastScheduleTime = status.lastScheduleTime;
  if (due !== undefined && !spec.suspend) {
    const active = jobs.filter((job) => jobState(job) === 'Active');
    if (spec.concurrencyPolicy === 'Replace') for (const job of active) ctx.store.delete(TYPES.jobs, namespace, job.metadata.name ?? '');
    if (spec.concurrencyPolicy !== 'Forbid' || active.length === 0) {
      ctx.store.create(TYPES.jobs, jobFor(cronJob, spec, Math.floor(due / 1000 / schedule.unitSeconds), due));
      lastScheduleTime = iso(due);
    }
    jobs = ctx.store.list(TYPES.jobs, { namespace }).items.filter((job) => isOwnedBy(job, cronJob));
  }
  pruneJobs(ctx, jobs, 'Complete', numberOr(spec.successfulJobsHistoryLimit, 3));
  pruneJobs(ctx, jobs, 'Failed', numberOr(spec.failedJobsHistoryLimit, 1));
  const successful = jobs
    .filter((job) => jobState(job) === 'Complete')
    .map((job) => (job.status as { completionTime?: string }).completionTime ?? '')
    .sort();
  ctx.writeIfChanged(TYPES.cronJobs, {
    ...cronJob,
    status: {
      ...(lastScheduleTime ? { lastScheduleTime } : {}),
      ...(successful.length > 0 ? { lastSuccessfulTime: successful[successful.length - 1] } : {}),
      ...activeRefs(jobs),
    },
  });
  const next = schedule.next(Math.max(now, Date.parse(lastScheduleTime ?? '') || 0));
  if (next !== undefined) ctx.enqueue('CronJob', namespace, name, Math.max(10, next - Date.now() + 5));
}

function activeRefs(jobs: KubeObject[]): { active?: Array<Record<string, string>> } {
  const active = jobs.filter((job) => jobState(job) === 'Active');
  if (active.length === 0) return {};
  return {
    active: active.map((job) => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      name: job.metadata.name ?? '',
      namespace: job.metadata.namespace ?? '',
      uid: job.metadata.uid ?? '',
      resourceVersion: job.metadata.resourceVersion ?? '',
    })),
  };
}

function jobFor(cronJob: KubeObject, spec: CronJobSpec, suffix: number, scheduledAt: number): KubeObject {
  const template = spec.jobTemplate ?? {};
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: `${cronJob.metadata.name}-${suffix}`,
      namespace: cronJob.metadata.namespace,
      labels: { ...(template.metadata?.labels ?? {}) },
      annotations: {
        ...(template.metadata?.annotations ?? {}),
        'batch.kubernetes.io/cronjob-scheduled-timestamp': new Date(scheduledAt).toISOString(),
      },
      ownerReferences: [
        {
          apiVersion: 'batch/v1',
          kind: 'CronJob',
          name: cronJob.metadata.name ?? '',
          uid: cronJob.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: { ...(template.spec ?? {}) },
  };
}

function pruneJobs(ctx: ControllerContext, jobs: KubeObject[], state: 'Complete' | 'Failed', limit: number): void {
  const finished = jobs
    .filter((job) => jobState(job) === state)
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
  for (const job of finished.slice(0, Math.max(0, finished.length - limit)))
    ctx.store.delete(TYPES.jobs, job.metadata.namespace, job.metadata.name ?? '');
}
