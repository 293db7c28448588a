// Generated cluster content for the dashboard page tests and the render benchmark: Deployments,
// each with one ReplicaSet and its Pods (owner references as the controllers set them), pods in
// every status the overview counts, made as Kubernetes objects and turned into rows by the
// extension's own summariser.
import type { KubeObject } from '../../../extension/src/dashboard/summarise';
import { summarise } from '../../../extension/src/dashboard/summarise';
import type { ResourceRow } from '../../../webviews/dashboard/messages';

export interface Generated {
  deployments: ResourceRow[];
  replicaSets: ResourceRow[];
  pods: ResourceRow[];
  objects: { deployments: KubeObject[]; replicaSets: KubeObject[]; pods: KubeObject[] };
}

/** Every 10th pod Pending, every 25th CrashLoopBackOff, every 50th Failed, every 100th Succeeded. */
export function podStatusOf(index: number): 'Running' | 'Pending' | 'Failed' | 'Succeeded' | 'CrashLoopBackOff' {
  if (index % 100 === 0) return 'Succeeded';
  if (index % 50 === 0) return 'Failed';
  if (index % 25 === 0) return 'CrashLoopBackOff';
  if (index % 10 === 0) return 'Pending';
  return 'Running';
}

export function podObject(name: string, namespace: string, index: number, owner?: { kind: string; name: string; uid: string }): KubeObject {
  const status = podStatusOf(index);
  const crash = status === 'CrashLoopBackOff';
  return {
    metadata: {
      name,
      namespace,
      uid: `pod-${name}`,
      creationTimestamp: new Date(Date.now() - (index % 500) * 60_000).toISOString(),
      labels: { app: owner?.name ?? name },
      ownerReferences: owner ? [owner] : [],
    },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
    status: {
      phase: crash ? 'Running' : status,
      containerStatuses: [
        {
          name: 'app',
          ready: status === 'Running',
          restartCount: crash ? 7 : index % 3,
          state: crash ? { waiting: { reason: 'CrashLoopBackOff' } } : { running: {} },
        },
      ],
    },
  };
}

export function generate(namespace: string, deploymentCount: number, podsPerDeployment: number): Generated {
  const objects: Generated['objects'] = { deployments: [], replicaSets: [], pods: [] };
  let podIndex = 0;
  for (let d = 0; d < deploymentCount; d++) {
    const name = `app-${String(d).padStart(4, '0')}`;
    const failing = d % 20 === 0;
    const deployment: KubeObject = {
      metadata: {
        name,
        namespace,
        uid: `deploy-${name}`,
        creationTimestamp: new Date(Date.now() - 86_400_000).toISOString(),
        labels: { app: name },
      },
      spec: { replicas: podsPerDeployment, selector: { matchLabels: { app: name } } },
      status: {
        readyReplicas: failing ? 0 : podsPerDeployment,
        availableReplicas: failing ? 0 : podsPerDeployment,
        updatedReplicas: podsPerDeployment,
        conditions: failing
          ? [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet has timed out progressing.' }]
          : [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }],
      },
    };
    const rsName = `${name}-5d8f9c7b6`;
    const replicaSet: KubeObject = {
      metadata: {
        name: rsName,
        namespace,
        uid: `rs-${rsName}`,
        creationTimestamp: new Date(Date.now() - 86_400_000).toISOString(),
        ownerReferences: [{ kind: 'Deployment', name, uid: `deploy-${name}` }],
      },
      spec: { replicas: podsPerDeployment },
      status: { readyReplicas: failing ? 0 : podsPerDeployment },
    };
    objects.deployments.push(deployment);
    objects.replicaSets.push(replicaSet);
    for (let p = 0; p < podsPerDeployment; p++, podIndex++) {
      objects.pods.push(
        podObject(`${rsName}-${String(p).padStart(3, '0')}x`, namespace, podIndex, {
          kind: 'ReplicaSet',
          name: rsName,
          uid: `rs-${rsName}`,
        }),
      );
    }
  }
  return {
    deployments: objects.deployments.map((o) => summarise('Deployment', o)),
    replicaSets: objects.replicaSets.map((o) => summarise('ReplicaSet', o)),
    pods: objects.pods.map((o) => summarise('Pod', o)),
    objects,
  };
}
