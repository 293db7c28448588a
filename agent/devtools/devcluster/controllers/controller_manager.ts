// The dev cluster's controller manager: watches the store and reconciles Deployments,
// ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs and Services' endpoints, with the
// semantics of kube-controller-manager in a simple form (controllers/README in the dev cluster's
// README). Like the kubelet, it never writes from inside a watch callback: keys are queued and
// reconciled on a later turn, each from the store's current state.
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../../../internal/log';
import { StoreError, type KubeObject, type ObjectStore, type ResourceType, type WatchEvent } from '../types';
import type { ControllerContext, ControllerKind } from './context';
import { reconcileCronJob } from './cronjob';
import { reconcileDeployment } from './deployment';
import { reconcileJob } from './job';
import { ensureNode, ensureKubernetesService } from './node';
import { ownerReferences, TYPES } from './objects';
import { reconcileDaemonSet, reconcileReplicaSet, reconcileStatefulSet } from './replica_sets';
import { reconcileServiceEndpoints } from './services';

type Reconciler = (ctx: ControllerContext, namespace: string, name: string) => void;

const RECONCILERS: Record<ControllerKind, Reconciler> = {
  Deployment: reconcileDeployment,
  ReplicaSet: reconcileReplicaSet,
  StatefulSet: reconcileStatefulSet,
  DaemonSet: reconcileDaemonSet,
  Job: reconcileJob,
  CronJob: reconcileCronJob,
  Service: reconcileServiceEndpoints,
};

const WATCHED: Array<{ kind: ControllerKind | 'Pod'; type: ResourceType }> = [
  { kind: 'Deployment', type: TYPES.deployments },
  { kind: 'ReplicaSet', type: TYPES.replicaSets },
  { kind: 'StatefulSet', type: TYPES.statefulSets },
  { kind: 'DaemonSet', type: TYPES.daemonSets },
  { kind: 'Job', type: TYPES.jobs },
  { kind: 'CronJob', type: TYPES.cronJobs },
  { kind: 'Service', type: TYPES.services },
  { kind: 'Pod', type: TYPES.pods },
];

/** Kinds whose dependents the garbage collector deletes with them (ownerReferences). */
const DEPENDENT_TYPES: Partial<Record<ControllerKind, ResourceType[]>> = {
  Deployment: [TYPES.replicaSets],
  ReplicaSet: [TYPES.pods],
  StatefulSet: [TYPES.pods],
  DaemonSet: [TYPES.pods],
  Job: [TYPES.pods],
  CronJob: [TYPES.jobs],
  Service: [TYPES.endpoints, TYPES.endpointSlices],
};

/** A conflict or a vanished object: the next reconcile, from fresh state, sorts it out. */
const RETRY_MS = 50;

export class ControllerManager {
  private readonly queue = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unwatch: Array<() => void> = [];
  private readonly pendingDeletes: WatchEvent[] = [];
  private drainHandle: NodeJS.Immediate | undefined;
  private readonly ctx: ControllerContext;

  constructor(
    private readonly store: ObjectStore,
    options: { nodeName?: string; logger?: Logger } = {},
  ) {
    this.ctx = {
      store,
      nodeName: options.nodeName ?? 'devcluster-node',
      logger: options.logger,
      enqueue: (kind, namespace, name, delayMs) => this.enqueue(kind, namespace, name, delayMs),
      writeIfChanged: (type, next) => writeIfChanged(store, type, next),
    };
  }

  start(): void {
    if (this.unwatch.length > 0) return;
    ensureNode(this.store, this.ctx.nodeName);
    ensureKubernetesService(this.store);
    for (const { kind, type } of WATCHED) this.unwatch.push(this.store.watch(type, {}, (event) => this.onEvent(kind, event)));
  }

  stop(): void {
    for (const stop of this.unwatch.splice(0)) stop();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.drainHandle) clearImmediate(this.drainHandle);
    this.drainHandle = undefined;
    this.queue.clear();
  }

  private onEvent(kind: ControllerKind | 'Pod', event: WatchEvent): void {
    const { namespace = '', name = '' } = event.object.metadata;
    if (event.type === 'DELETED') this.pendingDeletes.push({ ...event, object: { ...event.object, kind } });
    if (kind !== 'Pod') this.enqueue(kind, namespace, name);
    // A dependent's change is its controller's business; a pod's also its Services'.
    for (const ref of ownerReferences(event.object)) {
      if (ref.kind in RECONCILERS) this.enqueue(ref.kind as ControllerKind, namespace, ref.name);
    }
    if (kind === 'Pod')
      for (const service of this.store.list(TYPES.services, { namespace }).items)
        this.enqueue('Service', namespace, service.metadata.name ?? '');
    this.scheduleDrain();
  }

  private enqueue(kind: ControllerKind, namespace: string, name: string, delayMs = 0): void {
    if (delayMs > 0) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.enqueue(kind, namespace, name);
      }, delayMs);
      this.timers.add(timer);
      return;
    }
    this.queue.add(`${kind}\u0000${namespace}\u0000${name}`);
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    this.drainHandle ??= setImmediate(() => this.drain());
  }

  private drain(): void {
    this.drainHandle = undefined;
    for (let event = this.pendingDeletes.shift(); event; event = this.pendingDeletes.shift()) this.collectGarbage(event.object);
    const keys = [...this.queue];
    this.queue.clear();
    for (const key of keys) {
      const [kind, namespace, name] = key.split('\u0000') as [ControllerKind, string, string];
      try {
        RECONCILERS[kind](this.ctx, namespace, name);
      } catch (err) {
        if (err instanceof StoreError && (err.code === 409 || err.code === 404)) this.enqueue(kind, namespace, name, RETRY_MS);
        else this.ctx.logger?.error('controller: reconcile failed', { err, kind, namespace, name });
      }
    }
  }

  /** Deletes what the deleted object owned (foreground/background deletion in one step). */
  private collectGarbage(owner: KubeObject): void {
    for (const type of DEPENDENT_TYPES[owner.kind as ControllerKind] ?? []) {
      for (const dependent of this.store.list(type, { namespace: owner.metadata.namespace }).items) {
        const owned = ownerReferences(dependent).some((ref) => ref.uid === owner.metadata.uid);
        if (!owned) continue;
        try {
          this.store.delete(type, dependent.metadata.namespace, dependent.metadata.name ?? '');
        } catch (err) {
          if (!(err instanceof StoreError && err.code === 404)) throw err;
        }
      }
    }
  }
}

function writeIfChanged(store: ObjectStore, type: ResourceType, next: KubeObject): KubeObject {
  const current = store.get(type, next.metadata.namespace, next.metadata.name ?? '');
  if (!current) return store.create(type, next);
  const { resourceVersion: _ignored, ...nextMeta } = next.metadata;
  const { resourceVersion: _current, ...currentMeta } = current.metadata;
  const same =
    isDeepStrictEqual(nextMeta, currentMeta) &&
    isDeepStrictEqual(next.spec, current.spec) &&
    isDeepStrictEqual(next.status, current.status) &&
    Object.keys(next).every((k) => k === 'metadata' || k === 'kind' || k === 'apiVersion' || isDeepStrictEqual(next[k], current[k]));
  if (same) return current;
  return store.update(type, { ...next, metadata: { ...next.metadata, resourceVersion: current.metadata.resourceVersion } });
}
