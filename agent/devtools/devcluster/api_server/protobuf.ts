// Reading Kubernetes protobuf request bodies ("k8s\0" + runtime.Unknown): kubectl's typed
// clients send them for `kubectl create namespace|configmap|secret|serviceaccount|role|...`
// and `kubectl auth can-i`, and client-go does not fall back to JSON on 415. Only the kinds
// those commands create are described here (field numbers from Kubernetes' generated.proto).
// Answers are JSON, which client-go accepts whatever it sent.
import { ApiError, badRequest } from '../status';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Fields = Map<number, Array<Buffer | number>>;

function readVarint(buffer: Buffer, offset: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (let i = offset; i < buffer.length && shift < 64; i++) {
    const byte = buffer[i]!;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [value, i + 1];
  }
  throw badRequest('the protobuf body is truncated');
}

/** The fields of one message: varints as numbers, length-delimited ones as bytes. */
function readFields(buffer: Buffer): Fields {
  const fields: Fields = new Map();
  let offset = 0;
  while (offset < buffer.length) {
    const [key, afterKey] = readVarint(buffer, offset);
    const field = Math.floor(key / 8);
    const wireType = key & 7;
    let value: Buffer | number;
    if (wireType === 0) [value, offset] = readVarint(buffer, afterKey);
    else if (wireType === 2) {
      const [length, start] = readVarint(buffer, afterKey);
      if (start + length > buffer.length) throw badRequest('the protobuf body is truncated');
      value = buffer.subarray(start, start + length);
      offset = start + length;
    } else if (wireType === 1) [value, offset] = [0, afterKey + 8];
    else if (wireType === 5) [value, offset] = [0, afterKey + 4];
    else throw badRequest(`the protobuf body has an unsupported wire type ${wireType}`);
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

function bytesField(fields: Fields, field: number): Buffer | undefined {
  const value = fields.get(field)?.[0];
  return Buffer.isBuffer(value) ? value : undefined;
}

function stringField(fields: Fields, field: number): string | undefined {
  return bytesField(fields, field)?.toString('utf8');
}

function strings(fields: Fields, names: Record<string, number>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, field] of Object.entries(names)) {
    const value = stringField(fields, field);
    if (value !== undefined && value !== '') out[name] = value;
  }
  return out;
}

type FieldKind = 'string' | 'bytes' | 'bool' | 'int' | 'time' | 'microtime' | 'stringMap' | 'bytesMap' | 'intOrString' | Schema;

interface FieldSpec {
  name: string;
  kind: FieldKind;
  repeated?: boolean;
}

type Schema = Record<number, FieldSpec>;

const f = (name: string, kind: FieldKind, repeated = false): FieldSpec => ({ name, kind, repeated });

const OWNER_REFERENCE: Schema = {
  1: f('kind', 'string'),
  3: f('name', 'string'),
  4: f('uid', 'string'),
  5: f('apiVersion', 'string'),
  6: f('controller', 'bool'),
  7: f('blockOwnerDeletion', 'bool'),
};
const OBJECT_META: Schema = {
  1: f('name', 'string'),
  2: f('generateName', 'string'),
  3: f('namespace', 'string'),
  5: f('uid', 'string'),
  6: f('resourceVersion', 'string'),
  11: f('labels', 'stringMap'),
  12: f('annotations', 'stringMap'),
  13: f('ownerReferences', OWNER_REFERENCE, true),
  14: f('finalizers', 'string', true),
};
const POLICY_RULE: Schema = {
  1: f('verbs', 'string', true),
  2: f('apiGroups', 'string', true),
  3: f('resources', 'string', true),
  4: f('resourceNames', 'string', true),
  5: f('nonResourceURLs', 'string', true),
};
const SUBJECT: Schema = { 1: f('kind', 'string'), 2: f('apiGroup', 'string'), 3: f('name', 'string'), 4: f('namespace', 'string') };
const ROLE_REF: Schema = { 1: f('apiGroup', 'string'), 2: f('kind', 'string'), 3: f('name', 'string') };
const LABEL_SELECTOR: Schema = {
  1: f('matchLabels', 'stringMap'),
  2: f('matchExpressions', { 1: f('key', 'string'), 2: f('operator', 'string'), 3: f('values', 'string', true) }, true),
};
// What `kubectl create deployment|job|cronjob|service` and `kubectl run` put in a pod template.
const CONTAINER: Schema = {
  1: f('name', 'string'),
  2: f('image', 'string'),
  3: f('command', 'string', true),
  4: f('args', 'string', true),
  5: f('workingDir', 'string'),
  6: f('ports', { 1: f('name', 'string'), 2: f('hostPort', 'int'), 3: f('containerPort', 'int'), 4: f('protocol', 'string') }, true),
  7: f('env', { 1: f('name', 'string'), 2: f('value', 'string') }, true),
  8: f('resources', {}),
  14: f('imagePullPolicy', 'string'),
  16: f('stdin', 'bool'),
  17: f('stdinOnce', 'bool'),
  18: f('tty', 'bool'),
};
const POD_SPEC: Schema = {
  2: f('containers', CONTAINER, true),
  3: f('restartPolicy', 'string'),
  4: f('terminationGracePeriodSeconds', 'int'),
  6: f('dnsPolicy', 'string'),
  7: f('nodeSelector', 'stringMap'),
  8: f('serviceAccountName', 'string'),
  10: f('nodeName', 'string'),
  20: f('initContainers', CONTAINER, true),
};
const POD_TEMPLATE: Schema = { 1: f('metadata', OBJECT_META), 2: f('spec', POD_SPEC) };
const JOB_SPEC: Schema = {
  1: f('parallelism', 'int'),
  2: f('completions', 'int'),
  3: f('activeDeadlineSeconds', 'int'),
  4: f('selector', LABEL_SELECTOR),
  6: f('template', POD_TEMPLATE),
  7: f('backoffLimit', 'int'),
  8: f('ttlSecondsAfterFinished', 'int'),
  10: f('suspend', 'bool'),
};
const ROLE: Schema = { 1: f('metadata', OBJECT_META), 2: f('rules', POLICY_RULE, true) };
const BINDING: Schema = { 1: f('metadata', OBJECT_META), 2: f('subjects', SUBJECT, true), 3: f('roleRef', ROLE_REF) };
const REFERENCE: Schema = { 1: f('kind', 'string'), 2: f('namespace', 'string'), 3: f('name', 'string') };

const SCHEMAS: Record<string, Schema> = {
  'v1/Namespace': { 1: f('metadata', OBJECT_META), 2: f('spec', { 1: f('finalizers', 'string', true) }) },
  'v1/ConfigMap': { 1: f('metadata', OBJECT_META), 2: f('data', 'stringMap'), 3: f('binaryData', 'bytesMap'), 4: f('immutable', 'bool') },
  'v1/Secret': {
    1: f('metadata', OBJECT_META),
    2: f('data', 'bytesMap'),
    3: f('type', 'string'),
    4: f('stringData', 'stringMap'),
    5: f('immutable', 'bool'),
  },
  'v1/ServiceAccount': {
    1: f('metadata', OBJECT_META),
    2: f('secrets', REFERENCE, true),
    3: f('imagePullSecrets', { 1: f('name', 'string') }, true),
    4: f('automountServiceAccountToken', 'bool'),
  },
  'rbac.authorization.k8s.io/v1/Role': ROLE,
  'rbac.authorization.k8s.io/v1/ClusterRole': { ...ROLE, 3: f('aggregationRule', { 1: f('clusterRoleSelectors', LABEL_SELECTOR, true) }) },
  'rbac.authorization.k8s.io/v1/RoleBinding': BINDING,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': BINDING,
  'coordination.k8s.io/v1/Lease': {
    1: f('metadata', OBJECT_META),
    2: f('spec', {
      1: f('holderIdentity', 'string'),
      2: f('leaseDurationSeconds', 'int'),
      3: f('acquireTime', 'microtime'),
      4: f('renewTime', 'microtime'),
      5: f('leaseTransitions', 'int'),
    }),
  },
  'v1/Pod': { 1: f('metadata', OBJECT_META), 2: f('spec', POD_SPEC) },
  'apps/v1/Deployment': {
    1: f('metadata', OBJECT_META),
    2: f('spec', {
      1: f('replicas', 'int'),
      2: f('selector', LABEL_SELECTOR),
      3: f('template', POD_TEMPLATE),
      4: f('strategy', { 1: f('type', 'string') }),
      5: f('minReadySeconds', 'int'),
      6: f('revisionHistoryLimit', 'int'),
      7: f('paused', 'bool'),
      9: f('progressDeadlineSeconds', 'int'),
    }),
  },
  'batch/v1/Job': { 1: f('metadata', OBJECT_META), 2: f('spec', JOB_SPEC) },
  'batch/v1/CronJob': {
    1: f('metadata', OBJECT_META),
    2: f('spec', {
      1: f('schedule', 'string'),
      3: f('concurrencyPolicy', 'string'),
      4: f('suspend', 'bool'),
      5: f('jobTemplate', { 1: f('metadata', OBJECT_META), 2: f('spec', JOB_SPEC) }),
      6: f('successfulJobsHistoryLimit', 'int'),
      7: f('failedJobsHistoryLimit', 'int'),
      8: f('timeZone', 'string'),
    }),
  },
  'v1/Service': {
    1: f('metadata', OBJECT_META),
    2: f('spec', {
      1: f(
        'ports',
        {
          1: f('name', 'string'),
          2: f('protocol', 'string'),
          3: f('port', 'int'),
          4: f('targetPort', 'intOrString'),
          5: f('nodePort', 'int'),
        },
        true,
      ),
      2: f('selector', 'stringMap'),
      3: f('clusterIP', 'string'),
      4: f('type', 'string'),
      7: f('sessionAffinity', 'string'),
    }),
  },
  'authorization.k8s.io/v1/SelfSubjectAccessReview': {
    1: f('metadata', OBJECT_META),
    2: f('spec', {
      1: f('resourceAttributes', {
        1: f('namespace', 'string'),
        2: f('verb', 'string'),
        3: f('group', 'string'),
        4: f('version', 'string'),
        5: f('resource', 'string'),
        6: f('subresource', 'string'),
        7: f('name', 'string'),
      }),
      2: f('nonResourceAttributes', { 1: f('path', 'string'), 2: f('verb', 'string') }),
    }),
  },
};

function asBytes(value: Buffer | number): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.alloc(0);
}

function decodeMapEntry(value: Buffer | number, bytesValue: boolean): [string, string] {
  const entry = readFields(asBytes(value));
  const key = stringField(entry, 1) ?? '';
  const raw = bytesField(entry, 2) ?? Buffer.alloc(0);
  return [key, bytesValue ? raw.toString('base64') : raw.toString('utf8')];
}

/** intstr.IntOrString: type 0 is intVal (field 2), type 1 strVal (field 3). */
function decodeIntOrString(value: Buffer | number): number | string {
  const fields = readFields(asBytes(value));
  return fields.get(1)?.[0] === 1 ? (stringField(fields, 3) ?? '') : Number(fields.get(2)?.[0] ?? 0);
}

function decodeTime(value: Buffer | number, micro: boolean): string {
  const fields = readFields(asBytes(value));
  const seconds = Number(fields.get(1)?.[0] ?? 0);
  const nanos = Number(fields.get(2)?.[0] ?? 0);
  const iso = new Date(seconds * 1000).toISOString();
  return micro ? iso.replace(/\.\d+Z$/, `.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z`) : iso.replace(/\.\d+Z$/, 'Z');
}

function decodeValue(spec: FieldSpec, value: Buffer | number): unknown {
  switch (spec.kind) {
    case 'string':
      return asBytes(value).toString('utf8');
    case 'bytes':
      return asBytes(value).toString('base64');
    case 'bool':
      return value === 1;
    case 'int':
      return typeof value === 'number' ? value : 0;
    case 'time':
    case 'microtime':
      return decodeTime(value, spec.kind === 'microtime');
    case 'intOrString':
      return decodeIntOrString(value);
    case 'stringMap':
    case 'bytesMap':
      return decodeMapEntry(value, spec.kind === 'bytesMap');
    default:
      return decodeMessage(asBytes(value), spec.kind);
  }
}

function decodeMessage(buffer: Buffer, schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, values] of readFields(buffer)) {
    const spec = schema[field];
    if (!spec) continue; // a field this dev cluster does not keep
    // Go writes every non-pointer field, empty or not; JSON would leave empty strings and false out.
    const decoded = values.map((v) => decodeValue(spec, v)).filter((v) => spec.repeated || (v !== '' && v !== false));
    if (decoded.length === 0) continue;
    if (spec.kind === 'stringMap' || spec.kind === 'bytesMap') out[spec.name] = Object.fromEntries(decoded as Array<[string, string]>);
    else out[spec.name] = spec.repeated ? decoded : decoded[decoded.length - 1];
  }
  return out;
}

/** A protobuf request body as the JSON object it stands for; 415 for kinds not described here. */
export function decodeProtobufObject(body: Buffer): Record<string, unknown> {
  if (!body.subarray(0, 4).equals(MAGIC)) throw badRequest('the protobuf body does not start with the Kubernetes magic number');
  const unknown = readFields(body.subarray(4));
  const typeMeta = strings(readFields(bytesField(unknown, 1) ?? Buffer.alloc(0)), { apiVersion: 1, kind: 2 });
  const schema = SCHEMAS[`${typeMeta.apiVersion ?? ''}/${typeMeta.kind ?? ''}`];
  if (!schema) {
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      `the dev cluster cannot read ${typeMeta.apiVersion ?? '?'} ${typeMeta.kind ?? '?'} as protobuf; send JSON`,
    );
  }
  return { ...typeMeta, ...decodeMessage(bytesField(unknown, 2) ?? Buffer.alloc(0), schema) };
}
