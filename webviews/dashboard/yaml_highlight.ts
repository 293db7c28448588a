// Read-only YAML as the drawer shows it: the extension serialises (the `yaml` library) and the
// page colours each line by a small line classifier, enough for what a serialiser writes (block
// style, one key per line, quoted strings, plain scalars): keys, strings, numbers, booleans and
// null, comments. Text goes in with textContent only.

export type YamlTokenClass = 'yaml-key' | 'yaml-string' | 'yaml-number' | 'yaml-constant' | 'yaml-comment' | 'yaml-punct';
export const YAML_TOKEN_CLASSES: readonly YamlTokenClass[] = [
  'yaml-key',
  'yaml-string',
  'yaml-number',
  'yaml-constant',
  'yaml-comment',
  'yaml-punct',
];

export interface YamlToken {
  text: string;
  className?: YamlTokenClass;
}

const KEY_LINE = /^(\s*)(-\s+)?((?:"(?:[^"\\]|\\.)*"|'[^']*'|[^\s:#'"][^:#]*?)):(\s+|$)(.*)$/;
const ITEM_LINE = /^(\s*)(-\s+)(.*)$/;

export function yamlLineTokens(line: string): YamlToken[] {
  if (/^\s*#/.test(line)) return [{ text: line, className: 'yaml-comment' }];
  const key = KEY_LINE.exec(line);
  if (key) {
    const [, indent, dash, name, gap, value] = key as unknown as [string, string, string | undefined, string, string, string];
    return compact([
      { text: indent },
      { text: dash ?? '', className: 'yaml-punct' },
      { text: name, className: 'yaml-key' },
      { text: ':', className: 'yaml-punct' },
      { text: gap },
      ...valueTokens(value),
    ]);
  }
  const item = ITEM_LINE.exec(line);
  if (item) return compact([{ text: item[1]! }, { text: item[2]!, className: 'yaml-punct' }, ...valueTokens(item[3]!)]);
  return valueTokens(line);
}

function valueTokens(value: string): YamlToken[] {
  if (value === '') return [];
  const trimmed = value.trim();
  if (/^["']/.test(trimmed)) return [{ text: value, className: 'yaml-string' }];
  if (/^-?(\d+(\.\d+)?([eE][-+]?\d+)?|0x[0-9a-fA-F]+)$/.test(trimmed)) return [{ text: value, className: 'yaml-number' }];
  if (/^(true|false|null|~)$/.test(trimmed)) return [{ text: value, className: 'yaml-constant' }];
  if (/^[|>][-+]?$/.test(trimmed) || /^(\{\}|\[\])$/.test(trimmed)) return [{ text: value, className: 'yaml-punct' }];
  return [{ text: value, className: 'yaml-string' }];
}

function compact(tokens: YamlToken[]): YamlToken[] {
  return tokens.filter((token) => token.text !== '');
}
