// The parts of Kubernetes objects the extension reads. Hand-written and small on purpose: the
// extension bundle stays light and activation fast.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
}

export interface ContainerState {
  running?: { startedAt?: string };
  waiting?: { reason?: string; message?: string };
  terminated?: { reason?: string; exitCode?: number; finishedAt?: string };
}

export interface ContainerStatus {
  name: string;
  ready?: boolean;
  restartCount?: number;
  state?: ContainerState;
}

export interface Pod {
  metadata: ObjectMeta;
  spec?: { containers?: { name: string; image?: string }[]; initContainers?: { name: string }[]; nodeName?: string };
  status?: {
    phase?: string;
    reason?: string;
    podIP?: string;
    startTime?: string;
    containerStatuses?: ContainerStatus[];
  };
}

export interface List<T> {
  metadata?: { resourceVersion?: string };
  items: T[];
}

export interface Namespace {
  metadata: ObjectMeta;
  status?: { phase?: string };
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}
