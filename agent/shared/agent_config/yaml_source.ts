// Positions in the YAML source: offsets to 0-based line/character, and finding the YAML node
// (key or value) at a config path so that every diagnostic points at the exact text.
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Document, type Node, type Pair } from 'yaml';
import type { ConfigPosition, ConfigRange } from './types';

export class YamlSource {
  constructor(
    readonly text: string,
    readonly lineCounter: LineCounter,
  ) {}

  positionAt(offset: number): ConfigPosition {
    let clamped = Math.max(0, Math.min(offset, this.text.length));
    // Between the CR and LF of a CRLF is no position an editor knows: use the line's end.
    if (this.text[clamped - 1] === '\r' && this.text[clamped] === '\n') clamped--;
    const { line, col } = this.lineCounter.linePos(clamped);
    return { line: line - 1, character: col - 1 };
  }

  rangeOf(start: number, end: number): ConfigRange {
    return { start: this.positionAt(start), end: this.positionAt(Math.max(start, end)) };
  }

  /** Offset of the start of the line that holds `offset`. */
  lineStart(offset: number): number {
    return this.text.lastIndexOf('\n', offset - 1) + 1;
  }

  /** Offset just past the newline that ends the line holding `offset` (or the text's end). */
  nextLineStart(offset: number): number {
    const newline = this.text.indexOf('\n', offset);
    return newline === -1 ? this.text.length : newline + 1;
  }

  /** Moves an end offset back over trailing newlines and blanks a block node's range includes. */
  trimEnd(offset: number): number {
    let end = offset;
    while (end > 0 && /[\s]/.test(this.text[end - 1]!)) end--;
    return end;
  }

  /** Range of a node's own text (without trailing comments or newlines). */
  nodeRange(node: Node): ConfigRange {
    const [start, valueEnd] = node.range ?? [0, 0];
    return this.rangeOf(start, this.trimEnd(valueEnd));
  }
}

/** The nodes a config path leads to. `found` is false when the path leaves the document. */
export interface LocatedNode {
  found: boolean;
  /** The pair whose key is the path's last string segment (absent for list items and the root). */
  pair?: Pair<unknown, unknown>;
  /** The key node of that pair. */
  key?: Node;
  /** The value at the path (or the deepest node reached when not found). */
  value?: Node;
}

export function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === 'string' ? key : undefined;
}

function resolveAliases(node: unknown, doc: Document): unknown {
  let current = node;
  // An anchor cannot refer to itself, but bound the walk anyway: input is untrusted.
  for (let hops = 0; isAlias(current) && hops < 100; hops++) current = current.resolve(doc);
  return current;
}

/** Walks the document along a path of keys and indexes. */
export function locate(doc: Document, path: readonly (string | number)[]): LocatedNode {
  let located: LocatedNode = { found: true, value: (doc.contents as Node | null) ?? undefined };
  for (const segment of path) {
    const container = resolveAliases(located.value, doc);
    if (typeof segment === 'number' && isSeq(container)) {
      const item = container.items[segment] as Node | undefined;
      if (item === undefined) return { ...located, found: false };
      located = { found: true, value: item };
    } else if (typeof segment === 'string' && isMap(container)) {
      const pair = container.items.find((candidate) => keyText(candidate.key) === segment);
      if (pair === undefined) return { ...located, found: false };
      located = { found: true, pair, key: pair.key as Node, value: (pair.value as Node | null) ?? undefined };
    } else {
      return { ...located, found: false };
    }
  }
  return located;
}

/** The best node to underline for a problem with the value at `located`. */
export function valueAnchor(located: LocatedNode): Node | undefined {
  const { value, key } = located;
  const emptyValue = isScalar(value) && value.range != null && value.range[0] === value.range[1];
  if (emptyValue && key !== undefined) return key; // `key:` with nothing after it
  if (value !== undefined && (isScalar(value) || isAlias(value) || key === undefined)) return value;
  return key ?? value;
}

/** The best node to underline for a problem with the key at `located`. */
export function keyAnchor(located: LocatedNode): Node | undefined {
  return located.key ?? located.value;
}

/**
 * Line starts of the whole text. Built here rather than by the yaml parser, which skips
 * newlines inside some malformed tokens and would then misplace later positions.
 */
export function lineCounterFor(text: string): LineCounter {
  const lineCounter = new LineCounter();
  lineCounter.addNewLine(0);
  if (/\r(?!\n)/.test(text)) {
    // A lone CR ends a line for YAML and for VS Code alike.
    for (const match of text.matchAll(/\r\n|\r|\n/g)) lineCounter.addNewLine(match.index + match[0].length);
    return lineCounter;
  }
  for (let index = text.indexOf('\n'); index !== -1; index = text.indexOf('\n', index + 1)) lineCounter.addNewLine(index + 1);
  return lineCounter;
}
