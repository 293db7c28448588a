// The shell's grammar: lists (; and newlines), && and ||, pipelines, and the compound commands
// for, while/until and if. Anything else (subshells, background jobs, arithmetic) is a syntax
// error with a message that names what the dev cluster does not support.
import { ShellSyntaxError, tokenize, type Operator, type Token, type Word } from './lexer';

export interface SimpleCommandNode {
  kind: 'simple';
  words: Word[];
  redirect: Partial<Record<1 | 2, Word | 1 | 2>>;
}
export interface ForNode {
  kind: 'for';
  variable: string;
  items: Word[];
  body: ListNode;
}
export interface WhileNode {
  kind: 'while';
  until: boolean;
  condition: ListNode;
  body: ListNode;
}
export interface IfNode {
  kind: 'if';
  branches: Array<{ condition: ListNode; body: ListNode }>;
  otherwise: ListNode | undefined;
}
export type CommandNode = SimpleCommandNode | ForNode | WhileNode | IfNode;
/** cmd1 | cmd2 | …: each command's stdout is the next one's input. */
export interface PipelineNode {
  commands: CommandNode[];
}
export interface AndOrNode {
  first: PipelineNode;
  rest: Array<{ op: '&&' | '||'; command: PipelineNode }>;
}
export interface ListNode {
  items: AndOrNode[];
}

/** Words that only make sense inside a compound command. */
const RESERVED_WORDS = new Set(['do', 'done', 'then', 'elif', 'else', 'fi', 'in']);

class Parser {
  private position = 0;
  constructor(private readonly tokens: Token[]) {}

  parseProgram(): ListNode {
    const list = this.parseList([]);
    const next = this.tokens[this.position];
    if (next) throw new ShellSyntaxError(`"${describeToken(next)}" unexpected`);
    return list;
  }

  /** A list ends at end of input or at one of the given keywords (left unconsumed). */
  private parseList(terminators: string[]): ListNode {
    const items: AndOrNode[] = [];
    for (;;) {
      this.skipSeparators();
      const next = this.tokens[this.position];
      if (!next || (next.kind === 'word' && terminators.includes(next.word.plain ?? '')) || isOperator(next, ')')) break;
      items.push(this.parseAndOr());
      const after = this.tokens[this.position];
      if (after && !isOperator(after, ';') && !isOperator(after, '\n') && !isOperator(after, ')')) {
        if (after.kind === 'word' && terminators.includes(after.word.plain ?? '')) continue;
        throw new ShellSyntaxError(`"${describeToken(after)}" unexpected`);
      }
    }
    return { items };
  }

  private parseAndOr(): AndOrNode {
    const first = this.parsePipeline();
    const rest: AndOrNode['rest'] = [];
    for (;;) {
      const next = this.tokens[this.position];
      if (!next || !(isOperator(next, '&&') || isOperator(next, '||'))) break;
      this.position++;
      while (isOperator(this.tokens[this.position], '\n')) this.position++;
      rest.push({ op: (next as { op: '&&' | '||' }).op, command: this.parsePipeline() });
    }
    return { first, rest };
  }

  private parsePipeline(): PipelineNode {
    const commands = [this.parseCommand()];
    while (isOperator(this.tokens[this.position], '|')) {
      this.position++;
      while (isOperator(this.tokens[this.position], '\n')) this.position++;
      commands.push(this.parseCommand());
    }
    return { commands };
  }

  private parseCommand(): CommandNode {
    const next = this.tokens[this.position];
    if (!next) throw new ShellSyntaxError('end of file unexpected');
    if (next.kind === 'operator') {
      const unsupported = next.op === '&' || next.op === '(';
      throw new ShellSyntaxError(
        unsupported ? `"${next.op}" is not supported by the dev cluster's shell` : `"${describeToken(next)}" unexpected`,
      );
    }
    if (next.kind === 'word') {
      if (RESERVED_WORDS.has(next.word.plain ?? '')) throw new ShellSyntaxError(`"${next.word.plain}" unexpected`);
      switch (next.word.plain) {
        case 'for':
          return this.parseFor();
        case 'while':
        case 'until':
          return this.parseWhile(next.word.plain === 'until');
        case 'if':
          return this.parseIf();
      }
    }
    return this.parseSimple();
  }

  private parseSimple(): SimpleCommandNode {
    const node: SimpleCommandNode = { kind: 'simple', words: [], redirect: {} };
    for (let token = this.tokens[this.position]; token && token.kind !== 'operator'; token = this.tokens[++this.position]) {
      if (token.kind === 'redirect') node.redirect[token.fd] = token.target;
      else node.words.push(token.word);
    }
    return node;
  }

  private parseFor(): ForNode {
    this.position++;
    const variable = this.expectWord('a variable name after "for"');
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable.plain ?? '')) throw new ShellSyntaxError('Bad for loop variable');
    const items: Word[] = [];
    if (this.peekKeyword('in')) {
      this.position++;
      for (let token = this.tokens[this.position]; token?.kind === 'word'; token = this.tokens[++this.position]) items.push(token.word);
    } else {
      items.push({ parts: [{ kind: 'variable', name: '@', quoted: true }], plain: undefined });
    }
    this.skipSeparators();
    this.expectKeyword('do');
    const body = this.parseList(['done']);
    this.expectKeyword('done');
    return { kind: 'for', variable: variable.plain ?? '', items, body };
  }

  private parseWhile(until: boolean): WhileNode {
    this.position++;
    const condition = this.parseList(['do']);
    this.expectKeyword('do');
    const body = this.parseList(['done']);
    this.expectKeyword('done');
    return { kind: 'while', until, condition, body };
  }

  private parseIf(): IfNode {
    this.position++;
    const branches: IfNode['branches'] = [];
    let otherwise: ListNode | undefined;
    for (;;) {
      const condition = this.parseList(['then']);
      this.expectKeyword('then');
      const body = this.parseList(['elif', 'else', 'fi']);
      branches.push({ condition, body });
      if (this.peekKeyword('elif')) {
        this.position++;
        continue;
      }
      if (this.peekKeyword('else')) {
        this.position++;
        otherwise = this.parseList(['fi']);
      }
      this.expectKeyword('fi');
      return { kind: 'if', branches, otherwise };
    }
  }

  private skipSeparators(): void {
    while (isOperator(this.tokens[this.position], ';') || isOperator(this.tokens[this.position], '\n')) this.position++;
  }

  private peekKeyword(keyword: string): boolean {
    const token = this.tokens[this.position];
    return token?.kind === 'word' && token.word.plain === keyword;
  }

  private expectKeyword(keyword: string): void {
    if (!this.peekKeyword(keyword)) {
      const token = this.tokens[this.position];
      throw new ShellSyntaxError(
        token ? `"${describeToken(token)}" unexpected (expecting "${keyword}")` : `end of file unexpected (expecting "${keyword}")`,
      );
    }
    this.position++;
  }

  private expectWord(what: string): Word {
    const token = this.tokens[this.position];
    if (token?.kind !== 'word') throw new ShellSyntaxError(`expecting ${what}`);
    this.position++;
    return token.word;
  }
}

function isOperator(token: Token | undefined, op: Operator): boolean {
  return token?.kind === 'operator' && token.op === op;
}

function describeToken(token: Token): string {
  if (token.kind === 'operator') return token.op === '\n' ? 'newline' : token.op;
  if (token.kind === 'redirect') return '>';
  return token.word.plain ?? 'word';
}

/** Parses a script of the supported subset; throws ShellSyntaxError. */
export function parseScript(script: string): ListNode {
  return new Parser(tokenize(script)).parseProgram();
}
