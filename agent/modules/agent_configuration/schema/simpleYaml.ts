// A fast reader for the plain block-style YAML that agent configs are written in: mappings,
// lists, plain and quoted one-line scalars, and one-line flow lists/mappings of scalars.
// The yaml package needs ~20 ms for a 2,000-line file on this machine; this reader needs a few.
// It only ever answers "this is the data" or "not sure" (undefined): anything outside the
// subset (anchors, tags, block scalars, multi-line scalars, duplicate keys, odd indentation)
// makes it give up, and the caller falls back to the yaml package, which also produces every
// diagnostic with its position. Its output must equal yaml's `toJS` (a differential test checks).

type PlainData = Record<string, unknown> | unknown[];

interface Frame {
  /** Column of this container's keys or dashes. */
  indent: number;
  container: PlainData;
  /** The key whose value is given on the following lines (a `key:` line), if any. */
  pendingKey?: string;
}

class GiveUp extends Error {}

const giveUp = (): never => {
  throw new GiveUp();
};

const KEY_LINE = /^([A-Za-z_][A-Za-z0-9_.\-/]*):(?:[ ]+(.*))?$/;
const NULL = /^(?:~|null|Null|NULL)?$/;
const TRUE = /^(?:true|True|TRUE)$/;
const FALSE = /^(?:false|False|FALSE)$/;
const DECIMAL_INT = /^[-+]?[0-9]+$/;
const OCTAL_INT = /^0o[0-7]+$/;
const HEX_INT = /^0x[0-9a-fA-F]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
const INFINITY = /^([-+]?)\.(?:inf|Inf|INF)$/;
const NAN = /^\.(?:nan|NaN|NAN)$/;
/** Characters that may not start a plain scalar (or that start YAML features we leave to yaml). */
const INDICATOR_START = /^[-?:,[\]{}#&*!|>'"%@`]/;

/** Plain data for simple YAML, or undefined when the text needs the full YAML parser. */
export function parseSimpleYaml(text: string): Record<string, unknown> | undefined {
  if (/[\t\uFEFF]/.test(text)) return undefined;
  try {
    return readDocument(text.split('\n'));
  } catch (error) {
    if (error instanceof GiveUp) return undefined;
    throw error;
  }
}

function readDocument(lines: string[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  const stack: Frame[] = [{ indent: 0, container: root }];
  let sawContent = false;
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const content = line.trimStart();
    if (content === '' || content.startsWith('#')) continue;
    if (!sawContent && /^(?:---|\.\.\.|%)/.test(content)) giveUp();
    sawContent = true;
    readLine(stack, line.length - content.length, content);
  }
  return root;
}

function readLine(stack: Frame[], indent: number, content: string): void {
  const isItem = content === '-' || content.startsWith('- ');
  const frame = frameFor(stack, indent, isItem);
  if (isItem) {
    readItem(stack, frame, indent, content);
  } else {
    if (Array.isArray(frame.container) || frame.indent !== indent) giveUp();
    readKeyValue(frame as Frame & { container: Record<string, unknown> }, content);
  }
}

/** The frame a line at `indent` belongs to, opening a nested container for a pending key. */
function frameFor(stack: Frame[], indent: number, isItem: boolean): Frame {
  while (stack.length > 1 && stack[stack.length - 1]!.indent > indent) closeFrame(stack);
  let top = stack[stack.length - 1]!;
  // A key line after a list written at its parent's column (`key:\n- a\nnext: b`) ends the list.
  if (!isItem && Array.isArray(top.container) && top.indent === indent && stack.length > 1) {
    closeFrame(stack);
    top = stack[stack.length - 1]!;
  }
  const key = top.pendingKey;
  if (key === undefined) return top;
  const opensBlock = indent > top.indent || (isItem && indent === top.indent && !Array.isArray(top.container));
  if (!opensBlock) {
    top.pendingKey = undefined;
    return top;
  }
  const container: PlainData = isItem ? [] : {};
  (top.container as Record<string, unknown>)[key] = container;
  top.pendingKey = undefined;
  const frame: Frame = { indent, container };
  stack.push(frame);
  return frame;
}

function closeFrame(stack: Frame[]): void {
  const frame = stack.pop()!;
  frame.pendingKey = undefined;
}

function readItem(stack: Frame[], frame: Frame, indent: number, content: string): void {
  if (!Array.isArray(frame.container) || frame.indent !== indent) giveUp();
  const rest = content.slice(1).trimStart();
  if (rest === '' || rest.startsWith('- ')) giveUp(); // nested block under a bare dash: leave to yaml
  const items = frame.container as unknown[];
  const column = indent + content.length - rest.length;
  if (KEY_LINE.test(rest)) {
    const item: Record<string, unknown> = {};
    items.push(item);
    const itemFrame: Frame = { indent: column, container: item };
    stack.push(itemFrame);
    readKeyValue(itemFrame as Frame & { container: Record<string, unknown> }, rest);
  } else {
    items.push(readScalarOrFlow(rest));
  }
}

function readKeyValue(frame: Frame & { container: Record<string, unknown> }, content: string): void {
  const match = KEY_LINE.exec(content) ?? giveUp();
  const key = checkedKey(match[1]!, frame.container);
  const valueText = stripComment(match[2] ?? '');
  if (valueText === '') {
    frame.container[key] = null; // replaced if a nested block follows
    frame.pendingKey = key;
  } else {
    frame.container[key] = readScalarOrFlow(valueText);
  }
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

function readScalarOrFlow(text: string): unknown {
  const value = stripComment(text);
  if (value.startsWith('[')) return readFlowList(value);
  if (value.startsWith('{')) return readFlowMap(value);
  return readScalar(value);
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

/** YAML 1.2 core schema resolution of a plain scalar, as the yaml package does it. */
function readPlain(text: string): unknown {
  if (INDICATOR_START.test(text) && !/^-[^\s]/.test(text)) giveUp();
  if (text.includes(': ') || text.endsWith(':') || text.includes(' #')) giveUp();
  if (NULL.test(text)) return null;
  if (TRUE.test(text)) return true;
  if (FALSE.test(text)) return false;
  if (DECIMAL_INT.test(text)) return Number(text);
  if (OCTAL_INT.test(text)) return parseInt(text.slice(2), 8);
  if (HEX_INT.test(text)) return parseInt(text.slice(2), 16);
  if (FLOAT.test(text)) return Number(text);
  const infinity = INFINITY.exec(text);
  if (infinity !== null) return infinity[1] === '-' ? -Infinity : Infinity;
  if (NAN.test(text)) return NaN;
  return text;
}

/** Splits the inside of a one-line flow collection at commas outside quotes. */
function splitFlowItems(inner: string): string[] {
  if (inner.trim() === '') return [];
  const items: string[] = [];
  let quote: string | undefined;
  let start = 0;
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
      items.push(inner.slice(start, index).trim());
      start = index + 1;
    }
  }
  items.push(inner.slice(start).trim());
  if (quote !== undefined || items.some((item) => item === '')) giveUp();
  return items;
}

function readFlowList(text: string): unknown[] {
  if (!text.endsWith(']')) giveUp();
  return splitFlowItems(text.slice(1, -1)).map(readFlowScalar);
}

function readFlowMap(text: string): Record<string, unknown> {
  if (!text.endsWith('}')) giveUp();
  const map: Record<string, unknown> = {};
  for (const item of splitFlowItems(text.slice(1, -1))) {
    const match = KEY_LINE.exec(item) ?? giveUp();
    map[checkedKey(match[1]!, map)] = readFlowScalar(match[2] ?? giveUp());
  }
  return map;
}

function readFlowScalar(text: string): unknown {
  if (text.includes(':') && !text.startsWith('"') && !text.startsWith("'")) giveUp();
  return readScalar(text.trim());
}
