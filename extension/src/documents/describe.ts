// The text of the read-only documents: an object as YAML (managedFields hidden unless asked), a
// kubectl-describe-like summary (fields per kind for the common kinds, the rest as YAML) with
// the object's events, and an events listing where warnings come first and stand out.
import { stringify } from 'yaml';
import type { KubeObject } from './resource_api';

type Obj = Record<string, unknown>;

const asObj = (value: unknown): Obj => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Obj) : {});
const asList = (value: unknown): Obj[] => (Array.isArray(value) ? value.map(asObj) : []);
const str = (value: unknown, fallback = '<none>'): string =>
  value === undefined || value === null || value === '' ? fallback : typeof value === 'object' ? JSON.stringify(value) : String(value);

export function withoutManagedFields(object: KubeObject): KubeObject {
  if (!object.metadata || object.metadata.managedFields === undefined) return object;
  const { managedFields: _dropped, ...metadata } = object.metadata;
  return { ...object, metadata };
}

export function objectYaml(object: KubeObject, showManagedFields = false): string {
  return stringify(showManagedFields ? object : withoutManagedFields(object), { lineWidth: 0 });
}

/** What an editable copy starts from: what a user may apply back (no server-owned metadata, no status). */
export function editableYaml(object: KubeObject): string {
  const metadata = { ...(withoutManagedFields(object).metadata ?? {}) };
  for (const key of ['uid', 'creationTimestamp', 'generation', 'selfLink']) delete metadata[key];
  const { status: _status, ...rest } = object;
  return stringify({ ...rest, metadata }, { lineWidth: 0 });
}

function age(timestamp: unknown, now: number): string {
  const ms = now - Date.parse(str(timestamp, ''));
  if (!Number.isFinite(ms)) return '<unknown>';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function mapLines(title: string, map: unknown, pad: number): string[] {
  const entries = Object.entries(asObj(map));
  const label = `${title}:`.padEnd(pad);
  if (entries.length === 0) return [`${label}<none>`];
  return entries.map(([k, v], i) => `${i === 0 ? label : ' '.repeat(pad)}${k}=${str(v, '')}`);
}

function section(title: string, lines: string[]): string[] {
  return [`${title}:`, ...(lines.length > 0 ? lines.map((l) => `  ${l}`) : ['  <none>'])];
}

function containerLines(containers: Obj[], statuses: Obj[]): string[] {
  return containers.flatMap((c) => {
    const status = statuses.find((s) => s.name === c.name);
    const state = Object.keys(asObj(status?.state))[0];
    const reason = asObj(asObj(status?.state)[state ?? '']).reason;
    const ports = asList(c.ports).map((p) => `${str(p.containerPort)}/${str(p.protocol, 'TCP')}`);
    return [
      `${str(c.name)}:`,
      `  Image:      ${str(c.image)}`,
      ...(ports.length > 0 ? [`  Ports:      ${ports.join(', ')}`] : []),
      ...(status
        ? [
            `  State:      ${state ? state[0]!.toUpperCase() + state.slice(1) : '<unknown>'}${reason ? ` (${str(reason)})` : ''}`,
            `  Ready:      ${str(status.ready, 'false')}`,
            `  Restarts:   ${str(status.restartCount, '0')}`,
          ]
        : []),
    ];
  });
}

function conditionLines(conditions: unknown): string[] {
  const list = asList(conditions);
  if (list.length === 0) return [];
  return section('Conditions', [
    `${'Type'.padEnd(24)}${'Status'.padEnd(8)}Reason`,
    ...list.map((c) => `${str(c.type).padEnd(24)}${str(c.status).padEnd(8)}${str(c.reason, '')}`),
  ]);
}

function kindLines(object: KubeObject): string[] | undefined {
  const spec = asObj(object.spec);
  const status = asObj(object.status);
  const template = asObj(asObj(spec.template).spec);
  switch (object.kind) {
    case 'Pod':
      return [
        `Node:         ${str(spec.nodeName)}`,
        `Status:       ${str(status.phase)}`,
        `IP:           ${str(status.podIP)}`,
        ...section('Containers', containerLines(asList(spec.containers), asList(status.containerStatuses))),
        ...conditionLines(status.conditions),
      ];
    case 'Deployment':
    case 'StatefulSet':
    case 'ReplicaSet':
      return [
        `Selector:     ${selectorText(spec.selector)}`,
        `Replicas:     ${str(spec.replicas, '1')} desired | ${str(status.updatedReplicas, '0')} updated | ${str(status.replicas, '0')} total | ${str(status.readyReplicas, '0')} ready | ${str(status.availableReplicas, '0')} available`,
        ...(object.kind === 'Deployment' ? [`StrategyType: ${str(asObj(spec.strategy).type, 'RollingUpdate')}`] : []),
        ...section('Pod Template Containers', containerLines(asList(template.containers), [])),
        ...conditionLines(status.conditions),
      ];
    case 'DaemonSet':
      return [
        `Selector:     ${selectorText(spec.selector)}`,
        `Pods:         ${str(status.numberReady, '0')} ready of ${str(status.desiredNumberScheduled, '0')} desired`,
        ...section('Pod Template Containers', containerLines(asList(template.containers), [])),
      ];
    case 'Job':
      return [
        `Completions:  ${str(spec.completions, '1')}`,
        `Parallelism:  ${str(spec.parallelism, '1')}`,
        `Pods:         ${str(status.active, '0')} active | ${str(status.succeeded, '0')} succeeded | ${str(status.failed, '0')} failed`,
        ...conditionLines(status.conditions),
      ];
    case 'CronJob':
      return [
        `Schedule:     ${str(spec.schedule)}`,
        `Suspend:      ${str(spec.suspend, 'false')}`,
        `Last Schedule Time: ${str(status.lastScheduleTime)}`,
      ];
    case 'Service':
      return [
        `Type:         ${str(spec.type, 'ClusterIP')}`,
        `IP:           ${str(spec.clusterIP)}`,
        ...mapLines('Selector', spec.selector, 14),
        ...section(
          'Ports',
          asList(spec.ports).map(
            (p) => `${str(p.name, '<unset>')}  ${str(p.port)}/${str(p.protocol, 'TCP')} → ${str(p.targetPort, str(p.port))}`,
          ),
        ),
      ];
    case 'ConfigMap':
      return section(
        'Data',
        Object.entries(asObj(object.data)).flatMap(([k, v]) => [
          `${k}:`,
          ...str(v, '')
            .split('\n')
            .map((l) => `  ${l}`),
        ]),
      );
    case 'Secret':
      // Values stay hidden here, as kubectl describe does: only their sizes.
      return [
        `Type:         ${str(object.type, 'Opaque')}`,
        ...section(
          'Data',
          Object.entries(asObj(object.data)).map(([k, v]) => `${k}:  ${Buffer.from(str(v, ''), 'base64').length} bytes`),
        ),
      ];
    case 'Node':
      return [
        ...section(
          'Addresses',
          asList(status.addresses).map((a) => `${str(a.type)}: ${str(a.address)}`),
        ),
        ...mapLines('Capacity', status.capacity, 14),
        ...conditionLines(status.conditions),
      ];
    default:
      return undefined;
  }
}

function selectorText(selector: unknown): string {
  const labels = Object.entries(asObj(asObj(selector).matchLabels)).map(([k, v]) => `${k}=${str(v, '')}`);
  return labels.length > 0 ? labels.join(',') : '<none>';
}

export function eventsTable(events: KubeObject[], now: number): string[] {
  if (events.length === 0) return ['<none>'];
  const sorted = [...events].sort((a, b) => {
    const warn = Number(b.type === 'Warning') - Number(a.type === 'Warning');
    return warn !== 0 ? warn : Date.parse(str(lastSeen(b), '')) - Date.parse(str(lastSeen(a), ''));
  });
  return [
    `${'Type'.padEnd(9)}${'Reason'.padEnd(20)}${'Age'.padEnd(7)}${'Object'.padEnd(32)}Message`,
    ...sorted.map((e) => {
      const involved = asObj(e.involvedObject);
      const count = Number(e.count ?? 1);
      const marker = e.type === 'Warning' ? 'Warning' : 'Normal';
      return `${marker.padEnd(9)}${str(e.reason, '').padEnd(20)}${age(lastSeen(e), now).padEnd(7)}${`${str(involved.kind, '')}/${str(involved.name, '')}`.padEnd(32)}${str(e.message, '')}${count > 1 ? ` (x${count})` : ''}`;
    }),
  ];
}

function lastSeen(event: KubeObject): unknown {
  return event.lastTimestamp ?? event.eventTime ?? event.metadata?.creationTimestamp;
}

export function describeText(object: KubeObject, events: KubeObject[], now: number): string {
  const meta = object.metadata ?? {};
  const annotations = Object.fromEntries(
    Object.entries(asObj(meta.annotations)).filter(([k]) => k !== 'kubectl.kubernetes.io/last-applied-configuration'),
  );
  const head = [
    `Name:         ${str(meta.name)}`,
    ...(meta.namespace ? [`Namespace:    ${meta.namespace}`] : []),
    `Kind:         ${str(object.kind)} (${str(object.apiVersion)})`,
    ...mapLines('Labels', meta.labels, 14),
    ...mapLines('Annotations', annotations, 14),
    `Created:      ${str(meta.creationTimestamp)} (${age(meta.creationTimestamp, now)} ago)`,
  ];
  const body = kindLines(object) ?? [
    ...(object.spec !== undefined ? ['Spec:', ...indent(stringify(object.spec, { lineWidth: 0 }))] : []),
    ...(object.status !== undefined ? ['Status:', ...indent(stringify(object.status, { lineWidth: 0 }))] : []),
  ];
  return [...head, ...body, '', ...section('Events', eventsTable(events, now))].join('\n') + '\n';
}

export function eventsText(title: string, events: KubeObject[], now: number, error?: string): string {
  const warnings = events.filter((e) => e.type === 'Warning').length;
  return (
    [
      `Events of ${title}: ${events.length} (${warnings} warning${warnings === 1 ? '' : 's'}), live`,
      ...(error ? [`(not current: ${error}; retrying)`] : []),
      '',
      ...eventsTable(events, now),
    ].join('\n') + '\n'
  );
}

function indent(text: string): string[] {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`);
}
