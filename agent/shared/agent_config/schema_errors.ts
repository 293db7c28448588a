// JSON Schema validation with ajv, and the translation of its errors into diagnostics with
// friendly messages, exact YAML ranges and quick fixes.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { Document } from 'yaml';
import { diagnosticAt } from './diagnostic_builders';
import { insertKeyFix, keepFirstKeyFix, removePairFix, replaceNodeFix } from './fixes';
import { AGENT_CONFIG_SCHEMA, allowedKeys, formatPath, schemaAtPath, schemaTypeName } from './schema_nav';
import { closestMatch } from './suggest';
import { DiagnosticCodes, type ConfigDiagnostic } from './types';
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
      return at('value', {
        code: DiagnosticCodes.badType,
        message: `${where} must be ${article(schemaTypeName(schemaAtPath(path) ?? { type: String(error.params.type) }))}, not ${describeValue(valueAt(context.data, path))}`,
        path,
      });
    case 'pattern': {
      const rule = schemaAtPath(path)?.patternErrorMessage ?? `must match ${String(error.params.pattern)}`;
      return at('value', {
        code: DiagnosticCodes.badValue,
        message: `${where}: ${JSON.stringify(valueAt(context.data, path))} ${rule}`,
        path,
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
  const choices = allowed.map(String);
  const suggestion = closestMatch(String(value), choices);
  const node = valueAnchor(located);
  const fix =
    suggestion !== undefined && node !== undefined
      ? replaceNodeFix(context.source, node, suggestion, `Change to "${suggestion}"`)
      : undefined;
  const hint = suggestion === undefined ? '' : ` Did you mean "${suggestion}"?`;
  return diagnosticAt(context.source, node, {
    code: DiagnosticCodes.badValue,
    message: `${formatPath(path)}: ${JSON.stringify(value)} is not one of ${choices.join(', ')}.${hint}`,
    path,
    ...(fix === undefined ? {} : { fix }),
  });
}

function accessAsDiagnostic(context: SchemaCheckContext, located: LocatedNode, path: (string | number)[]): ConfigDiagnostic {
  const choices = allowedKeys(path);
  const present = Object.keys((valueAt(context.data, path) as Record<string, unknown> | null) ?? {});
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
