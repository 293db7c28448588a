// The shell's words and operators: quoting, $VAR / ${VAR} / $(...) expansions, redirections
// (>, 2>, 2>&1) and comments, as sh splits them before parsing.

export class ShellSyntaxError extends Error {
  override name = 'ShellSyntaxError';
}

export type WordPart =
  | { kind: 'text'; text: string; quoted: boolean }
  | { kind: 'variable'; name: string; quoted: boolean }
  | { kind: 'substitution'; script: string; quoted: boolean };

export interface Word {
  parts: WordPart[];
  /** The literal spelling when the word has no quotes or expansions (keywords, assignments). */
  plain: string | undefined;
}

export type Operator = ';' | '\n' | '&&' | '||' | '|' | '&' | '(' | ')';

export type Token =
  { kind: 'word'; word: Word } | { kind: 'operator'; op: Operator } | { kind: 'redirect'; fd: 1 | 2; target: Word | 1 | 2 };

export function tokenize(script: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < script.length) {
    const ch = script[i] ?? '';
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      i++;
    } else if (ch === '\\' && script[i + 1] === '\n') {
      i += 2;
    } else if (ch === '#') {
      while (i < script.length && script[i] !== '\n') i++;
    } else if (script.startsWith('&&', i) || script.startsWith('||', i)) {
      tokens.push({ kind: 'operator', op: script.slice(i, i + 2) as Operator });
      i += 2;
    } else if (';\n|&()'.includes(ch)) {
      tokens.push({ kind: 'operator', op: ch as Operator });
      i++;
    } else {
      const redirect = readRedirect(script, i);
      if (redirect) {
        tokens.push(redirect.token);
        i = redirect.end;
      } else {
        const { word, end } = readWord(script, i);
        tokens.push({ kind: 'word', word });
        i = end;
      }
    }
  }
  return tokens;
}

function readRedirect(script: string, start: number): { token: Token; end: number } | undefined {
  const match = /^([12]?)>(&[12])?/.exec(script.slice(start, start + 4));
  if (!match) return undefined;
  const fd: 1 | 2 = match[1] === '2' ? 2 : 1;
  let end = start + match[0].length;
  if (match[2]) return { token: { kind: 'redirect', fd, target: match[2] === '&2' ? 2 : 1 }, end };
  while (script[end] === ' ' || script[end] === '\t') end++;
  if (end >= script.length || ';\n|&()<>'.includes(script[end] ?? '')) throw new ShellSyntaxError('redirection unexpected');
  const { word, end: wordEnd } = readWord(script, end);
  return { token: { kind: 'redirect', fd, target: word }, end: wordEnd };
}

function readWord(script: string, start: number): { word: Word; end: number } {
  const parts: WordPart[] = [];
  let plain = true;
  let i = start;
  const pushText = (text: string, quoted: boolean) => {
    const last = parts[parts.length - 1];
    if (last && last.kind === 'text' && last.quoted === quoted) last.text += text;
    else parts.push({ kind: 'text', text, quoted });
  };
  while (i < script.length) {
    const ch = script[i] ?? '';
    if (' \t\r\n;|&()<>'.includes(ch)) break;
    if (ch === '\\') {
      pushText(script[i + 1] ?? '', true);
      plain = false;
      i += 2;
    } else if (ch === "'") {
      const close = script.indexOf("'", i + 1);
      if (close < 0) throw new ShellSyntaxError('Unterminated quoted string');
      pushText(script.slice(i + 1, close), true);
      plain = false;
      i = close + 1;
    } else if (ch === '"') {
      i = readDoubleQuoted(script, i + 1, parts, pushText);
      plain = false;
    } else if (ch === '$') {
      const expansion = readExpansion(script, i, false);
      if (expansion) {
        parts.push(expansion.part);
        plain = false;
        i = expansion.end;
      } else {
        pushText('$', false);
        i++;
      }
    } else {
      pushText(ch, false);
      i++;
    }
  }
  const text = parts.map((part) => (part.kind === 'text' ? part.text : '')).join('');
  return { word: { parts, plain: plain ? text : undefined }, end: i };
}

function readDoubleQuoted(script: string, start: number, parts: WordPart[], pushText: (text: string, quoted: boolean) => void): number {
  let i = start;
  // An empty "" still makes a (empty) field.
  pushText('', true);
  while (i < script.length) {
    const ch = script[i] ?? '';
    if (ch === '"') return i + 1;
    if (ch === '\\' && '"\\$`\n'.includes(script[i + 1] ?? '')) {
      pushText(script[i + 1] ?? '', true);
      i += 2;
    } else if (ch === '$') {
      const expansion = readExpansion(script, i, true);
      if (expansion) {
        parts.push(expansion.part);
        i = expansion.end;
      } else {
        pushText('$', true);
        i++;
      }
    } else {
      pushText(ch, true);
      i++;
    }
  }
  throw new ShellSyntaxError('Unterminated quoted string');
}

function readExpansion(script: string, start: number, quoted: boolean): { part: WordPart; end: number } | undefined {
  const rest = script.slice(start + 1);
  if (rest.startsWith('((')) throw new ShellSyntaxError("arithmetic expansion $((...)) is not supported by the dev cluster's shell");
  if (rest.startsWith('(')) {
    const end = matchingParenthesis(script, start + 1);
    return { part: { kind: 'substitution', script: script.slice(start + 2, end), quoted }, end: end + 1 };
  }
  const braced = /^\{([A-Za-z_][A-Za-z0-9_]*|[0-9?#@*])\}/.exec(rest);
  if (braced) return { part: { kind: 'variable', name: braced[1] ?? '', quoted }, end: start + 1 + braced[0].length };
  const bare = /^([A-Za-z_][A-Za-z0-9_]*|[0-9?#@*$])/.exec(rest);
  if (bare) return { part: { kind: 'variable', name: bare[1] ?? '', quoted }, end: start + 1 + bare[0].length };
  return undefined;
}

function matchingParenthesis(script: string, open: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < script.length; i++) {
    const ch = script[i];
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === '(') {
      depth++;
    } else if (ch === ')' && --depth === 0) {
      return i;
    }
  }
  throw new ShellSyntaxError('Unterminated command substitution');
}
