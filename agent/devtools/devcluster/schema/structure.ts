// The structural check a real API server makes while decoding a body: every field must be one
// the kind's schema declares, with a value of the declared type. The schemas are the generated
// models of @kubernetes/client-node (its attributeTypeMap, made from Kubernetes' OpenAPI), so
// the dev cluster knows every field of every kind it serves without a hand-written copy.
//   - a value of the wrong type: 400 BadRequest "... cannot be handled as a <Kind>: json: cannot
//     unmarshal ...", whatever fieldValidation says (the server cannot decode it);
//   - an unknown field: with fieldValidation=Strict (what kubectl sends by default) 400
//     "strict decoding error: unknown field ..."; with Warn (the server's default) a Warning
//     header and the field dropped; with Ignore just dropped.
import type { KubeObject } from '../types';

interface Attribute {
  baseName: string;
  type: string;
  format: string;
}

interface ModelClass {
  getAttributeTypeMap(): Attribute[];
}

type Models = Record<string, unknown>;

let models: Models | undefined;
let loading: Promise<void> | undefined;

/** Loads the models once per process (client-node is an ES module; the bundles are CommonJS). */
export function loadStructuralSchemas(): Promise<void> {
  loading ??= import('@kubernetes/client-node/dist/gen/models/all.js').then((module) => {
    models = module as unknown as Models;
  });
  return loading;
}

function modelOf(name: string): ModelClass | undefined {
  if (!models) throw new Error('structural schemas not loaded: call loadStructuralSchemas() first');
  const candidate = models[name] as Partial<ModelClass> | undefined;
  return typeof candidate?.getAttributeTypeMap === 'function' ? (candidate as ModelClass) : undefined;
}

export interface StructureReport {
  /** Paths of fields the schema does not declare, e.g. `spec.template.spec.containers[0].imagePullPolic`. */
  unknownFields: string[];
  /** Decoding errors in the Go decoder's words; any one makes the body undecodable. */
  typeErrors: string[];
}

const QUANTITY_MAPS = new Set(['limits', 'requests', 'capacity', 'allocatable', 'hard', 'used']);

/** Checks `object` against model `model` (e.g. "V1Deployment"); prunes unknown fields when `prune`. */
export function checkStructure(model: string, object: KubeObject, prune: boolean): StructureReport {
  const report: StructureReport = { unknownFields: [], typeErrors: [] };
  walkModel(model, object as unknown as Record<string, unknown>, '', report, prune);
  return report;
}

function walkModel(model: string, value: Record<string, unknown>, path: string, report: StructureReport, prune: boolean): void {
  const schema = modelOf(model);
  if (!schema) return; // a type the generated models do not describe: accept it as it is
  const attributes = new Map(schema.getAttributeTypeMap().map((a) => [a.baseName, a]));
  for (const [key, child] of Object.entries(value)) {
    const childPath = path ? `${path}.${key}` : key;
    const attribute = attributes.get(key);
    if (!attribute) {
      report.unknownFields.push(childPath);
      if (prune) delete value[key];
      continue;
    }
    if (child === null || child === undefined) continue; // null means "unset" to the Go decoder
    walkType(attribute.type, attribute.format, child, childPath, key, { report, prune, owner: model });
  }
}

interface Walk {
  report: StructureReport;
  prune: boolean;
  owner: string;
}

function walkType(type: string, format: string, value: unknown, path: string, key: string, walk: Walk): void {
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) return mismatch(walk, value, path, `[]${goType(array[1]!, '')}`);
    value.forEach((item, i) => item !== null && walkType(array[1]!, '', item, `${path}[${i}]`, key, walk));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (!isPlainObject(value)) return mismatch(walk, value, path, `map[string]${goType(map[1]!, '')}`);
    // Resource quantities are strings in the models but the API also takes plain numbers.
    const itemType = map[1] === 'string' && QUANTITY_MAPS.has(key) ? 'IntOrString' : map[1]!;
    for (const [name, item] of Object.entries(value)) if (item !== null) walkType(itemType, '', item, `${path}[${name}]`, key, walk);
    return;
  }
  if (!scalarMatches(type, format, value)) return mismatch(walk, value, path, goType(type, format));
  if (modelOf(type) && isPlainObject(value)) walkModel(type, value, path, walk.report, walk.prune);
}

function scalarMatches(type: string, format: string, value: unknown): boolean {
  switch (type) {
    case 'string':
    case 'Date':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && (!format.startsWith('int') || Number.isInteger(value));
    case 'boolean':
      return typeof value === 'boolean';
    case 'IntOrString':
      return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value));
    case 'any':
      return true;
    default:
      return !modelOf(type) || isPlainObject(value);
  }
}

function mismatch(walk: Walk, value: unknown, path: string, expected: string): void {
  walk.report.typeErrors.push(
    `json: cannot unmarshal ${jsonKind(value)} into Go struct field ${walk.owner.replace(/^(Core)?V\d\w*?(?=[A-Z])/, '')}.${path} of type ${expected}`,
  );
}

function goType(type: string, format: string): string {
  if (type === 'number') return format || 'float64';
  if (type === 'Date') return 'time.Time';
  if (type === 'IntOrString') return 'intstr.IntOrString';
  if (type === 'any') return 'interface {}';
  if (type === 'string' || type === 'boolean') return type === 'boolean' ? 'bool' : 'string';
  return `v1.${type.replace(/^(Core)?V\d\w*?(?=[A-Z])/, '')}`;
}

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return 'object';
  return typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
