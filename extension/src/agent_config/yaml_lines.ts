// A forgiving, line-based view of YAML for completion: while the user types, the document is
// often not valid YAML, so the path at the cursor is read from indentation, not from a parse.

export interface YamlLine {
  /** Column of the first non-blank character. */
  indent: number;
  /** True for a list item line (`- ...`). */
  dash: boolean;
  /** Column where the key (or item content) starts: after `- ` on list item lines. */
  contentColumn: number;
  key?: string;
  /** True when something other than a comment follows `key:` on the same line. */
  hasInlineValue: boolean;
  /** Blank lines, comments and document markers carry no structure. */
  blank: boolean;
}

const LINE = /^(\s*)(-\s+)?(?:(["']?)([A-Za-z0-9_.\-/]+)\3\s*:(?=\s|$))?(.*)$/s;

export function readLine(text: string): YamlLine {
  const match = LINE.exec(text)!;
  const indent = match[1]!.length;
  const dash = match[2] !== undefined;
  const rest = match[5]!.trim();
  const blank = text.trim() === '' || text.trimStart().startsWith('#') || /^(---|\.\.\.)\s*$/.test(text);
  const line: YamlLine = {
    indent,
    dash,
    contentColumn: indent + (match[2]?.length ?? 0),
    hasInlineValue: rest !== '' && !rest.startsWith('#'),
    blank,
  };
  if (match[4] !== undefined) line.key = match[4];
  return line;
}

export function splitLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

/**
 * The config path of the mapping that holds a key written at `column` on line `lineIndex`
 * (list items appear as index 0: the schema is the same for every item).
 */
export function parentPathAt(lines: readonly string[], lineIndex: number, column: number): (string | number)[] {
  const path: (string | number)[] = [];
  let limit = column;
  for (let index = lineIndex - 1; index >= 0 && limit > 0; index--) {
    const line = readLine(lines[index]!);
    if (line.blank) continue;
    if (line.key !== undefined && !line.hasInlineValue && line.contentColumn < limit) {
      path.unshift(line.key);
      limit = line.contentColumn;
    }
    if (line.dash && line.indent < limit) {
      path.unshift(0);
      limit = line.indent;
    } else if (!line.dash && line.indent < limit && line.key === undefined) {
      break; // a less indented line that is not a key: the structure is unclear, stop here
    }
  }
  return path;
}

/** Keys already written in the mapping block whose keys start at `column` around `lineIndex`. */
export function siblingKeys(lines: readonly string[], lineIndex: number, column: number): Set<string> {
  const keys = new Set<string>();
  const addIfSibling = (line: YamlLine): void => {
    if (!line.dash && line.indent === column && line.key !== undefined) keys.add(line.key);
  };
  for (let index = lineIndex - 1; index >= 0; index--) {
    const line = readLine(lines[index]!);
    if (line.blank) continue;
    if (line.indent < column) {
      // The `- key: ...` line that starts this list item also holds one of its keys.
      if (line.dash && line.contentColumn === column && line.key !== undefined) keys.add(line.key);
      break;
    }
    addIfSibling(line);
  }
  for (let index = lineIndex + 1; index < lines.length; index++) {
    const line = readLine(lines[index]!);
    if (line.blank) continue;
    if (line.indent < column) break;
    addIfSibling(line);
  }
  return keys;
}
