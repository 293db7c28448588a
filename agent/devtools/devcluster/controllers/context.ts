// What every reconciler gets from the controller manager.
import type { Logger } from '../../../internal/log';
import type { KubeObject, ObjectStore, ResourceType } from '../types';

export type ControllerKind = 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob' | 'Service';

export interface ControllerContext {
  store: ObjectStore;
  nodeName: string;
  logger?: Logger;
  enqueue(kind: ControllerKind, namespace: string, name: string, delayMs?: number): void;
  /** Writes an object when it differs from what is stored (an unchanged write would loop through the watch). */
  writeIfChanged(type: ResourceType, next: KubeObject): KubeObject;
}
