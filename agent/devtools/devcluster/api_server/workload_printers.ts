// kubectl's usual columns for the workload, network and node kinds (controllers/), as
// kube-apiserver's printers give them.
import type { KubeObject } from '../types';
import { age, AGE, column, humanDuration, NAME, type Printer } from './table_columns';

type Fields = Record<string, unknown>;

function part(object: KubeObject, key: string): Fields {
  const value = object[key];
  return value && typeof value === 'object' ? (value as Fields) : {};
}

function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

function selectorText(selector: unknown): string {
  const labels = (selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {};
  const text = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return text || '<none>';
}

function containersOf(object: KubeObject, templatePath: 'template' | 'jobTemplate'): Array<{ name?: string; image?: string }> {
  let spec = part(object, 'spec');
  if (templatePath === 'jobTemplate') spec = ((spec.jobTemplate as Fields | undefined)?.spec ?? {}) as Fields;
  const template = (spec.template ?? {}) as { spec?: { containers?: Array<{ name?: string; image?: string }> } };
  return template.spec?.containers ?? [];
}

/** The -o wide columns of every pod-template kind: CONTAINERS, IMAGES, SELECTOR. */
const WIDE = [
  column('Containers', 'string', 'Names of each container in the template.'),
  column('Images', 'string', 'Images referenced by each container in the template.'),
  column('Selector', 'string', 'Label selector for pods.'),
].map((c) => ({ ...c, priority: 1 }));

function wideCells(object: KubeObject, templatePath: 'template' | 'jobTemplate' = 'template'): unknown[] {
  const containers = containersOf(object, templatePath);
  return [
    containers.map((c) => c.name ?? '').join(','),
    containers.map((c) => c.image ?? '').join(','),
    selectorText(part(object, 'spec').selector),
  ];
}

const DEPLOYMENT: Printer = {
  columns: [NAME, column('Ready'), column('Up-to-date', 'integer'), column('Available', 'integer'), AGE, ...WIDE],
  cells: (o, now) => {
    const spec = part(o, 'spec');
    const status = part(o, 'status');
    return [
      o.metadata.name,
      `${num(status.readyReplicas)}/${num(spec.replicas ?? 1)}`,
      num(status.updatedReplicas),
      num(status.availableReplicas),
      age(o, now),
      ...wideCells(o),
    ];
  },
};

const REPLICA_SET: Printer = {
  columns: [NAME, column('Desired', 'integer'), column('Current', 'integer'), column('Ready', 'integer'), AGE, ...WIDE],
  cells: (o, now) => [
    o.metadata.name,
    num(part(o, 'spec').replicas ?? 1),
    num(part(o, 'status').replicas),
    num(part(o, 'status').readyReplicas),
    age(o, now),
    ...wideCells(o),
  ],
};

const STATEFUL_SET: Printer = {
  columns: [NAME, column('Ready'), AGE, ...WIDE.slice(0, 2)],
  cells: (o, now) => [
    o.metadata.name,
    `${num(part(o, 'status').readyReplicas)}/${num(part(o, 'spec').replicas ?? 1)}`,
    age(o, now),
    ...wideCells(o).slice(0, 2),
  ],
};

const DAEMON_SET: Printer = {
  columns: [
    NAME,
    column('Desired', 'integer'),
    column('Current', 'integer'),
    column('Ready', 'integer'),
    column('Up-to-date', 'integer'),
    column('Available', 'integer'),
    column('Node Selector'),
    AGE,
    ...WIDE,
  ],
  cells: (o, now) => {
    const s = part(o, 'status');
    const nodeSelector =
      (part(o, 'spec').template as { spec?: { nodeSelector?: Record<string, string> } } | undefined)?.spec?.nodeSelector ?? {};
    const selectorText =
      Object.entries(nodeSelector)
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || '<none>';
    return [
      o.metadata.name,
      num(s.desiredNumberScheduled),
      num(s.currentNumberScheduled),
      num(s.numberReady),
      num(s.updatedNumberScheduled),
      num(s.numberAvailable),
      selectorText,
      age(o, now),
      ...wideCells(o),
    ];
  },
};

function jobStatusText(o: KubeObject): string {
  const status = part(o, 'status') as { conditions?: Array<{ type?: string; status?: string }>; active?: number };
  const holds = (type: string) => status.conditions?.some((c) => c.type === type && c.status === 'True');
  if (holds('Complete')) return 'Complete';
  if (holds('Failed')) return 'Failed';
  if (part(o, 'spec').suspend === true) return 'Suspended';
  return 'Running';
}

const JOB: Printer = {
  columns: [NAME, column('Status'), column('Completions'), column('Duration'), AGE, ...WIDE],
  cells: (o, now) => {
    const status = part(o, 'status') as { succeeded?: number; startTime?: string; completionTime?: string };
    const start = Date.parse(status.startTime ?? '');
    const end = Date.parse(status.completionTime ?? '') || now;
    return [
      o.metadata.name,
      jobStatusText(o),
      `${num(status.succeeded)}/${num(part(o, 'spec').completions ?? 1)}`,
      Number.isNaN(start) ? '' : humanDuration((end - start) / 1000),
      age(o, now),
      ...wideCells(o),
    ];
  },
};

const CRON_JOB: Printer = {
  columns: [
    NAME,
    column('Schedule'),
    column('Timezone'),
    column('Suspend', 'boolean'),
    column('Active', 'integer'),
    column('Last Schedule'),
    AGE,
    ...WIDE,
  ],
  cells: (o, now) => {
    const spec = part(o, 'spec');
    const status = part(o, 'status') as { active?: unknown[]; lastScheduleTime?: string };
    const last = Date.parse(status.lastScheduleTime ?? '');
    return [
      o.metadata.name,
      spec.schedule ?? '',
      spec.timeZone ?? '<none>',
      spec.suspend === true ? 'True' : 'False',
      status.active?.length ?? 0,
      Number.isNaN(last) ? '<none>' : humanDuration((now - last) / 1000),
      age(o, now),
      ...wideCells(o, 'jobTemplate'),
    ];
  },
};

function servicePorts(o: KubeObject): string {
  const ports = (part(o, 'spec').ports ?? []) as Array<{ port?: number; protocol?: string; nodePort?: number }>;
  return ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',') || '<none>';
}

const SERVICE: Printer = {
  columns: [
    NAME,
    column('Type'),
    column('Cluster-IP'),
    column('External-IP'),
    column('Port(s)'),
    AGE,
    { ...column('Selector'), priority: 1 },
  ],
  cells: (o, now) => {
    const spec = part(o, 'spec') as { type?: string; clusterIP?: string; externalIPs?: string[]; selector?: Record<string, string> };
    const selector =
      Object.entries(spec.selector ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || '<none>';
    return [
      o.metadata.name,
      spec.type ?? 'ClusterIP',
      spec.clusterIP ?? '',
      spec.externalIPs?.join(',') || '<none>',
      servicePorts(o),
      age(o, now),
      selector,
    ];
  },
};

const ENDPOINTS: Printer = {
  columns: [NAME, column('Endpoints'), AGE],
  cells: (o, now) => {
    const subsets = (o.subsets ?? []) as Array<{ addresses?: Array<{ ip?: string }>; ports?: Array<{ port?: number }> }>;
    const pairs = subsets.flatMap((s) =>
      (s.addresses ?? []).flatMap((a) => (s.ports?.length ? s.ports.map((p) => `${a.ip}:${p.port}`) : [a.ip ?? ''])),
    );
    return [
      o.metadata.name,
      pairs.length > 3 ? `${pairs.slice(0, 3).join(',')} + ${pairs.length - 3} more...` : pairs.join(',') || '<none>',
      age(o, now),
    ];
  },
};

const ENDPOINT_SLICE: Printer = {
  columns: [NAME, column('AddressType'), column('Ports'), column('Endpoints'), AGE],
  cells: (o, now) => {
    const ports = ((o.ports ?? []) as Array<{ port?: number }>).map((p) => p.port).join(',') || '<unset>';
    const addresses = ((o.endpoints ?? []) as Array<{ addresses?: string[] }>).flatMap((e) => e.addresses ?? []);
    return [o.metadata.name, o.addressType ?? 'IPv4', ports, addresses.join(',') || '<unset>', age(o, now)];
  },
};

const INGRESS: Printer = {
  columns: [NAME, column('Class'), column('Hosts'), column('Address'), column('Ports'), AGE],
  cells: (o, now) => {
    const spec = part(o, 'spec') as { ingressClassName?: string; rules?: Array<{ host?: string }>; tls?: unknown[] };
    const hosts = (spec.rules ?? []).map((r) => r.host ?? '*').join(',') || '*';
    return [o.metadata.name, spec.ingressClassName ?? '<none>', hosts, '', spec.tls?.length ? '80, 443' : '80', age(o, now)];
  },
};

const NODE: Printer = {
  columns: [NAME, column('Status'), column('Roles'), AGE, column('Version')],
  cells: (o, now) => {
    const status = part(o, 'status') as { conditions?: Array<{ type?: string; status?: string }>; nodeInfo?: { kubeletVersion?: string } };
    const ready = status.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady';
    const roles = Object.keys(o.metadata.labels ?? {})
      .filter((k) => k.startsWith('node-role.kubernetes.io/'))
      .map((k) => k.slice('node-role.kubernetes.io/'.length));
    return [
      o.metadata.name,
      part(o, 'spec').unschedulable ? `${ready},SchedulingDisabled` : ready,
      roles.join(',') || '<none>',
      age(o, now),
      status.nodeInfo?.kubeletVersion ?? '',
    ];
  },
};

export const WORKLOAD_PRINTERS: Record<string, Printer> = {
  Deployment: DEPLOYMENT,
  ReplicaSet: REPLICA_SET,
  StatefulSet: STATEFUL_SET,
  DaemonSet: DAEMON_SET,
  Job: JOB,
  CronJob: CRON_JOB,
  Service: SERVICE,
  Endpoints: ENDPOINTS,
  EndpointSlice: ENDPOINT_SLICE,
  Ingress: INGRESS,
  Node: NODE,
};
