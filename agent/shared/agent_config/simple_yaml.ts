// A fast reader for the plain block-style YAML that agent configs are written in: mappings,
// lists, plain and quoted one-line scalars, and one-line flow lists/mappings of scalars.
// The yaml package needs ~20 ms for a 2,000-line file on this machine; this reader a few.
// It answers with the data and a yaml-package AST (nodes with the same source ranges, so the
// diagnostics code works on either), or "not sure" (undefined): anything outside the subset
// (anchors, tags, block scalars, multi-line scalars, duplicate keys, odd indentation) makes it
// give up, and the caller falls back to the yaml package. Differential tests hold it to yaml.
import { Document, LineCounter, Pair, Scalar, YAMLMap, YAMLSeq } from 'yaml';

type PlainData = Record<string, unknown> | unknown[];
type Collection = YAMLMap<Scalar, unknown> | YAMLSeq<unknown>;

export interface SimpleYamlResult {
  data: Record<string, unknown>;
  /**
   * True when a collection ended with comment lines after its last content. Where yaml ends
   * such a collection follows rules of its own, so its range here may differ from yaml's:
   * fine for reading data, not for placing diagnostics and fixes.
   */
  rangesUncertain: boolean;
  /** The same content as yaml AST nodes with source ranges (contents null when empty). */
  doc: Document;
  lineCounter: LineCounter;
}

interface Frame {
  /** Column of this container's keys or dashes. */
  indent: number;
  container: PlainData;
  node: Collection;
  /** The pair whose value is given on the following lines (a `key:` line), if any. */
  pending?: { key: string; pair: Pair<Scalar, unknown> };
}

/** A read value: plain data and its node. */
interface Read {
  value: unknown;
  node: Scalar | Collection;
}

class GiveUp extends Error {}

const giveUp = (): never => {
  throw new GiveUp();
};

const KEY_LINE = /^([A-Za-z_][A-Za-z0-9_.\-/]*):(?:[ ]+(.*))?$/;
const NULL = /^(?:~|null|Null|NULL)?$/;
// YAML 1.1, as the reference reads configs (see YAML_READ_OPTIONS in parse.ts).
const TRUE = /^(?:Y|y|[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/;
const FALSE = /^(?:N|n|[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;
const DECIMAL_INT = /^[-+]?(?:0|[1-9][0-9]*)$/;
const HEX_INT = /^0x[0-9a-fA-F]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?$|^[-+]?[0-9]+[eE][-+]?[0-9]+$/;
/** Plain scalars whose YAML 1.1 reading differs between parsers or needs care: left to yaml. */
const NUMBER_LIKE_ELSE = /^[-+]?(?:0[0-9_]|0[bo]|[0-9.][0-9_.]*[_:])|^[-+]0x|^[-+]?\.$/;
const INFINITY = /^([-+]?)\.(?:inf|Inf|INF)$/;
const NAN = /^\.(?:nan|NaN|NAN)$/;
/** Characters that may not start a plain scalar (or that start YAML features we leave to yaml). */
const INDICATOR_START = /^[-?:,[\]{}#&*!|>'"%@`]/;

/** Plain data for simple YAML, or undefined when the text needs the full YAML parser. */
export function parseSimpleYaml(text: string): Record<string, unknown> | undefined {
  return readSimpleYaml(text)?.data;
}

/** Data, AST and line index for simple YAML, or undefined when the text needs the yaml package. */
export function readSimpleYaml(text: string): SimpleYamlResult | undefined {
  // Tabs, a byte-order mark and line breaks other than LF and CRLF are left to the yaml package.
  if (/[\t\uFEFF\u0085\u2028\u2029]|\r(?!\n)/.test(text)) return undefined;
  try {
    return new SimpleReader(text).read();
  } catch (error) {
    if (error instanceof GiveUp) return undefined;
    throw error;
  }
}

class SimpleReader {
  private readonly root: Record<string, unknown> = {};
  private readonly rootNode = new YAMLMap<Scalar, unknown>();
  private readonly stack: Frame[] = [{ indent: 0, container: this.root, node: this.rootNode }];
  private readonly lineCounter = new LineCounter();
  /** End offset of the last line with content (a trailing comment on it included, as in yaml). */
  private lastContentEnd = 0;
  /** Comment lines since the last content line: a collection closed now may own some of them. */
  private commentsSinceContent: { indent: number; end: number }[] = [];
  private rangesUncertain = false;

  constructor(private readonly text: string) {}

  read(): SimpleYamlResult {
    let sawContent = false;
    for (let lineStart = 0; lineStart <= this.text.length;) {
      const newline = this.text.indexOf('\n', lineStart);
      const lineEnd = newline === -1 ? this.text.length : newline;
      this.lineCounter.addNewLine(lineStart);
      const line = this.text.slice(lineStart, this.text[lineEnd - 1] === '\r' ? lineEnd - 1 : lineEnd);
      const content = line.trim();
      const indent = line.length - line.trimStart().length;
      if (content.startsWith('#')) {
        this.commentsSinceContent.push({ indent, end: lineStart + indent + content.length });
      } else if (content !== '') {
        if (!sawContent && /^(?:---|\.\.\.|%)/.test(content)) giveUp();
        sawContent = true;
        this.readLine(indent, lineStart + indent, content);
        this.lastContentEnd = lineStart + indent + content.length;
        this.commentsSinceContent = [];
      }
      if (newline === -1) break;
      lineStart = newline + 1;
    }
    while (this.stack.length > 0) this.closeFrame();
    const doc = new Document();
    doc.contents = sawContent ? this.rootNode : null;
    return { data: this.root, doc, lineCounter: this.lineCounter, rangesUncertain: this.rangesUncertain };
  }

  private readLine(indent: number, offset: number, content: string): void {
    const isItem = content === '-' || content.startsWith('- ');
    const frame = this.frameFor(indent, offset, isItem);
    if (isItem) {
      this.readItem(frame, indent, offset, content);
    } else {
      if (Array.isArray(frame.container) || frame.indent !== indent) giveUp();
      this.readKeyValue(frame, offset, content);
    }
  }

  /** The frame a line at `indent` belongs to, opening a nested container for a pending key. */
  private frameFor(indent: number, offset: number, isItem: boolean): Frame {
    while (this.stack.length > 1 && this.top().indent > indent) this.closeFrame();
    // A key line after a list written at its parent's column (`key:\n- a\nnext: b`) ends the list.
    if (!isItem && Array.isArray(this.top().container) && this.top().indent === indent && this.stack.length > 1) this.closeFrame();
    const top = this.top();
    const pending = top.pending;
    if (pending === undefined) return top;
    top.pending = undefined;
    const opensBlock = indent > top.indent || (isItem && indent === top.indent && !Array.isArray(top.container));
    if (!opensBlock) return top;
    const frame: Frame = isItem
      ? { indent, container: [], node: new YAMLSeq<unknown>() }
      : { indent, container: {}, node: new YAMLMap<Scalar, unknown>() };
    frame.node.range = [offset, offset, offset];
    (top.container as Record<string, unknown>)[pending.key] = frame.container;
    pending.pair.value = frame.node;
    this.stack.push(frame);
    return frame;
  }

  private top(): Frame {
    return this.stack[this.stack.length - 1]!;
  }

  /** Ends the innermost collection at its last content. */
  private closeFrame(): void {
    const frame = this.stack.pop()!;
    if (this.commentsSinceContent.length > 0) this.rangesUncertain = true;
    frame.node.range = [frame.node.range?.[0] ?? 0, this.lastContentEnd, this.lastContentEnd];
  }

  private readItem(frame: Frame, indent: number, offset: number, content: string): void {
    if (!Array.isArray(frame.container) || frame.indent !== indent) giveUp();
    if (frame.node.items.length === 0) frame.node.range = [offset, offset, offset];
    const rest = content.slice(1).trimStart();
    if (rest === '' || rest.startsWith('- ')) giveUp(); // nested block under a bare dash: leave to yaml
    const restOffset = offset + content.length - rest.length;
    const items = frame.container as unknown[];
    const seq = frame.node as YAMLSeq<unknown>;
    if (KEY_LINE.test(rest)) {
      const item: Record<string, unknown> = {};
      const itemNode = new YAMLMap<Scalar, unknown>();
      itemNode.range = [restOffset, restOffset, restOffset];
      items.push(item);
      seq.items.push(itemNode);
      const itemFrame: Frame = { indent: indent + content.length - rest.length, container: item, node: itemNode };
      this.stack.push(itemFrame);
      this.readKeyValue(itemFrame, restOffset, rest);
    } else {
      const read = readScalarOrFlow(rest, restOffset);
      items.push(read.value);
      seq.items.push(read.node);
    }
  }

  private readKeyValue(frame: Frame, offset: number, content: string): void {
    const match = KEY_LINE.exec(content) ?? giveUp();
    const map = frame.container as Record<string, unknown>;
    const key = checkedKey(match[1]!, map);
    if (frame.node.items.length === 0) frame.node.range = [offset, offset, offset];
    const keyNode = scalarNode(key, offset, offset + key.length);
    const valueText = stripComment(match[2] ?? '');
    let pair: Pair<Scalar, unknown>;
    if (valueText === '') {
      map[key] = null; // replaced if a nested block follows
      const afterColon = offset + key.length + 1;
      pair = new Pair(keyNode, scalarNode(null, afterColon, afterColon));
      frame.pending = { key, pair };
    } else {
      const read = readScalarOrFlow(valueText, offset + content.length - (match[2] ?? '').length);
      map[key] = read.value;
      pair = new Pair(keyNode, read.node);
    }
    (frame.node as YAMLMap<Scalar, unknown>).items.push(pair);
  }
}

function scalarNode(value: unknown, start: number, end: number): Scalar {
  const node = new Scalar(value);
  node.range = [start, end, end];
  return node;
}

/** Keys that YAML would read as null or a boolean, duplicates and `__proto__` go to yaml. */
function checkedKey(key: string, map: Record<string, unknown>): string {
  if (key === '__proto__' || NULL.test(key) || TRUE.test(key) || FALSE.test(key)) giveUp();
  if (Object.prototype.hasOwnProperty.call(map, key)) giveUp();
  return key;
}

/** Drops a trailing ` # comment` outside quotes. */
function stripComment(text: string): string {
  if (text.startsWith('#')) return '';
  if (text.startsWith('"') || text.startsWith("'")) return text.trimEnd();
  const hash = text.indexOf(' #');
  return (hash === -1 ? text : text.slice(0, hash)).trimEnd();
}

function readScalarOrFlow(text: string, offset: number): Read {
  const value = stripComment(text);
  if (value.startsWith('[')) return readFlowList(value, offset);
  if (value.startsWith('{')) return readFlowMap(value, offset);
  const scalar = readScalar(value);
  return { value: scalar, node: scalarNode(scalar, offset, offset + value.length) };
}

function readScalar(text: string): unknown {
  if (text.startsWith('"')) return readDoubleQuoted(text);
  if (text.startsWith("'")) return readSingleQuoted(text);
  return readPlain(text);
}

function readDoubleQuoted(text: string): string {
  if (!/^"(?:[^"\\]|\\.)*"$/.test(text)) giveUp();
  try {
    // JSON escapes are a subset of YAML double-quoted escapes and mean the same there.
    return JSON.parse(text) as string;
  } catch {
    return giveUp();
  }
}

function readSingleQuoted(text: string): string {
  if (!/^'(?:[^']|'')*'$/.test(text)) giveUp();
  return text.slice(1, -1).replace(/''/g, "'");
}

/**
 * YAML 1.1 resolution of a plain scalar, as the yaml package does it with YAML_READ_OPTIONS;
 * octal, binary, underscores and sexagesimal-looking numbers are left to the yaml package.
 */
function readPlain(text: string): unknown {
  if (INDICATOR_START.test(text) && !/^-[^\s]/.test(text)) giveUp();
  if (text.includes(': ') || text.endsWith(':') || text.includes(' #')) giveUp();
  if (NULL.test(text)) return null;
  if (TRUE.test(text)) return true;
  if (FALSE.test(text)) return false;
  if (NUMBER_LIKE_ELSE.test(text)) giveUp();
  if (DECIMAL_INT.test(text)) return Number(text);
  if (HEX_INT.test(text)) return parseInt(text.slice(2), 16);
  if (FLOAT.test(text)) return Number(text);
  const infinity = INFINITY.exec(text);
  if (infinity !== null) return infinity[1] === '-' ? -Infinity : Infinity;
  if (NAN.test(text)) return NaN;
  return text;
}

interface FlowItem {
  text: string;
  offset: number;
}

/** Splits the inside of a one-line flow collection at commas outside quotes, with offsets. */
function splitFlowItems(inner: string, innerOffset: number): FlowItem[] {
  if (inner.trim() === '') return [];
  const items: FlowItem[] = [];
  let quote: string | undefined;
  let start = 0;
  const push = (end: number): void => {
    const raw = inner.slice(start, end);
    const text = raw.trim();
    if (text === '') giveUp();
    items.push({ text, offset: innerOffset + start + (raw.length - raw.trimStart().length) });
  };
  for (let index = 0; index < inner.length; index++) {
    const char = inner[index]!;
    if (quote !== undefined) {
      if (char === '\\' && quote === '"') index++;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if ('[]{}'.includes(char)) {
      giveUp(); // nested flow collections
    } else if (char === ',') {
      push(index);
      start = index + 1;
    }
  }
  if (quote !== undefined) giveUp();
  push(inner.length);
  return items;
}

function flowNode<T extends Collection>(node: T, text: string, offset: number): T {
  node.flow = true;
  node.range = [offset, offset + text.length, offset + text.length];
  return node;
}

function readFlowList(text: string, offset: number): Read {
  if (!text.endsWith(']')) giveUp();
  const node = flowNode(new YAMLSeq<unknown>(), text, offset);
  const value = splitFlowItems(text.slice(1, -1), offset + 1).map((item) => {
    const read = readFlowScalar(item.text, item.offset);
    node.items.push(read.node);
    return read.value;
  });
  return { value, node };
}

function readFlowMap(text: string, offset: number): Read {
  if (!text.endsWith('}')) giveUp();
  const node = flowNode(new YAMLMap<Scalar, unknown>(), text, offset);
  const value: Record<string, unknown> = {};
  for (const item of splitFlowItems(text.slice(1, -1), offset + 1)) {
    const match = KEY_LINE.exec(item.text) ?? giveUp();
    const key = checkedKey(match[1]!, value);
    const valueText = match[2] ?? giveUp();
    const read = readFlowScalar(valueText, item.offset + item.text.length - valueText.length);
    value[key] = read.value;
    node.items.push(new Pair(scalarNode(key, item.offset, item.offset + key.length), read.node));
  }
  return { value, node };
}

function readFlowScalar(text: string, offset: number): Read {
  if (text.includes(':') && !text.startsWith('"') && !text.startsWith("'")) giveUp();
  const value = readScalar(text);
  return { value, node: scalarNode(value, offset, offset + text.length) };
}
