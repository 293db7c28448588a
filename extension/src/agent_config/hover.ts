// Hover documentation for the key (or value) under the cursor, from a tolerant YAML parse.
import { isMap, isPair, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { keyDocumentation } from './schema_docs';

type ConfigPath = (string | number)[];

/** Markdown for the key or value at a 0-based position, or undefined outside known keys. */
export function hoverAt(text: string, line: number, character: number): string | undefined {
  const offset = offsetAt(text, line, character);
  if (offset === undefined) return undefined;
  const doc = parseDocument(text, { uniqueKeys: false });
  const path = pathAtOffset(doc.contents as Node | null, offset, []);
  return path === undefined ? undefined : keyDocumentation(path);
}

/** Offset of a 0-based position, counting CRLF, CR and LF line ends as editors do. */
function offsetAt(text: string, line: number, character: number): number | undefined {
  const lineBreak = /\r\n|\r|\n/g;
  let lineStart = 0;
  for (let index = 0; index < line; index++) {
    const found = lineBreak.exec(text);
    if (found === null) return undefined;
    lineStart = found.index + found[0].length;
  }
  return lineStart + character;
}

function contains(node: unknown, offset: number): boolean {
  const range = (node as Node | null)?.range;
  return range != null && range[0] <= offset && offset <= range[1];
}

/** The path of the key whose name or scalar value spans `offset`. */
function pathAtOffset(node: Node | null, offset: number, path: ConfigPath): ConfigPath | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const keyPath = [...path, String(pair.key.value)];
      if (contains(pair.key, offset)) return keyPath;
      if (isScalar(pair.value) && contains(pair.value, offset)) return keyPath;
      if (contains(pair.value, offset)) return pathAtOffset(pair.value as Node, offset, keyPath);
    }
  } else if (isSeq(node)) {
    for (const [index, item] of node.items.entries()) {
      if (contains(item, offset)) return pathAtOffset(item as Node, offset, [...path, index]);
    }
  }
  return undefined;
}
