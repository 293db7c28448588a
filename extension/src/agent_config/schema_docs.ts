// Markdown and short type descriptions of schema entries, shared by completion and hover.
import { enumChoices, formatPath, schemaAtPath, type JsonSchema } from '../../../agent/shared/agent_config';

type ConfigPath = readonly (string | number)[];

/** "mapping", "list of mappings", "string", "debug | info | warn | error", ... */
export function typeSummary(path: ConfigPath): string {
  const schema = schemaAtPath(path);
  if (schema === undefined) return 'unknown';
  if (schema.enum !== undefined) return enumChoices(schema).names.join(' | ');
  return typesOf(schema)
    .map((type) => {
      if (type === 'object') return 'mapping';
      if (type !== 'array') return type;
      const items = typeSummary([...path, 0]);
      return `list of ${items === 'mapping' ? 'mappings' : items}`;
    })
    .join(' or ');
}

export function typesOf(schema: JsonSchema): string[] {
  return Array.isArray(schema.type) ? schema.type : schema.type === undefined ? [] : [schema.type];
}

/** Whether `key` is required in the mapping at `parentPath`. */
export function isRequired(parentPath: ConfigPath, key: string): boolean {
  return schemaAtPath(parentPath)?.required?.includes(key) ?? false;
}

/** Markdown documentation of the key at `path` (whose last segment is the key). */
export function keyDocumentation(path: ConfigPath): string | undefined {
  const schema = schemaAtPath(path);
  if (schema === undefined) return undefined;
  const key = path[path.length - 1];
  const required = typeof key === 'string' && isRequired(path.slice(0, -1), key);
  const parts = [`**${formatPath(path)}** — ${typeSummary(path)}${required ? ' (required)' : ''}`];
  if (schema.deprecationMessage !== undefined) parts.push(`⚠️ ${schema.deprecationMessage}`);
  if (schema.description !== undefined) parts.push(schema.description);
  if (schema.enum !== undefined) parts.push(allowedValues(schema));
  if (schema.maxItems !== undefined) parts.push(`At most ${schema.maxItems} entries.`);
  return parts.join('\n\n');
}

function allowedValues(schema: JsonSchema): string {
  const { names, numbers } = enumChoices(schema);
  const byNumber = numbers.length === 0 ? '' : ` (or their numbers ${numbers.map((value) => `\`${value}\``).join(', ')})`;
  return `Allowed values: ${names.map((value) => `\`${value}\``).join(', ')}${byNumber}`;
}
