// Reading the one protobuf body the dev cluster must understand: kubectl (client-go's typed
// clients) sends SelfSubjectAccessReview as Kubernetes protobuf ("k8s\0" + runtime.Unknown).
// Answers are JSON, which client-go accepts whatever it sent.
import { badRequest } from './status';

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

/** A protobuf SelfSubjectAccessReview as the JSON object it stands for. */
export function decodeSelfSubjectAccessReview(body: Buffer): Record<string, unknown> {
  if (!body.subarray(0, 4).equals(MAGIC)) throw badRequest('the protobuf body does not start with the Kubernetes magic number');
  const unknown = readFields(body.subarray(4));
  const typeMeta = strings(readFields(bytesField(unknown, 1) ?? Buffer.alloc(0)), { apiVersion: 1, kind: 2 });
  const review = readFields(bytesField(unknown, 2) ?? Buffer.alloc(0));
  const spec = readFields(bytesField(review, 2) ?? Buffer.alloc(0));
  const resource = bytesField(spec, 1);
  const nonResource = bytesField(spec, 2);
  const out: Record<string, unknown> = {};
  if (resource) out.resourceAttributes = strings(readFields(resource), { namespace: 1, verb: 2, group: 3, version: 4, resource: 5, subresource: 6, name: 7 });
  if (nonResource) out.nonResourceAttributes = strings(readFields(nonResource), { path: 1, verb: 2 });
  return { ...typeMeta, metadata: {}, spec: out };
}
