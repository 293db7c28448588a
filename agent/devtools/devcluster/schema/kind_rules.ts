// The field rules a real API server enforces per kind (its validation package), for the kinds
// manifests of this project use: pods and pod templates, Deployments, Services,
// PodDisruptionBudgets, RBAC, and the keys of Secrets and ConfigMaps. Each answers the causes of
// a 422 Invalid, in the API server's words; structure (unknown fields, types) is structure.ts's.
import type { StatusCause } from '../status';
import type { KubeObject } from '../types';
import { crdCauses } from './custom_resources';

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
export const LABEL_MESSAGE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

type Json = Record<string, unknown>;

const required = (field: string): StatusCause => ({ reason: 'FieldValueRequired', message: 'Required value', field });
const invalidValue = (field: string, value: unknown, why: string): StatusCause => ({
  reason: 'FieldValueInvalid',
  message: `Invalid value: ${JSON.stringify(value)}: ${why}`,
  field,
});
const unsupported = (field: string, value: unknown, supported: string[]): StatusCause => ({
  reason: 'FieldValueNotSupported',
  message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`,
  field,
});

function obj(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The causes that make `object` invalid for its kind; [] when it is acceptable. */
export function kindCauses(kind: string, object: KubeObject): StatusCause[] {
  switch (kind) {
    case 'Pod':
      return podSpecCauses(obj(object.spec), 'spec');
    case 'Deployment':
      return deploymentCauses(obj(object.spec));
    case 'Service':
      return serviceCauses(obj(object.spec));
    case 'PodDisruptionBudget':
      return pdbCauses(obj(object.spec));
    case 'Role':
    case 'ClusterRole':
      return rulesCauses(object.rules);
    case 'RoleBinding':
    case 'ClusterRoleBinding':
      return bindingCauses(kind, object);
    case 'Secret':
    case 'ConfigMap':
      return dataKeyCauses(object);
    case 'PersistentVolumeClaim':
      return claimCauses(obj(object.spec));
    case 'CustomResourceDefinition':
      return crdCauses(object);
    default:
      return [];
  }
}

function podSpecCauses(spec: Json | undefined, at: string): StatusCause[] {
  const containers = list(spec?.containers);
  if (containers.length === 0) return [required(`${at}.containers`)];
  const volumes = new Set(list(spec?.volumes).map((v) => obj(v)?.name));
  const causes: StatusCause[] = [];
  containers.forEach((item, i) => causes.push(...containerCauses(obj(item) ?? {}, `${at}.containers[${i}]`, volumes)));
  list(spec?.volumes).forEach((volume, i) => {
    const name = obj(volume)?.name;
    if (typeof name !== 'string' || !DNS1123_LABEL.test(name))
      causes.push(invalidValue(`${at}.volumes[${i}].name`, name ?? '', LABEL_MESSAGE));
  });
  return causes;
}

function containerCauses(container: Json, at: string, volumes: Set<unknown>): StatusCause[] {
  const causes: StatusCause[] = [];
  if (typeof container.name !== 'string' || !DNS1123_LABEL.test(container.name))
    causes.push(invalidValue(`${at}.name`, container.name ?? '', LABEL_MESSAGE));
  if (typeof container.image !== 'string' || container.image === '') causes.push(required(`${at}.image`));
  list(container.volumeMounts).forEach((mount, i) => {
    const name = obj(mount)?.name;
    if (!volumes.has(name))
      causes.push({ reason: 'FieldValueNotFound', message: `Not found: ${JSON.stringify(name)}`, field: `${at}.volumeMounts[${i}].name` });
    if (typeof obj(mount)?.mountPath !== 'string' || obj(mount)?.mountPath === '')
      causes.push(required(`${at}.volumeMounts[${i}].mountPath`));
  });
  list(container.ports).forEach((port, i) => causes.push(...portNumberCauses(obj(port)?.containerPort, `${at}.ports[${i}].containerPort`)));
  return causes;
}

function portNumberCauses(port: unknown, field: string): StatusCause[] {
  if (port === undefined) return [required(field)];
  return typeof port === 'number' && port >= 1 && port <= 65535
    ? []
    : [invalidValue(field, port, 'must be between 1 and 65535, inclusive')];
}

function selectorMatches(selector: Json, labels: Json): boolean {
  const matchLabels = obj(selector.matchLabels) ?? {};
  return Object.entries(matchLabels).every(([key, value]) => labels[key] === value);
}

function deploymentCauses(spec: Json | undefined): StatusCause[] {
  if (!spec) return [required('spec.selector'), required('spec.template.spec.containers')];
  const causes: StatusCause[] = [];
  if (spec.replicas !== undefined && typeof spec.replicas === 'number' && spec.replicas < 0)
    causes.push(invalidValue('spec.replicas', spec.replicas, 'must be greater than or equal to 0'));
  const selector = obj(spec.selector);
  const template = obj(spec.template);
  const labels = obj(obj(template?.metadata)?.labels) ?? {};
  if (!selector) causes.push(required('spec.selector'));
  else if (Object.keys(obj(selector.matchLabels) ?? {}).length === 0 && list(selector.matchExpressions).length === 0)
    causes.push(invalidValue('spec.selector', selector, 'empty selector is invalid for deployment'));
  else if (!selectorMatches(selector, labels))
    causes.push(invalidValue('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
  const podSpec = obj(template?.spec);
  causes.push(...podSpecCauses(podSpec, 'spec.template.spec'));
  const restartPolicy = podSpec?.restartPolicy;
  if (restartPolicy !== undefined && restartPolicy !== 'Always')
    causes.push(unsupported('spec.template.spec.restartPolicy', restartPolicy, ['Always']));
  return causes;
}

function serviceCauses(spec: Json | undefined): StatusCause[] {
  const type = spec?.type ?? 'ClusterIP';
  const types = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
  if (!types.includes(String(type))) return [unsupported('spec.type', type, types)];
  const ports = list(spec?.ports);
  const headless = spec?.clusterIP === 'None';
  if (ports.length === 0 && type !== 'ExternalName' && !headless) return [required('spec.ports')];
  const causes: StatusCause[] = [];
  ports.forEach((item, i) => {
    const port = obj(item) ?? {};
    causes.push(...portNumberCauses(port.port, `spec.ports[${i}].port`));
    if (ports.length > 1 && typeof port.name !== 'string') causes.push(required(`spec.ports[${i}].name`));
    const protocols = ['TCP', 'UDP', 'SCTP'];
    if (port.protocol !== undefined && !protocols.includes(String(port.protocol)))
      causes.push(unsupported(`spec.ports[${i}].protocol`, port.protocol, protocols));
  });
  return causes;
}

function pdbCauses(spec: Json | undefined): StatusCause[] {
  if (spec?.minAvailable !== undefined && spec.maxUnavailable !== undefined)
    return [invalidValue('spec', spec, 'minAvailable and maxUnavailable cannot be both set')];
  return [];
}

function rulesCauses(rules: unknown): StatusCause[] {
  const causes: StatusCause[] = [];
  list(rules).forEach((item, i) => {
    const rule = obj(item) ?? {};
    if (list(rule.verbs).length === 0) causes.push(required(`rules[${i}].verbs`));
    const hasResources = list(rule.resources).length > 0;
    if (hasResources && rule.apiGroups === undefined) causes.push(required(`rules[${i}].apiGroups`));
    if (!hasResources && list(rule.nonResourceURLs).length === 0) causes.push(required(`rules[${i}].resources`));
  });
  return causes;
}

function bindingCauses(kind: string, object: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const roleRef = obj(object.roleRef);
  const roleKinds = kind === 'RoleBinding' ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (!roleRef) causes.push(required('roleRef'));
  else {
    if (!roleKinds.includes(String(roleRef.kind))) causes.push(unsupported('roleRef.kind', roleRef.kind ?? '', roleKinds));
    if (typeof roleRef.name !== 'string' || roleRef.name === '') causes.push(required('roleRef.name'));
    if (roleRef.apiGroup !== 'rbac.authorization.k8s.io')
      causes.push(unsupported('roleRef.apiGroup', roleRef.apiGroup ?? '', ['rbac.authorization.k8s.io']));
  }
  list(object.subjects).forEach((item, i) => {
    const subject = obj(item) ?? {};
    const kinds = ['ServiceAccount', 'User', 'Group'];
    if (!kinds.includes(String(subject.kind))) causes.push(unsupported(`subjects[${i}].kind`, subject.kind ?? '', kinds));
    if (typeof subject.name !== 'string' || subject.name === '') causes.push(required(`subjects[${i}].name`));
    if (subject.kind === 'ServiceAccount' && kind === 'ClusterRoleBinding' && !subject.namespace)
      causes.push(required(`subjects[${i}].namespace`));
  });
  return causes;
}

function dataKeyCauses(object: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const field of ['data', 'stringData', 'binaryData']) {
    for (const key of Object.keys(obj(object[field]) ?? {})) {
      if (!CONFIG_KEY.test(key))
        causes.push(invalidValue(`${field}[${key}]`, key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
    }
  }
  return causes;
}

function claimCauses(spec: Json | undefined): StatusCause[] {
  const causes: StatusCause[] = [];
  const modes = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];
  const accessModes = list(spec?.accessModes);
  if (accessModes.length === 0) causes.push(required('spec.accessModes'));
  accessModes.forEach((mode, i) => {
    if (!modes.includes(String(mode))) causes.push(unsupported(`spec.accessModes[${i}]`, mode, modes));
  });
  if (obj(obj(spec?.resources)?.requests)?.storage === undefined) causes.push(required('spec.resources[storage]'));
  return causes;
}
