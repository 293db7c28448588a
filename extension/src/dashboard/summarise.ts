// What the dashboard shows of a Kubernetes object: its table row (status word, ready, restarts,
// age, owners) and its drawer detail (labels, annotations, conditions, status and spec as YAML),
// and an event's row. Pure functions over the objects as client-node delivers them (timestamps
// as Date) or as JSON (strings), so they serve every kind the watch cache holds.
import { stringify } from 'yaml';
import type { Condition, EventRow, OwnerRef, ResourceDetail, ResourceKind, ResourceRow } from '../../../webviews/dashboard/messages';

/** The fields the dashboard reads; client-node's V1Pod, V1Deployment, … all fit. */
export interface KubeObject {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    creationTimestamp?: Date | string;
    deletionTimestamp?: Date | string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ kind?: string; name?: string; uid?: string }>;
  };
  spec?: object;
  status?: object;
}

/** The fields of a core/v1 (or events.k8s.io) Event the drawer shows. */
export interface KubeEvent {
  metadata?: { uid?: string; creationTimestamp?: Date | string };
  involvedObject?: { uid?: string };
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: Date | string | null;
  eventTime?: Date | string | null;
}

type Loose = Record<string, unknown>;
type Status = { status: string; ready: string; restarts: number };

const STATUS_OF: Record<ResourceKind, (spec: Loose, status: Loose) => Status> = {
  Pod: podStatus,
  Deployment: (spec, status) =>
    replicated(
      spec,
      status,
      'readyReplicas',
      failedByConditions(status) ? 'Failed' : rolledOut(spec, status) ? 'Available' : 'Progressing',
    ),
  StatefulSet: (spec, status) =>
    replicated(spec, status, 'readyReplicas', rolledOut(spec, status, 'readyReplicas') ? 'Ready' : 'Progressing'),
  ReplicaSet: (spec, status) =>
    replicated(
      spec,
      status,
      'readyReplicas',
      failedByConditions(status) ? 'Failed' : rolledOut(spec, status, 'readyReplicas') ? 'Ready' : 'Progressing',
    ),
  DaemonSet: (_spec, status) => {
    const desired = num(status.desiredNumberScheduled);
    const ready = num(status.numberReady);
    return { status: ready >= desired ? 'Ready' : 'Progressing', ready: `${ready}/${desired}`, restarts: 0 };
  },
  Job: jobStatus,
  CronJob: (spec, status) => ({
    status: spec.suspend === true ? 'Suspended' : Array.isArray(status.active) && status.active.length > 0 ? 'Active' : 'Scheduled',
    ready: '',
    restarts: 0,
  }),
  Service: (spec) => ({ status: typeof spec.type === 'string' ? spec.type : 'ClusterIP', ready: '', restarts: 0 }),
};

export function summarise(kind: ResourceKind, object: KubeObject): ResourceRow {
  const meta = object.metadata ?? {};
  const computed = STATUS_OF[kind]((object.spec ?? {}) as Loose, (object.status ?? {}) as Loose);
  return {
    uid: objectUid(kind, object),
    kind,
    name: meta.name ?? '',
    namespace: meta.namespace ?? '',
    status: meta.deletionTimestamp ? 'Terminating' : computed.status,
    ready: computed.ready,
    restarts: computed.restarts,
    createdAt: millis(meta.creationTimestamp),
    owners: (meta.ownerReferences ?? []).map((owner): OwnerRef => ({
      kind: owner.kind ?? '',
      name: owner.name ?? '',
      uid: owner.uid ?? '',
    })),
  };
}

/** The uid rows are keyed by; an object without one (never from a real API server) by its name. */
export function objectUid(kind: ResourceKind, object: KubeObject): string {
  const meta = object.metadata;
  return meta?.uid ?? `${kind}/${meta?.namespace ?? ''}/${meta?.name ?? ''}`;
}

export function detailOf(kind: ResourceKind, object: KubeObject): ResourceDetail {
  const row = summarise(kind, object);
  const status = (object.status ?? {}) as Loose;
  const spec = (object.spec ?? {}) as Loose;
  return {
    uid: row.uid,
    kind,
    name: row.name,
    namespace: row.namespace,
    labels: object.metadata?.labels ?? {},
    annotations: object.metadata?.annotations ?? {},
    conditions: conditionsOf(status),
    statusYaml: toYaml(status),
    specYaml: toYaml(spec),
    containers: kind === 'Pod' && Array.isArray(spec.containers) ? spec.containers.map((c: Loose) => String(c.name ?? '')) : [],
  };
}

export function eventRow(event: KubeEvent): EventRow {
  return {
    uid: event.metadata?.uid ?? '',
    type: event.type ?? 'Normal',
    reason: event.reason ?? '',
    message: event.message ?? '',
    count: event.count ?? 1,
    lastSeen: millis(event.lastTimestamp ?? event.eventTime ?? event.metadata?.creationTimestamp),
  };
}

function podStatus(spec: Loose, status: Loose): Status {
  const containers = Array.isArray(status.containerStatuses) ? (status.containerStatuses as Loose[]) : [];
  const total = Array.isArray(spec.containers) ? spec.containers.length : containers.length;
  const ready = containers.filter((c) => c.ready === true).length;
  const restarts = containers.reduce((sum, c) => sum + num(c.restartCount), 0);
  const crashLooping = containers.some(
    (c) => ((c.state as Loose | undefined)?.waiting as Loose | undefined)?.reason === 'CrashLoopBackOff',
  );
  const phase = typeof status.phase === 'string' ? status.phase : 'Pending';
  return { status: crashLooping ? 'CrashLoopBackOff' : phase, ready: `${ready}/${total}`, restarts };
}

function jobStatus(spec: Loose, status: Loose): Status {
  const conditions = conditionsOf(status);
  const is = (type: string) => conditions.some((c) => c.type === type && c.status === 'True');
  const word = is('Complete') ? 'Complete' : is('Failed') ? 'Failed' : spec.suspend === true ? 'Suspended' : 'Running';
  return { status: word, ready: `${num(status.succeeded)}/${spec.completions === undefined ? 1 : num(spec.completions)}`, restarts: 0 };
}

function replicated(spec: Loose, status: Loose, readyField: string, word: string): Status {
  return { status: word, ready: `${num(status[readyField])}/${desiredReplicas(spec)}`, restarts: 0 };
}

function desiredReplicas(spec: Loose): number {
  return spec.replicas === undefined ? 1 : num(spec.replicas);
}

function rolledOut(spec: Loose, status: Loose, field = 'availableReplicas'): boolean {
  const desired = desiredReplicas(spec);
  const updated = status.updatedReplicas === undefined ? desired : num(status.updatedReplicas);
  return num(status[field]) >= desired && updated >= desired;
}

/** A rollout past its deadline, or replicas the controller could not create. */
function failedByConditions(status: Loose): boolean {
  return conditionsOf(status).some(
    (c) => (c.type === 'Progressing' && c.status === 'False') || (c.type === 'ReplicaFailure' && c.status === 'True'),
  );
}

function conditionsOf(status: Loose): Condition[] {
  if (!Array.isArray(status.conditions)) return [];
  return (status.conditions as Loose[]).map((c) => ({
    type: String(c.type ?? ''),
    status: String(c.status ?? ''),
    reason: typeof c.reason === 'string' ? c.reason : undefined,
    message: typeof c.message === 'string' ? c.message : undefined,
    lastTransitionTime: c.lastTransitionTime === undefined ? undefined : new Date(millis(c.lastTransitionTime as string)).toISOString(),
  }));
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function millis(value: Date | string | null | undefined): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value !== 'string') return 0;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? 0 : ms;
}

/** Dates as ISO strings, keys in the object's order; an empty block reads `{}`. */
function toYaml(value: Loose): string {
  return Object.keys(value).length === 0 ? '{}\n' : stringify(JSON.parse(JSON.stringify(value)) as unknown, { lineWidth: 0 });
}
