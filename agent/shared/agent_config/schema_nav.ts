// Reading the agent-config JSON Schema by path: which keys a mapping allows, what a key means,
// which values an enum takes. Used for messages, quick fixes, completion and hover.
import schemaJson from './assets/agent_config.schema.json';

/** The subset of JSON Schema keywords this schema uses. */
export interface JsonSchema {
  $ref?: string;
  description?: string;
  deprecationMessage?: string;
  patternErrorMessage?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  /** false, or the schema of every value (a map such as labels). */
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  /** The first one is what a quick fix inserts for a required key without a default. */
  examples?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  definitions?: Record<string, JsonSchema>;
}

/** The parsed agent-config JSON Schema (the single source of truth). */
export const AGENT_CONFIG_SCHEMA: JsonSchema = schemaJson as JsonSchema;

const REF_PREFIX = '#/definitions/';

/** Follows `$ref`; keywords next to the `$ref` (a more specific description) take precedence. */
export function resolveSchema(schema: JsonSchema): JsonSchema {
  if (schema.$ref === undefined) return schema;
  const name = schema.$ref.startsWith(REF_PREFIX) ? schema.$ref.slice(REF_PREFIX.length) : undefined;
  const target = name === undefined ? undefined : AGENT_CONFIG_SCHEMA.definitions?.[name];
  if (target === undefined) throw new Error(`agent-config schema: unresolvable $ref ${schema.$ref}`);
  const { $ref: _ignored, ...local } = schema;
  return { ...resolveSchema(target), ...local };
}

/** The schema that applies at a path of keys and indexes, or undefined outside the schema. */
export function schemaAtPath(path: readonly (string | number)[]): JsonSchema | undefined {
  let current: JsonSchema | undefined = AGENT_CONFIG_SCHEMA;
  for (const segment of path) {
    if (current === undefined) return undefined;
    const resolved = resolveSchema(current);
    current = typeof segment === 'number' ? resolved.items : resolved.properties?.[segment];
  }
  return current === undefined ? undefined : resolveSchema(current);
}

/** Keys a mapping at this path allows, in schema order. */
export function allowedKeys(path: readonly (string | number)[]): string[] {
  return Object.keys(schemaAtPath(path)?.properties ?? {});
}

/** Short type name for messages: "mapping", "list", "string", ... */
export function schemaTypeName(schema: JsonSchema): string {
  const types = Array.isArray(schema.type) ? schema.type : schema.type === undefined ? [] : [schema.type];
  return types.map(yamlTypeName).join(' or ') || 'any value';
}

export function yamlTypeName(jsonType: string): string {
  switch (jsonType) {
    case 'object':
      return 'mapping';
    case 'array':
      return 'list';
    case 'integer':
      return 'integer';
    default:
      return jsonType;
  }
}

/** Human-readable path like `ci_access.projects[0].id`; "the top level" for []. */
export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return 'the top level';
  return path.map((segment, index) => (typeof segment === 'number' ? `[${segment}]` : index === 0 ? segment : `.${segment}`)).join('');
}

/** An enum's values split into names and numbers (the reference takes a protobuf enum by either). */
export function enumChoices(schema: JsonSchema): { names: string[]; numbers: number[] } {
  const values = schema.enum ?? [];
  return {
    names: values.filter((value): value is string => typeof value === 'string'),
    numbers: values.filter((value): value is number => typeof value === 'number'),
  };
}
