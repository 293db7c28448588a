// JSON Schema validation with ajv, and the translation of its errors into diagnostics with
// friendly messages, exact YAML ranges and quick fixes.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { isMap, isScalar, type Document, type Node, type Scalar } from 'yaml';
import { diagnosticAt } from './diagnostic_builders';
import { insertKeyFix, keepFirstKeyFix, removePairFix, replaceNodeFix } from './fixes';
import { AGENT_CONFIG_SCHEMA, allowedKeys, enumChoices, formatPath, schemaAtPath, schemaTypeName } from './schema_nav';
import { parseDuration } from './go_duration';
import { closestMatch } from './suggest';
import { DiagnosticCodes, type ConfigDiagnostic, type ConfigFix } from './types';
import { keyAnchor, locate, valueAnchor, type LocatedNode, type YamlSource } from './yaml_source';

let compiled: ValidateFunction | undefined;

const MAX_SCHEMA_ERRORS = 500;

/** Compiled once, lazily: compiling costs far more than validating. */
function schemaValidator(): ValidateFunction {
  if (compiled === undefined) {
    const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strict: true, strictRequired: false });
    // Keywords for editors (VS Code JSON/YAML language services); annotations only.
    ajv.addVocabulary(['patternErrorMessage', 'deprecationMessage']);
    compiled = ajv.compile(AGENT_CONFIG_SCHEMA);
  }
  return compiled;
}

export interface SchemaCheckContext {
  source: YamlSource;
  doc: Document;
  data: unknown;
}

/** Whether plain data satisfies the schema (no diagnostics are built). */
export function satisfiesSchema(data: unknown): boolean {
  return schemaValidator()(data);
}

export interface SchemaFindings {
  diagnostics: ConfigDiagnostic[];
  /** Errors beyond MAX_SCHEMA_ERRORS, counted but not turned into diagnostics. */
  unmapped: number;
}

export function schemaDiagnostics(context: SchemaCheckContext): SchemaFindings {
  const validate = schemaValidator();
  if (validate(context.data)) return { diagnostics: [], unmapped: 0 };
  const errors = validate.errors ?? [];
  // One message per place and kind: an empty namespace breaks both minLength and pattern.
  const seen = new Set<string>();
  // Mapping an error costs far more than finding it; beyond this many, no one reads them.
  const diagnostics = errors.slice(0, MAX_SCHEMA_ERRORS).flatMap((error) => {
    const diagnostic = diagnosticFromAjvError(context, error);
    const identity = diagnostic === undefined ? '' : `${diagnostic.code} ${JSON.stringify(diagnostic.path)}`;
    if (diagnostic === undefined || seen.has(identity)) return [];
    seen.add(identity);
    return [diagnostic];
  });
  return { diagnostics, unmapped: Math.max(0, errors.length - MAX_SCHEMA_ERRORS) };
}

/** JSON pointer segments to config path segments: indexes into lists become numbers. */
function pointerToPath(pointer: string, data: unknown): (string | number)[] {
  const path: (string | number)[] = [];
  let current: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const step: string | number = Array.isArray(current) ? Number(segment) : segment;
    path.push(step);
    current = (current as Record<string | number, unknown> | undefined)?.[step];
  }
  return path;
}

function valueAt(data: unknown, path: readonly (string | number)[]): unknown {
  return path.reduce<unknown>((current, step) => (current as Record<string | number, unknown> | undefined)?.[step], data);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function diagnosticFromAjvError(context: SchemaCheckContext, error: ErrorObject): ConfigDiagnostic | undefined {
  const path = pointerToPath(error.instancePath, context.data);
  if (path[0] === 'gitops' || error.keyword === 'if') return undefined; // gitops: reported as removed
  const located = locate(context.doc, path);
  const where = formatPath(path);
  const at = (anchor: 'key' | 'value', fields: Omit<ConfigDiagnostic, 'range' | 'severity'>): ConfigDiagnostic =>
    diagnosticAt(context.source, anchor === 'key' ? keyAnchor(located) : valueAnchor(located), fields);
  switch (error.keyword) {
    case 'additionalProperties':
      return unknownKeyDiagnostic(context, path, String(error.params.additionalProperty));
    case 'required':
      return missingKeyDiagnostic(context, located, path, String(error.params.missingProperty));
    case 'enum':
      return badEnumDiagnostic(context, located, path, error.params.allowedValues as unknown[]);
    case 'type':
      return badTypeDiagnostic(context, located, path, String(error.params.type));
    case 'pattern': {
      const value = valueAt(context.data, path);
      const rule = schemaAtPath(path)?.patternErrorMessage ?? `must match ${String(error.params.pattern)}`;
      const fix = durationFix(context, located, value);
      return at('value', {
        code: DiagnosticCodes.badValue,
        message: `${where}: ${JSON.stringify(value)} ${rule}`,
        path,
        ...(fix === undefined ? {} : { fix }),
      });
    }
    case 'minLength':
      return at('value', { code: DiagnosticCodes.badValue, message: `${where} must not be empty`, path });
    case 'maxLength':
      return at('value', {
        code: DiagnosticCodes.badValue,
        message: `${where} is too long: at most ${String(error.params.limit)} characters`,
        path,
      });
    case 'maxItems':
      return at('key', {
        code: DiagnosticCodes.tooMany,
        message: `${where} has ${(valueAt(context.data, path) as unknown[]).length} entries; at most ${String(error.params.limit)} are allowed`,
        path,
      });
    case 'minItems':
      return at('key', { code: DiagnosticCodes.badValue, message: `${where} needs at least ${String(error.params.limit)} entry`, path });
    case 'minProperties':
    case 'maxProperties':
      return accessAsDiagnostic(context, located, path);
    default:
      return at('value', { code: DiagnosticCodes.badValue, message: `${where} ${error.message ?? 'is invalid'}`, path });
  }
}

/**
 * A scalar where a string belongs (`cpu: 1`, `default_namespace: no`): the reference refuses it
 * rather than converting, so offer to quote the text as written.
 */
function badTypeDiagnostic(context: SchemaCheckContext, located: LocatedNode, path: (string | number)[], type: string): ConfigDiagnostic {
  const schema = schemaAtPath(path) ?? { type };
  const value = valueAt(context.data, path);
  const node = valueAnchor(located);
  const written = isScalar(node) && node.range != null ? context.source.text.slice(node.range[0], node.range[1]).trim() : undefined;
  const quotable = schema.type === 'string' && value !== null && typeof value !== 'object' && written !== undefined && written !== '';
  const fix =
    quotable && node !== undefined
      ? replaceNodeFix(context.source, node, JSON.stringify(written), `Quote it: ${JSON.stringify(written)}`)
      : undefined;
  const yaml11 =
    typeof value === 'boolean' && written !== undefined && !/^(?:true|false)$/i.test(written)
      ? ` (YAML 1.1 reads ${written} as ${String(value)})`
      : '';
  return diagnosticAt(context.source, node, {
    code: DiagnosticCodes.badType,
    message: `${formatPath(path)} must be ${article(schemaTypeName(schema))}, not ${describeValue(value)}${yaml11}`,
    path,
    ...(fix === undefined ? {} : { fix }),
  });
}

/** A Go-style duration (`1h`, `5m`) where protobuf wants seconds: offer the same time in seconds. */
function durationFix(context: SchemaCheckContext, located: LocatedNode, value: unknown): ConfigFix | undefined {
  const node = valueAnchor(located);
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined || ms <= 0 || node === undefined || located.value !== node) return undefined;
  const seconds = `${Number((ms / 1000).toFixed(9))}s`;
  return replaceNodeFix(context.source, node, seconds, `Change to ${seconds}`);
}

function article(typeName: string): string {
  return /^[aeiou]/.test(typeName) ? `an ${typeName}` : `a ${typeName}`;
}

function unknownKeyDiagnostic(context: SchemaCheckContext, parentPath: (string | number)[], key: string): ConfigDiagnostic {
  const path = [...parentPath, key];
  const located = locate(context.doc, path);
  const allowed = allowedKeys(parentPath);
  const suggestion = closestMatch(key, allowed);
  const keyNode = keyAnchor(located);
  const hint =
    suggestion !== undefined
      ? ` Did you mean "${suggestion}"?`
      : allowed.length > 0
        ? ` Allowed keys: ${allowed.join(', ')}.`
        : ` ${formatPath(parentPath)} takes no keys: write {}.`;
  const fix =
    suggestion !== undefined && keyNode !== undefined
      ? replaceNodeFix(context.source, keyNode, suggestion, `Change to "${suggestion}"`)
      : removePairFix(context.source, located, `Remove the unknown key "${key}"`);
  return diagnosticAt(context.source, keyNode, {
    code: DiagnosticCodes.unknownKey,
    message: `Unknown key "${key}" in ${formatPath(parentPath)}.${hint}`,
    path,
    ...(fix === undefined ? {} : { fix }),
  });
}

function missingKeyDiagnostic(context: SchemaCheckContext, located: LocatedNode, path: (string | number)[], key: string): ConfigDiagnostic {
  const fix = insertKeyFix(context.source, located.value, path, key);
  const description = schemaAtPath([...path, key])?.description;
  const why = description === undefined ? '' : ` (${firstSentence(description)})`;
  return diagnosticAt(context.source, keyAnchor(located), {
    code: DiagnosticCodes.missingKey,
    message: `${formatPath(path)} is missing the required key "${key}"${why}`,
    path: [...path, key],
    ...(fix === undefined ? {} : { fix }),
  });
}

function firstSentence(text: string): string {
  const end = text.search(/\.(\s|$)/);
  return end === -1 ? text : text.slice(0, end);
}

function badEnumDiagnostic(
  context: SchemaCheckContext,
  located: LocatedNode,
  path: (string | number)[],
  allowed: unknown[],
): ConfigDiagnostic {
  const value = valueAt(context.data, path);
  const { names: choices, numbers } = enumChoices({ enum: allowed });
  const suggestion = closestMatch(String(value), choices);
  const node = valueAnchor(located);
  const fix =
    suggestion !== undefined && node !== undefined
      ? replaceNodeFix(context.source, node, suggestion, `Change to "${suggestion}"`)
      : undefined;
  const hint = suggestion === undefined ? '' : ` Did you mean "${suggestion}"?`;
  return diagnosticAt(context.source, node, {
    code: DiagnosticCodes.badValue,
    message: `${formatPath(path)}: ${JSON.stringify(value)} is not one of ${choices.join(', ')}${numbers.length === 0 ? '' : ` (or their numbers ${numbers.join(', ')})`}.${hint}`,
    path,
    ...(fix === undefined ? {} : { fix }),
  });
}

function accessAsDiagnostic(context: SchemaCheckContext, located: LocatedNode, path: (string | number)[]): ConfigDiagnostic {
  const choices = allowedKeys(path);
  const present = Object.keys((valueAt(context.data, path) as Record<string, unknown> | null) ?? {});
  const withoutValue = present.length === 0 ? keyWithoutValue(located, choices) : undefined;
  if (withoutValue !== undefined) return emptyModeDiagnostic(context, path, withoutValue);
  const found = present.length === 0 ? 'none is set' : `found ${present.join(' and ')}`;
  const fix =
    present.length > 1 ? keepFirstKeyFix(context.source, located.value) : insertKeyFix(context.source, located.value, path, choices[0]!);
  return diagnosticAt(context.source, keyAnchor(located), {
    code: DiagnosticCodes.accessAsOneOf,
    message: `${formatPath(path)} must set exactly one of ${choices.join(', ')}; ${found}`,
    path,
    ...(fix === undefined ? {} : { fix }),
  });
}

/** `agent:` with nothing after it: the mode's key is there, but its value is null. */
function keyWithoutValue(located: LocatedNode, choices: string[]): Node | undefined {
  if (!isMap(located.value)) return undefined;
  const pair = located.value.items.find((item) => isScalar(item.key) && choices.includes(String(item.key.value)));
  const value = pair?.value;
  return pair !== undefined && (value === null || (isScalar(value) && value.value === null)) ? (pair.key as Node) : undefined;
}

/** The reference reads a key without a value as not set, so `agent:` sets no mode at all. */
function emptyModeDiagnostic(context: SchemaCheckContext, path: (string | number)[], key: Node): ConfigDiagnostic {
  const name = String((key as Scalar).value);
  const colon = key.range == null ? -1 : context.source.text.indexOf(':', key.range[1]);
  const fix: ConfigFix | undefined =
    colon === -1
      ? undefined
      : { title: `Write ${name}: {}`, edits: [{ range: context.source.rangeOf(colon + 1, colon + 1), newText: ' {}' }] };
  return diagnosticAt(context.source, key, {
    code: DiagnosticCodes.accessAsOneOf,
    message: `${formatPath([...path, name])} has no value, which counts as not set (as in the reference): write ${name}: {}`,
    path: [...path, name],
    ...(fix === undefined ? {} : { fix }),
  });
}
