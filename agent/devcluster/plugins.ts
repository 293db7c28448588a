// The parts that plug into the API server: the simulated kubelet (pod phases and logs), exec
// over WebSocket, and the RBAC authorizer with its default roles and bindings.
import type { Logger } from '../internal/log';
import type { PodRuntime } from './context';
import { handlePodExecUpgrade } from './exec';
import { SimulatedKubelet } from './kubelet';
import { createRbacAuthorizer, ensureDefaultRbac } from './rbac';
import type { ObjectStore, Authorizer } from './types';

export interface ClusterPlugins {
  runtime: PodRuntime;
  authorize: Authorizer;
  start(): void;
  stop(): void;
}

export function createClusterPlugins(store: ObjectStore, logger?: Logger): ClusterPlugins {
  ensureDefaultRbac(store);
  const kubelet = new SimulatedKubelet(store, { logger: logger?.child({ part: 'kubelet' }) });
  return {
    runtime: { logs: kubelet.logs, handleExecUpgrade: handlePodExecUpgrade },
    authorize: createRbacAuthorizer(store),
    start: () => kubelet.start(),
    stop: () => kubelet.stop(),
  };
}
