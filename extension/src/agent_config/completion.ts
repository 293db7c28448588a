// Completion of keys (those the schema allows at the cursor and not yet written) and of values
// (enums, booleans, `{}` for empty mappings), with documentation from the schema.
import { allowedKeys, enumChoices, schemaAtPath, type ConfigRange } from '../../../agent/shared/agent_config';
import { isRequired, keyDocumentation, typeSummary, typesOf } from './schema_docs';
import { parentPathAt, siblingKeys, splitLines } from './yaml_lines';

export interface ConfigCompletionItem {
  label: string;
  kind: 'key' | 'value';
  /** One line: the type, e.g. "mapping (required)". */
  detail: string;
  /** Markdown from the schema's descriptions. */
  documentation: string;
  /** Plain text (not a snippet); may span lines with absolute indentation. */
  insertText: string;
  /** The text the item replaces: the partial word around the cursor. */
  range: ConfigRange;
  /** Sorts required keys first. */
  sortText: string;
}

type ConfigPath = (string | number)[];

const VALUE_CONTEXT = /^(\s*)(-\s+)?(["']?)([A-Za-z0-9_.-]+)\3\s*:\s+(["']?)([^\s#"']*)$/;
const KEY_CONTEXT = /^(\s*)(-\s+)?([A-Za-z0-9_-]*)$/;

/** Completion items at a 0-based position. */
export function completionsAt(text: string, line: number, character: number): ConfigCompletionItem[] {
  const lines = splitLines(text);
  const current = lines[line] ?? '';
  const before = current.slice(0, character);
  const wordEnd = character + (/^[A-Za-z0-9_.-]*/.exec(current.slice(character))?.[0].length ?? 0);
  const valueMatch = VALUE_CONTEXT.exec(before);
  if (valueMatch !== null) {
    const parent = containerPath(lines, line, valueMatch[1]!.length, valueMatch[2]);
    const range = rangeOn(line, character - valueMatch[6]!.length, wordEnd);
    return valueItems([...parent, valueMatch[4]!], range);
  }
  const keyMatch = KEY_CONTEXT.exec(before);
  if (keyMatch === null) return [];
  const column = keyMatch[1]!.length + (keyMatch[2]?.length ?? 0);
  const parent = containerPath(lines, line, keyMatch[1]!.length, keyMatch[2]);
  const present = keyMatch[2] === undefined ? siblingKeys(lines, line, column) : new Set<string>();
  return keyItems(parent, present, column, rangeOn(line, character - keyMatch[3]!.length, wordEnd));
}

/** Path of the mapping the cursor's key belongs to; a `- ` on the line starts a list item. */
function containerPath(lines: string[], line: number, indent: number, dash: string | undefined): ConfigPath {
  if (dash === undefined) return parentPathAt(lines, line, indent);
  return [...parentPathAt(lines, line, indent), 0];
}

function rangeOn(line: number, start: number, end: number): ConfigRange {
  return { start: { line, character: start }, end: { line, character: end } };
}

function keyItems(parent: ConfigPath, present: Set<string>, column: number, range: ConfigRange): ConfigCompletionItem[] {
  const maxKeys = schemaAtPath(parent)?.maxProperties;
  if (maxKeys !== undefined && present.size >= maxKeys) return []; // one-of mappings such as access_as
  return allowedKeys(parent)
    .filter((key) => !present.has(key) && schemaAtPath([...parent, key])?.deprecationMessage === undefined)
    .map((key) => {
      const path = [...parent, key];
      const required = isRequired(parent, key);
      return {
        label: key,
        kind: 'key' as const,
        detail: `${typeSummary(path)}${required ? ' (required)' : ''}`,
        documentation: keyDocumentation(path) ?? '',
        insertText: keyInsertText(path, column),
        range,
        sortText: `${required ? '0' : '1'}${key}`,
      };
    });
}

/** `key: ` for scalars; a nested block, indented below the key, for mappings and lists. */
function keyInsertText(path: ConfigPath, column: number): string {
  const key = String(path[path.length - 1]);
  const schema = schemaAtPath(path);
  const types = schema === undefined ? [] : typesOf(schema);
  const childIndent = ' '.repeat(column + 2);
  if (types[0] === 'object') {
    const hasKeys = Object.keys(schema?.properties ?? {}).length > 0;
    return hasKeys ? `${key}:\n${childIndent}` : `${key}: {}`;
  }
  if (types[0] === 'array') {
    const firstRequired = schemaAtPath([...path, 0])?.required?.[0];
    return `${key}:\n${childIndent}- ${firstRequired === undefined ? '' : `${firstRequired}: `}`;
  }
  return `${key}: `;
}

function valueItems(path: ConfigPath, range: ConfigRange): ConfigCompletionItem[] {
  const schema = schemaAtPath(path);
  if (schema === undefined) return [];
  const documentation = keyDocumentation(path) ?? '';
  const item = (value: string, detail: string): ConfigCompletionItem => ({
    label: value,
    kind: 'value',
    detail,
    documentation,
    insertText: value,
    range,
    sortText: value,
  });
  // Names only: the numbers the reference also takes are for machines, not for typing.
  if (schema.enum !== undefined) return enumChoices(schema).names.map((value) => item(value, `${String(path[path.length - 1])} value`));
  const types = typesOf(schema);
  if (types.includes('boolean')) return ['true', 'false'].map((value) => item(value, 'boolean'));
  if (types[0] === 'object' && Object.keys(schema.properties ?? {}).length === 0) return [item('{}', 'empty mapping')];
  return [];
}
