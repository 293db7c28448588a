// Server-side printing: answers as a meta.k8s.io/v1 Table when the client asks (kubectl get
// does), with the columns kubectl users expect for pods and namespaces, NAME/AGE otherwise.
import type { KubeObject } from '../types';
import { age, AGE, column, DEFAULT_PRINTER, humanDuration, NAME, type Printer, type TableColumn } from './table_columns';
import { WORKLOAD_PRINTERS } from './workload_printers';

export type { TableColumn } from './table_columns';
export { humanDuration } from './table_columns';

export interface TableRow {
  cells: unknown[];
  object: unknown;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string };
  columnDefinitions: TableColumn[];
  rows: TableRow[];
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

interface ContainerStatus {
  ready?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string }; terminated?: { reason?: string; exitCode?: number } };
}

/** Container statuses as a list of objects, whatever a client wrote into .status. */
function containerStatusesOf(pod: KubeObject): ContainerStatus[] {
  const statuses = (pod.status as { containerStatuses?: unknown } | undefined)?.containerStatuses;
  return Array.isArray(statuses) ? statuses.filter((s): s is ContainerStatus => typeof s === 'object' && s !== null) : [];
}

/** The STATUS column as kubectl shows it: a container's reason wins over the pod phase. */
function podStatusText(pod: KubeObject): string {
  const status = (pod.status ?? {}) as { phase?: string; reason?: string };
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  let reason = status.reason ?? status.phase ?? 'Pending';
  for (const container of containerStatusesOf(pod)) {
    const waiting = container.state?.waiting?.reason;
    const terminated = container.state?.terminated;
    if (waiting) reason = waiting;
    else if (terminated) reason = terminated.reason ?? (terminated.exitCode === 0 ? 'Completed' : 'Error');
  }
  return reason;
}

const POD_PRINTER: Printer = {
  columns: [
    NAME,
    column('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
    column('Status', 'string', 'The aggregate status of the containers in this pod.'),
    column('Restarts', 'string', 'The number of times the containers in this pod have been restarted.'),
    AGE,
  ],
  cells: (pod, now) => {
    const spec = (pod.spec ?? {}) as { containers?: unknown[] };
    const statuses = containerStatusesOf(pod);
    const ready = statuses.filter((s) => s.ready).length;
    const restarts = statuses.reduce((sum, s) => sum + (s.restartCount ?? 0), 0);
    return [
      pod.metadata.name,
      `${ready}/${Array.isArray(spec.containers) ? spec.containers.length : 0}`,
      podStatusText(pod),
      String(restarts),
      age(pod, now),
    ];
  },
};

const NAMESPACE_PRINTER: Printer = {
  columns: [NAME, column('Status', 'string', 'The status of the namespace'), AGE],
  cells: (ns, now) => [ns.metadata.name, ((ns.status ?? {}) as { phase?: string }).phase ?? 'Active', age(ns, now)],
};

function countOf(value: unknown): number {
  return value && typeof value === 'object' ? Object.keys(value).length : 0;
}

function field(object: KubeObject, key: string): Record<string, unknown> {
  const value = object[key];
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

const CREATED_AT: Printer = {
  columns: [NAME, column('Created At', 'date', 'The time the object was created.')],
  cells: (o) => [o.metadata.name, o.metadata.creationTimestamp],
};

const BINDING: Printer = {
  columns: [NAME, column('Role', 'string', 'The role this binding refers to.'), AGE],
  cells: (o, now) => [o.metadata.name, `${String(field(o, 'roleRef').kind ?? '')}/${String(field(o, 'roleRef').name ?? '')}`, age(o, now)],
};

/** The last time an event was seen, as kubectl's LAST SEEN column shows it. */
function lastSeen(event: KubeObject, now: number): string {
  const stamp = (event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata.creationTimestamp) as string | undefined;
  const time = Date.parse(stamp ?? '');
  return Number.isNaN(time) ? '<unknown>' : humanDuration((now - time) / 1000);
}

const EVENT_PRINTER: Printer = {
  columns: [
    column('Last Seen', 'string', 'The last time the event was seen.'),
    column('Type', 'string', 'The type of this event (Normal, Warning).'),
    column('Reason', 'string', 'Why the event was sent.'),
    column('Object', 'string', 'The object this event is about.'),
    column('Message', 'string', 'A human-readable description of the event.'),
  ],
  cells: (e, now) => {
    const involved = field(e, 'involvedObject');
    return [
      lastSeen(e, now),
      e.type ?? '',
      e.reason ?? '',
      `${String(involved.kind ?? '').toLowerCase()}/${String(involved.name ?? '')}`,
      e.message ?? '',
    ];
  },
};

const PRINTERS: Record<string, Printer> = {
  ...WORKLOAD_PRINTERS,
  Pod: POD_PRINTER,
  Namespace: NAMESPACE_PRINTER,
  ConfigMap: {
    columns: [NAME, column('Data', 'integer', 'The number of entries in data and binaryData.'), AGE],
    cells: (o, now) => [o.metadata.name, countOf(o.data) + countOf(o.binaryData), age(o, now)],
  },
  Secret: {
    columns: [NAME, column('Type', 'string', 'The type of the secret.'), column('Data', 'integer', 'The number of entries in data.'), AGE],
    cells: (o, now) => [o.metadata.name, o.type ?? 'Opaque', countOf(o.data), age(o, now)],
  },
  ServiceAccount: {
    columns: [NAME, column('Secrets', 'integer', 'The number of secrets of this service account.'), AGE],
    cells: (o, now) => [o.metadata.name, Array.isArray(o.secrets) ? o.secrets.length : 0, age(o, now)],
  },
  Lease: {
    columns: [NAME, column('Holder', 'string', 'The holder of the lease.'), AGE],
    cells: (o, now) => [o.metadata.name, field(o, 'spec').holderIdentity ?? '', age(o, now)],
  },
  Event: EVENT_PRINTER,
  Role: CREATED_AT,
  ClusterRole: CREATED_AT,
  RoleBinding: BINDING,
  ClusterRoleBinding: BINDING,
};

function rowObject(object: KubeObject, include: IncludeObject): unknown {
  if (include === 'Object') return object;
  if (include === 'None') return undefined;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata };
}

export function toTable(
  kind: string,
  objects: KubeObject[],
  options: { resourceVersion?: string; includeObject?: IncludeObject; withColumns?: boolean },
): Table {
  const printer = PRINTERS[kind] ?? DEFAULT_PRINTER;
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: options.resourceVersion ? { resourceVersion: options.resourceVersion } : {},
    columnDefinitions: options.withColumns === false ? [] : printer.columns,
    rows: objects.map((object) => ({ cells: printer.cells(object, now), object: rowObject(object, options.includeObject ?? 'Metadata') })),
  };
}

/** Whether an Accept header asks for a Table (as kubectl get does). */
export function wantsTable(accept: string | undefined): boolean {
  return /as=Table/.test(accept ?? '');
}

export function includeObjectOf(value: string | null): IncludeObject {
  return value === 'None' || value === 'Object' ? value : 'Metadata';
}
