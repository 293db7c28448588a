// Server-side printing: answers as a meta.k8s.io/v1 Table when the client asks (kubectl get
// does), with the columns kubectl users expect for pods and namespaces, NAME/AGE otherwise.
import type { KubeObject } from './types';

export interface TableColumn {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

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

function column(name: string, type = 'string', description = '', format = ''): TableColumn {
  return { name, type, format: name === 'Name' ? 'name' : format, description, priority: 0 };
}

const NAME = column('Name', 'string', 'Name must be unique within a namespace.');
const AGE = column('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created.');

interface Printer {
  columns: TableColumn[];
  cells(object: KubeObject, now: number): unknown[];
}

const DEFAULT_PRINTER: Printer = {
  columns: [NAME, AGE],
  cells: (o, now) => [o.metadata.name, age(o, now)],
};

interface ContainerStatus {
  ready?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string }; terminated?: { reason?: string; exitCode?: number } };
}

/** The STATUS column as kubectl shows it: a container's reason wins over the pod phase. */
function podStatusText(pod: KubeObject): string {
  const status = (pod.status ?? {}) as { phase?: string; reason?: string; containerStatuses?: ContainerStatus[] };
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  let reason = status.reason ?? status.phase ?? 'Pending';
  for (const container of status.containerStatuses ?? []) {
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
    const statuses = ((pod.status ?? {}) as { containerStatuses?: ContainerStatus[] }).containerStatuses ?? [];
    const ready = statuses.filter((s) => s.ready).length;
    const restarts = statuses.reduce((sum, s) => sum + (s.restartCount ?? 0), 0);
    return [pod.metadata.name, `${ready}/${spec.containers?.length ?? 0}`, podStatusText(pod), String(restarts), age(pod, now)];
  },
};

const NAMESPACE_PRINTER: Printer = {
  columns: [NAME, column('Status', 'string', 'The status of the namespace'), AGE],
  cells: (ns, now) => [ns.metadata.name, ((ns.status ?? {}) as { phase?: string }).phase ?? 'Active', age(ns, now)],
};

const PRINTERS: Record<string, Printer> = { Pod: POD_PRINTER, Namespace: NAMESPACE_PRINTER };

/** The AGE column in kubectl's short human form (e.g. 45s, 3m12s, 5h, 2d). */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 120) return `${s}s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 10) return s % 60 === 0 ? `${minutes}m` : `${minutes}m${s % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (minutes < 180) return `${minutes}m`;
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  const days = Math.floor(hours / 24);
  if (hours < 48) return `${hours}h`;
  if (days < 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 365 * 2) return `${days}d`;
  return `${Math.floor(days / 365)}y`;
}

function age(object: KubeObject, now: number): string {
  const created = Date.parse(object.metadata.creationTimestamp ?? '');
  return Number.isNaN(created) ? '<unknown>' : humanDuration((now - created) / 1000);
}

function rowObject(object: KubeObject, include: IncludeObject): unknown {
  if (include === 'Object') return object;
  if (include === 'None') return undefined;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata };
}

export function toTable(kind: string, objects: KubeObject[], options: { resourceVersion?: string; includeObject?: IncludeObject; withColumns?: boolean }): Table {
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
