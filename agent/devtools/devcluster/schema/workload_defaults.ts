// Defaults kube-apiserver fills in on the workload kinds (apps/v1, batch/v1): strategies,
// history limits, policies; `kubectl rollout status` refuses a workload without its strategy.
import type { KubeObject } from '../types';

type Spec = Record<string, unknown>;

const ROLLING = { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };

function podTemplateDefaults(spec: Spec, restartPolicy: string): Spec {
  const template = (spec.template ?? {}) as { metadata?: object; spec?: Spec };
  return {
    ...spec,
    template: {
      ...template,
      metadata: template.metadata ?? {},
      spec: {
        restartPolicy,
        terminationGracePeriodSeconds: 30,
        dnsPolicy: 'ClusterFirst',
        schedulerName: 'default-scheduler',
        securityContext: {},
        ...(template.spec ?? {}),
      },
    },
  };
}

const DEFAULTS: Record<string, (spec: Spec) => Spec> = {
  Deployment: (spec) => ({
    replicas: 1,
    strategy: ROLLING,
    revisionHistoryLimit: 10,
    progressDeadlineSeconds: 600,
    ...podTemplateDefaults(spec, 'Always'),
  }),
  ReplicaSet: (spec) => ({ replicas: 1, ...podTemplateDefaults(spec, 'Always') }),
  StatefulSet: (spec) => ({
    replicas: 1,
    podManagementPolicy: 'OrderedReady',
    updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
    revisionHistoryLimit: 10,
    persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
    ...podTemplateDefaults(spec, 'Always'),
  }),
  DaemonSet: (spec) => ({
    updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
    revisionHistoryLimit: 10,
    ...podTemplateDefaults(spec, 'Always'),
  }),
  CronJob: (spec) => ({ concurrencyPolicy: 'Allow', suspend: false, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1, ...spec }),
};

/** The object with its kind's defaults; other kinds unchanged. */
export function withWorkloadDefaults(object: KubeObject): KubeObject {
  const defaults = DEFAULTS[object.kind];
  if (!defaults || (object.spec !== undefined && (typeof object.spec !== 'object' || object.spec === null))) return object;
  object.spec = defaults((object.spec ?? {}) as Spec);
  return object;
}
