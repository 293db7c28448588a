// The parts that plug into the API server: the simulated kubelet (pod phases and logs), exec
// and attach, and the RBAC authorizer. Until those land, pods stay as created, exec answers
// 400 and every authenticated request is allowed.
import type { PodRuntime } from './context';
import type { MemoryObjectStore } from './store';
import type { Authorizer } from './types';

export interface ClusterPlugins {
  runtime: PodRuntime;
  authorize: Authorizer;
  start(): void;
  stop(): void;
}

const allowAll: Authorizer = () => ({ allowed: true, reason: 'the dev cluster has no authorizer yet' });

export function createClusterPlugins(_store: MemoryObjectStore): ClusterPlugins {
  return { runtime: {}, authorize: allowAll, start: () => undefined, stop: () => undefined };
}
