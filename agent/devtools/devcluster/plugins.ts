// The parts that plug into the API server: the simulated kubelet (pod phases and logs), exec
// over WebSocket, the controllers (Deployments … Services' endpoints), the RBAC authorizer with its default roles and bindings, and event expiry.
import type { Logger } from '../../internal/log';
import type { PodRuntime } from './api_server/context';
import { ControllerManager } from './controllers/controller_manager';
import { createExecHandler } from './kubelet/exec';
import { createPortForwardHandler } from './kubelet/port_forward';
import { SimulatedKubelet } from './kubelet/kubelet';
import { createRbacAuthorizer, ensureDefaultRbac } from './auth/rbac';
import { startEventExpiry } from './store/event_ttl';
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
  // Attach reads the kubelet's container output and writes containers' stdin; closeAll ends exec sessions on stop, since
  // upgraded sockets outlive the HTTPS server's own close.
  const exec = createExecHandler({ logs: kubelet.logs, stdin: kubelet.stdin });
  const portForward = createPortForwardHandler();
  const controllers = new ControllerManager(store, { logger: logger?.child({ part: 'controllers' }) });
  let stopEventExpiry: (() => void) | undefined;
  return {
    runtime: {
      logs: kubelet.logs,
      handleExecUpgrade: (req, socket, head, pod, query) => exec.handleUpgrade(req, socket, head, pod, query),
      handlePortForwardUpgrade: (req, socket, head, pod, query) => portForward.handleUpgrade(req, socket, head, pod, query),
    },
    authorize: createRbacAuthorizer(store),
    start: () => {
      kubelet.start();
      controllers.start();
      stopEventExpiry = startEventExpiry(store);
    },
    stop: () => {
      stopEventExpiry?.();
      controllers.stop();
      kubelet.stop();
      exec.closeAll();
      portForward.closeAll();
    },
  };
}
