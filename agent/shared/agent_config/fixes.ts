// Quick fixes as plain text edits, computed from the YAML nodes, so that kas output, the
// extension's code actions and tests all share them.
import { isMap, stringify, type Node, type YAMLMap } from 'yaml';
import { schemaAtPath, type JsonSchema } from './schema_nav';
import type { ConfigFix } from './types';
import { keyText, type LocatedNode, type YamlSource } from './yaml_source';

export function replaceNodeFix(source: YamlSource, node: Node, newText: string, title: string): ConfigFix {
  return { title, edits: [{ range: source.nodeRange(node), newText }] };
}

/** Removes the whole lines of a block mapping pair (key, value and its nested lines). */
export function removePairFix(source: YamlSource, located: LocatedNode, title: string): ConfigFix | undefined {
  if (located.key?.range == null) return undefined;
  const start = source.lineStart(located.key.range[0]);
  // Only a key that starts its line: after `- ` the line also starts a list item, in flow style it has neighbours.
  if (source.text.slice(start, located.key.range[0]).trim() !== '') return undefined;
  const valueEnd = located.value?.range?.[1] ?? located.key.range[1];
  const end = source.nextLineStart(source.trimEnd(valueEnd));
  return { title, edits: [{ range: source.rangeOf(start, end), newText: '' }] };
}

/** Flow-style YAML for the value a newly inserted key starts with. */
export function placeholderFor(schema: JsonSchema | undefined): string {
  const sample = schema?.default ?? schema?.examples?.[0];
  if (sample !== undefined) return stringify(sample, { collectionStyle: 'flow' }).trim();
  const type = Array.isArray(schema?.type) ? schema?.type[0] : schema?.type;
  switch (type) {
    case 'object':
      return '{}';
    case 'array':
      return '[]';
    case 'boolean':
      return 'false';
    case 'number':
    case 'integer':
      return '0';
    default:
      return '""';
  }
}

/** Inserts `key: <placeholder>` into the mapping at `path`, matching its style and indentation. */
export function insertKeyFix(
  source: YamlSource,
  mapNode: Node | undefined,
  path: readonly (string | number)[],
  key: string,
): ConfigFix | undefined {
  if (!isMap(mapNode) || mapNode.range === undefined) return undefined;
  const text = `${key}: ${placeholderFor(schemaAtPath([...path, key]))}`;
  const title = `Add the missing key "${key}"`;
  if (mapNode.flow) return insertIntoFlowMap(source, mapNode, text, title);
  const first = mapNode.items[0]?.key as Node | undefined;
  const last = mapNode.items[mapNode.items.length - 1];
  if (first?.range == null || last === undefined) return undefined;
  const indent = ' '.repeat(source.positionAt(first.range[0]).character);
  const lastNode = (last.value ?? last.key) as Node;
  const end = source.trimEnd(lastNode.range?.[1] ?? first.range[1]);
  return { title, edits: [{ range: source.rangeOf(end, end), newText: `\n${indent}${text}` }] };
}

function insertIntoFlowMap(source: YamlSource, mapNode: YAMLMap, text: string, title: string): ConfigFix {
  const [start, valueEnd] = mapNode.range!;
  const closing = source.trimEnd(valueEnd) - 1;
  if (mapNode.items.length === 0) {
    return { title, edits: [{ range: source.rangeOf(start, closing + 1), newText: `{ ${text} }` }] };
  }
  const insertAt = source.trimEnd(closing);
  return { title, edits: [{ range: source.rangeOf(insertAt, insertAt), newText: `, ${text}` }] };
}

/** Keeps only the first key of a mapping (for one-of mappings such as access_as). */
export function keepFirstKeyFix(source: YamlSource, mapNode: Node | undefined): ConfigFix | undefined {
  if (!isMap(mapNode) || mapNode.flow || mapNode.items.length < 2) return undefined;
  const keep = keyText(mapNode.items[0]!.key);
  const edits = mapNode.items.slice(1).flatMap((pair) => {
    const fix = removePairFix(source, { found: true, pair, key: pair.key as Node, value: (pair.value as Node | null) ?? undefined }, '');
    return fix?.edits ?? [];
  });
  return { title: `Keep only "${keep}"`, edits };
}
