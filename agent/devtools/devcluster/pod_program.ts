// What a simulated container does. Nothing here ever starts a real process: a container's spec
// (command, args, env) is read as a small program, and running it yields actions (write text,
// sleep, read stdin) that the kubelet or exec turns into log lines, timers and WebSocket frames.
// The accepted forms are documented in docs/devcluster_pods.md.
import { runHelm } from './helm_sim';
import type { OutputStream, ProgramAction, ProgramRun } from './program_action';

export type { OutputStream, ProgramAction, ProgramRun };

/** The parts of a core/v1 Container this module reads. */
export interface ContainerSpec {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
}

/** The environment variables of the SIM_* form. */
export interface SimulationSettings {
  lines: number;
  message: string;
  lineIntervalMs: number;
  /** Total run time from start; Infinity runs until deleted; undefined ends after the lines. */
  durationMs: number | undefined;
  exitCode: number;
}

export type ProgramForm =
  | { kind: 'simulation'; settings: SimulationSettings }
  | { kind: 'command'; argv: string[] }
  /** An image's own entrypoint (nginx, a server binary): a couple of startup lines, then forever. */
  | { kind: 'daemon'; image: string; argv: string[] };

export interface ContainerProgram {
  /** How long the container stays in ContainerCreating before it starts. */
  startDelayMs: number | undefined;
  form: ProgramForm;
  env: Record<string, string>;
}

/** A spec the dev cluster cannot run; the kubelet reports it as CreateContainerConfigError. */
export class ProgramConfigError extends Error {
  override name = 'ProgramConfigError';
}

/** What the simulated machine looks like from inside a container. */
export interface ProgramContext {
  hostname: string;
  env: Record<string, string>;
  files: Record<string, string>;
}

const SIMULATION_VARIABLES = ['SIM_LINES', 'SIM_MESSAGE', 'SIM_LINE_INTERVAL_MS', 'SIM_DURATION_SECONDS', 'SIM_EXIT_CODE'];

/** Reads a container spec into a program; throws ProgramConfigError for bad SIM_* values. */
export function describeContainerProgram(container: ContainerSpec): ContainerProgram {
  checkContainerShape(container);
  const env = containerEnvironment(container);
  const startDelayMs = optionalNumber(env, 'SIM_START_DELAY_MS', 0, Number.MAX_SAFE_INTEGER);
  if (SIMULATION_VARIABLES.some((name) => name in env)) {
    return { startDelayMs, env, form: { kind: 'simulation', settings: readSimulationSettings(env) } };
  }
  const argv = [...(container.command ?? []), ...(container.args ?? [])].map((arg) => expandKubernetesReferences(arg, env));
  if (argv.length > 0 && isKnownCommand(argv[0] ?? '')) return { startDelayMs, env, form: { kind: 'command', argv } };
  return { startDelayMs, env, form: { kind: 'daemon', image: container.image ?? '', argv } };
}

/** Objects reach the kubelet as the client sent them: check the fields a program reads. */
function checkContainerShape(container: ContainerSpec): void {
  const isStringList = (value: unknown) => value === undefined || (Array.isArray(value) && value.every((item) => typeof item === 'string'));
  if (!isStringList(container.command)) throw new ProgramConfigError('command must be a list of strings');
  if (!isStringList(container.args)) throw new ProgramConfigError('args must be a list of strings');
  const env: unknown = container.env;
  const validEnv =
    env === undefined ||
    (Array.isArray(env) &&
      env.every((item: unknown) => typeof item === 'object' && item !== null && typeof (item as { name?: unknown }).name === 'string'));
  if (!validEnv) throw new ProgramConfigError('env must be a list of {name, value} entries');
}

/** The container's env as name → value; valueFrom references read as empty strings. */
export function containerEnvironment(container: ContainerSpec): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    env[variable.name] = expandKubernetesReferences(typeof variable.value === 'string' ? variable.value : '', env);
  }
  return env;
}

/** Kubernetes expands $(NAME) in command, args and env from earlier variables; $$ escapes. */
export function expandKubernetesReferences(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name?: string) => {
    if (match === '$$') return '$';
    return name !== undefined && name in env ? (env[name] ?? '') : match;
  });
}

function readSimulationSettings(env: Record<string, string>): SimulationSettings {
  const duration = env.SIM_DURATION_SECONDS?.trim();
  const forever = duration === 'forever' || duration === 'infinity';
  const seconds = forever ? undefined : optionalNumber(env, 'SIM_DURATION_SECONDS', 0, 1e9, true);
  return {
    lines: optionalNumber(env, 'SIM_LINES', 0, 1e9) ?? 0,
    message: env.SIM_MESSAGE ?? 'line {n}',
    lineIntervalMs: optionalNumber(env, 'SIM_LINE_INTERVAL_MS', 0, 1e9) ?? 0,
    durationMs: forever ? Infinity : seconds === undefined ? undefined : seconds * 1000,
    exitCode: optionalNumber(env, 'SIM_EXIT_CODE', 0, 255) ?? 0,
  };
}

function optionalNumber(env: Record<string, string>, name: string, min: number, max: number, fractional = false): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  const valid = Number.isFinite(value) && value >= min && value <= max && (fractional || Number.isInteger(value));
  if (!valid) {
    const kind = fractional ? 'a number' : 'an integer';
    throw new ProgramConfigError(`environment variable ${name}=${JSON.stringify(raw)} must be ${kind} from ${min} to ${max}`);
  }
  return value;
}

/** Runs a described program: the generator yields its actions and returns its exit code. */
export function runContainerProgram(program: ContainerProgram, context: ProgramContext): ProgramRun {
  switch (program.form.kind) {
    case 'simulation':
      return runSimulation(program.form.settings);
    case 'command':
      return runCommand(program.form.argv, context, { stdin: false });
    case 'daemon':
      return runDaemon(program.form.image, program.form.argv);
  }
}

function* runSimulation(settings: SimulationSettings): ProgramRun {
  let elapsedMs = 0;
  for (let n = 1; n <= settings.lines; n++) {
    if (n > 1 && settings.lineIntervalMs > 0) {
      yield { kind: 'sleep', ms: settings.lineIntervalMs };
      elapsedMs += settings.lineIntervalMs;
    }
    yield { kind: 'write', stream: 'stdout', text: settings.message.replaceAll('{n}', String(n)) + '\n' };
  }
  if (settings.durationMs !== undefined && settings.durationMs > elapsedMs) {
    yield { kind: 'sleep', ms: settings.durationMs - elapsedMs };
  }
  return settings.exitCode;
}

function* runDaemon(image: string, argv: string[]): ProgramRun {
  const what = argv.length > 0 ? argv.join(' ') : `the entrypoint of image ${image || '(none)'}`;
  yield { kind: 'write', stream: 'stdout', text: `dev cluster: simulating ${what}\n` };
  yield { kind: 'write', stream: 'stdout', text: 'dev cluster: ready; this container runs until the pod is deleted\n' };
  yield { kind: 'sleep', ms: Infinity };
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Commands and a small POSIX shell subset. `exit` unwinds the interpreter with this signal.

class ExitSignal {
  constructor(readonly code: number) {}
}

interface ShellState {
  context: ProgramContext;
  variables: Record<string, string>;
  positional: string[];
  status: number;
  stdin: boolean;
  /** What a pipe feeds the current command; undefined when nothing is piped in. */
  input?: string;
}

type Redirect = { stdout: OutputStream | 'null'; stderr: OutputStream | 'null' };

const SHELLS = new Set(['sh', 'bash', 'ash', 'dash']);

const KNOWN_COMMANDS = new Set([
  'sh',
  'bash',
  'ash',
  'dash',
  'echo',
  'printf',
  'sleep',
  'exit',
  'true',
  'false',
  ':',
  'cat',
  'hostname',
  'env',
  'printenv',
  'seq',
  'date',
  'whoami',
  'pwd',
  'uname',
  'tail',
  'id',
  'test',
  '[',
  'head',
  'grep',
  'wc',
  'sort',
  'uniq',
  'helm',
]);

export function isKnownCommand(command: string): boolean {
  return KNOWN_COMMANDS.has(baseName(command));
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Runs one command line (argv), as exec or a container's command does; returns its exit code. */
export function* runCommand(argv: string[], context: ProgramContext, options: { stdin: boolean }): ProgramRun {
  const state: ShellState = { context, variables: { ...context.env }, positional: [], status: 0, stdin: options.stdin };
  const first = argv[0];
  if (first === undefined) return 0;
  if (!isKnownCommand(first)) {
    yield { kind: 'write', stream: 'stderr', text: `exec: "${first}": executable file not found in $PATH\n` };
    return 127;
  }
  try {
    return yield* builtin(argv, state, { stdout: 'stdout', stderr: 'stderr' });
  } catch (signal) {
    if (signal instanceof ExitSignal) return signal.code;
    throw signal;
  }
}

/** Runs a shell script (what `sh -c` receives); returns the exit code. */
export function* runScript(script: string, context: ProgramContext, options: { stdin: boolean; positional?: string[] }): ProgramRun {
  const state: ShellState = {
    context,
    variables: { ...context.env },
    positional: options.positional ?? [],
    status: 0,
    stdin: options.stdin,
  };
  return yield* runScriptIn(script, state);
}

function* runScriptIn(script: string, state: ShellState): ProgramRun {
  let program: ListNode;
  try {
    program = parseScript(script);
  } catch (err) {
    if (!(err instanceof ShellSyntaxError)) throw err;
    yield { kind: 'write', stream: 'stderr', text: `sh: 1: Syntax error: ${err.message}\n` };
    return 2;
  }
  try {
    yield* execList(program, state, { stdout: 'stdout', stderr: 'stderr' });
    return state.status;
  } catch (signal) {
    if (signal instanceof ExitSignal) return signal.code;
    throw signal;
  }
}

/** True for `sh`, `bash`, … without -c: a shell that reads its commands from stdin. */
export function isInteractiveShell(argv: string[]): boolean {
  return SHELLS.has(baseName(argv[0] ?? '')) && !argv.slice(1).some((arg) => /^-[a-z]*c[a-z]*$/.test(arg));
}

/**
 * A shell that runs one line at a time, keeping its variables and last status between lines:
 * what `kubectl exec -it pod -- sh` talks to.
 */
export class ShellSession {
  private readonly state: ShellState;
  /** Set once a line ran `exit`. */
  exitCode: number | undefined;

  constructor(context: ProgramContext) {
    this.state = { context, variables: { ...context.env }, positional: [], status: 0, stdin: false };
  }

  get status(): number {
    return this.state.status;
  }

  *run(line: string): ProgramRun {
    let program: ListNode;
    try {
      program = parseScript(line);
    } catch (err) {
      if (!(err instanceof ShellSyntaxError)) throw err;
      yield { kind: 'write', stream: 'stderr', text: `sh: 1: Syntax error: ${err.message}\n` };
      this.state.status = 2;
      return 2;
    }
    try {
      yield* execList(program, this.state, { stdout: 'stdout', stderr: 'stderr' });
    } catch (signal) {
      if (!(signal instanceof ExitSignal)) throw signal;
      this.exitCode = signal.code;
      this.state.status = signal.code;
    }
    return this.state.status;
  }
}

// --- parsing ---------------------------------------------------------------------------------

export class ShellSyntaxError extends Error {
  override name = 'ShellSyntaxError';
}

type WordPart =
  | { kind: 'text'; text: string; quoted: boolean }
  | { kind: 'variable'; name: string; quoted: boolean }
  | { kind: 'substitution'; script: string; quoted: boolean };

interface Word {
  parts: WordPart[];
  /** The literal spelling when the word has no quotes or expansions (keywords, assignments). */
  plain: string | undefined;
}

type Operator = ';' | '\n' | '&&' | '||' | '|' | '&' | '(' | ')';

type Token = { kind: 'word'; word: Word } | { kind: 'operator'; op: Operator } | { kind: 'redirect'; fd: 1 | 2; target: Word | 1 | 2 };

interface SimpleCommandNode {
  kind: 'simple';
  words: Word[];
  redirect: Partial<Record<1 | 2, Word | 1 | 2>>;
}
interface ForNode {
  kind: 'for';
  variable: string;
  items: Word[];
  body: ListNode;
}
interface WhileNode {
  kind: 'while';
  until: boolean;
  condition: ListNode;
  body: ListNode;
}
interface IfNode {
  kind: 'if';
  branches: Array<{ condition: ListNode; body: ListNode }>;
  otherwise: ListNode | undefined;
}
type CommandNode = SimpleCommandNode | ForNode | WhileNode | IfNode;
/** cmd1 | cmd2 | …: each command's stdout is the next one's input. */
interface PipelineNode {
  commands: CommandNode[];
}
interface AndOrNode {
  first: PipelineNode;
  rest: Array<{ op: '&&' | '||'; command: PipelineNode }>;
}
interface ListNode {
  items: AndOrNode[];
}

function tokenize(script: string): Token[] {
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

// --- execution -------------------------------------------------------------------------------

function* execList(list: ListNode, state: ShellState, redirect: Redirect): Generator<ProgramAction, void, void> {
  for (const item of list.items) {
    yield* execPipeline(item.first, state, redirect);
    for (const { op, command } of item.rest) {
      if ((op === '&&') === (state.status === 0)) yield* execPipeline(command, state, redirect);
    }
  }
}

/** More output than a Linux pipe holds (64 KiB) stops that side of the pipe. */
const MAX_PIPE_BYTES = 64 * 1024;
/** Inside a pipe, only every n-th loop tick reaches the runner, so `yes | head` ends quickly. */
const PIPE_TICK_EVERY = 100;
const SIGPIPE_STATUS = 141;

/**
 * Runs the commands of a pipeline one after another, each reading the previous one's output.
 * Real shells run them side by side; for the short programs of the dev cluster the output is
 * the same, and a left side that never stops is cut off at MAX_PIPE_BYTES.
 */
function* execPipeline(pipeline: PipelineNode, state: ShellState, redirect: Redirect): Generator<ProgramAction, void, void> {
  const outerInput = state.input;
  let input = outerInput;
  const last = pipeline.commands.length - 1;
  try {
    for (const [index, command] of pipeline.commands.entries()) {
      state.input = input;
      if (index === last) return yield* execCommand(command, state, redirect);
      input = yield* captureStdout(execCommand(command, state, { ...redirect, stdout: 'stdout' }), state);
    }
  } finally {
    state.input = outerInput;
  }
}

/** Runs a part of a script, keeping what it writes to stdout; other actions pass through. */
function* captureStdout(run: Generator<ProgramAction, void, void>, state: ShellState): Generator<ProgramAction, string, void> {
  let captured = '';
  let ticks = 0;
  for (let step = run.next(); !step.done; step = run.next()) {
    const action = step.value;
    if (action.kind === 'tick') {
      if (++ticks % PIPE_TICK_EVERY === 0) yield action;
    } else if (action.kind === 'write' && action.stream === 'stdout') {
      captured += action.text;
      if (captured.length > MAX_PIPE_BYTES) {
        run.return();
        state.status = SIGPIPE_STATUS;
        return captured.slice(0, MAX_PIPE_BYTES);
      }
    } else if (action.kind !== 'stdin') {
      yield action;
    }
  }
  return captured;
}

function* execCommand(node: CommandNode, state: ShellState, redirect: Redirect): Generator<ProgramAction, void, void> {
  switch (node.kind) {
    case 'simple':
      return yield* execSimple(node, state, redirect);
    case 'for':
      return yield* execFor(node, state, redirect);
    case 'while':
      return yield* execWhile(node, state, redirect);
    case 'if':
      return yield* execIf(node, state, redirect);
  }
}

function* execFor(node: ForNode, state: ShellState, redirect: Redirect): Generator<ProgramAction, void, void> {
  const items = yield* expandWords(node.items, state);
  state.status = 0;
  for (const item of items) {
    state.variables[node.variable] = item;
    yield* execList(node.body, state, redirect);
    yield { kind: 'tick' };
  }
}

function* execWhile(node: WhileNode, state: ShellState, redirect: Redirect): Generator<ProgramAction, void, void> {
  let bodyStatus = 0;
  for (;;) {
    yield* execList(node.condition, state, redirect);
    if ((state.status === 0) === node.until) break;
    yield* execList(node.body, state, redirect);
    bodyStatus = state.status;
    yield { kind: 'tick' };
  }
  state.status = bodyStatus;
}

function* execIf(node: IfNode, state: ShellState, redirect: Redirect): Generator<ProgramAction, void, void> {
  for (const branch of node.branches) {
    yield* execList(branch.condition, state, redirect);
    if (state.status === 0) return yield* execList(branch.body, state, redirect);
  }
  state.status = 0;
  if (node.otherwise) yield* execList(node.otherwise, state, redirect);
}

function* execSimple(node: SimpleCommandNode, state: ShellState, outer: Redirect): Generator<ProgramAction, void, void> {
  const assignments: Array<[string, Word]> = [];
  let index = 0;
  for (; index < node.words.length; index++) {
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(firstTextOf(node.words[index]));
    if (!assignment) break;
    assignments.push([assignment[1] ?? '', dropPrefix(node.words[index] as Word, assignment[0].length)]);
  }
  for (const [name, word] of assignments) state.variables[name] = (yield* expandWord(word, state, false)).join('');
  const argv = yield* expandWords(node.words.slice(index), state);
  const redirect = applyRedirects(node.redirect, outer);
  if (argv.length === 0) return;
  state.status = yield* builtin(argv, state, redirect);
}

function firstTextOf(word: Word | undefined): string {
  const first = word?.parts[0];
  return first?.kind === 'text' && !first.quoted ? first.text : '';
}

function dropPrefix(word: Word, length: number): Word {
  const [first, ...rest] = word.parts;
  if (first?.kind !== 'text') return word;
  return { parts: [{ ...first, text: first.text.slice(length) }, ...rest], plain: undefined };
}

/** Files are not simulated: a redirect to any path discards the output, like /dev/null. */
function applyRedirects(redirects: SimpleCommandNode['redirect'], outer: Redirect): Redirect {
  const result: Redirect = { ...outer };
  for (const fd of [1, 2] as const) {
    const target = redirects[fd];
    if (target === undefined) continue;
    const key = fd === 1 ? 'stdout' : 'stderr';
    result[key] = target === 1 ? result.stdout : target === 2 ? result.stderr : 'null';
  }
  return result;
}

function* expandWords(words: Word[], state: ShellState): Generator<ProgramAction, string[], void> {
  const fields: string[] = [];
  for (const word of words) fields.push(...(yield* expandWord(word, state, true)));
  return fields;
}

/** Expands one word into fields: unquoted expansions split on whitespace, as sh does. */
function* expandWord(word: Word, state: ShellState, split: boolean): Generator<ProgramAction, string[], void> {
  const fields: string[] = [];
  let current: string | undefined;
  for (const part of word.parts) {
    let value: string;
    if (part.kind === 'text') value = part.text;
    else if (part.kind === 'variable')
      value = part.name === '@' || part.name === '*' ? state.positional.join(' ') : (lookup(part.name, state) ?? '');
    else value = (yield* substitute(part.script, state)).replace(/\n+$/, '');
    if (part.kind === 'text' || part.quoted || !split) {
      current = (current ?? '') + value;
      continue;
    }
    const pieces = value.split(/[ \t\n]+/);
    pieces.forEach((piece, i) => {
      if (i > 0) {
        if (current !== undefined && current !== '') fields.push(current);
        current = undefined;
      }
      if (piece !== '') current = (current ?? '') + piece;
    });
  }
  if (current !== undefined) fields.push(current);
  return fields;
}

function lookup(name: string, state: ShellState): string | undefined {
  if (name === '?') return String(state.status);
  if (name === '#') return String(state.positional.length);
  if (name === '$') return '1';
  if (/^[0-9]$/.test(name)) return name === '0' ? 'sh' : state.positional[Number(name) - 1];
  return state.variables[name];
}

/** $(...): runs the script and captures its stdout; sleeps inside still take their time. */
function* substitute(script: string, state: ShellState): Generator<ProgramAction, string, void> {
  const inner: ShellState = { ...state, variables: { ...state.variables }, stdin: false, input: undefined };
  const run = runScriptIn(script, inner);
  let captured = '';
  for (let step = run.next(); ; step = run.next()) {
    if (step.done) {
      state.status = step.value;
      return captured;
    }
    const action = step.value;
    if (action.kind === 'write' && action.stream === 'stdout') captured += action.text;
    else if (action.kind !== 'stdin') yield action;
  }
}

// --- the commands ----------------------------------------------------------------------------

function write(redirect: Redirect, stream: OutputStream, text: string): ProgramAction[] {
  const target = redirect[stream];
  return target === 'null' || text === '' ? [] : [{ kind: 'write', stream: target, text }];
}

function* builtin(argv: string[], state: ShellState, redirect: Redirect): Generator<ProgramAction, number, void> {
  const [path = '', ...args] = argv;
  const name = baseName(path);
  const out = (text: string) => write(redirect, 'stdout', text);
  const fail = (text: string, code = 1): { actions: ProgramAction[]; code: number } => ({ actions: write(redirect, 'stderr', text), code });
  switch (name) {
    case 'sh':
    case 'bash':
    case 'ash':
    case 'dash':
      return yield* shell(name, args, state, redirect);
    case 'exit':
      throw new ExitSignal(args[0] === undefined ? state.status : Number.parseInt(args[0], 10) & 255 || 0);
    case 'sleep':
      return yield* sleep(args, redirect);
    case 'tail':
      if (args.includes('-f') || args.includes('-F')) {
        yield { kind: 'sleep', ms: Infinity };
        return 0;
      }
      break;
    case 'cat':
      return yield* cat(args, state, redirect);
    case 'helm':
      return yield* runHelm(args, { env: state.variables, files: state.context.files }, (stream, text) => write(redirect, stream, text));
  }
  const result = textFilter(name, args, state, out, fail) ?? simpleBuiltin(name, args, state, out, fail);
  if (!result) {
    yield* write(redirect, 'stderr', `sh: 1: ${path}: not found\n`);
    return 127;
  }
  yield* result.actions;
  return result.code;
}

type Outcome = { actions: ProgramAction[]; code: number };

function simpleBuiltin(
  name: string,
  args: string[],
  state: ShellState,
  out: (text: string) => ProgramAction[],
  fail: (text: string, code?: number) => Outcome,
): Outcome | undefined {
  const ok = (text: string): Outcome => ({ actions: out(text), code: 0 });
  switch (name) {
    case 'echo':
      return args[0] === '-n' ? ok(args.slice(1).join(' ')) : ok(args.join(' ') + '\n');
    case 'printf':
      return args[0] === undefined ? fail('printf: usage: printf format [arguments]\n', 2) : ok(formatPrintf(args[0], args.slice(1)));
    case 'true':
    case ':':
      return ok('');
    case 'false':
      return { actions: [], code: 1 };
    case 'hostname':
      return ok(state.context.hostname + '\n');
    case 'env':
      return ok(
        Object.entries(exportedEnvironment(state))
          .map(([key, value]) => `${key}=${value}\n`)
          .join(''),
      );
    case 'printenv':
      return printenv(args, state, ok);
    case 'seq':
      return seq(args, ok, fail);
    case 'date':
      return ok(new Date().toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+) ([\d:]+) GMT$/, '$1 $3 $2 $5 UTC $4') + '\n');
    case 'whoami':
      return ok('root\n');
    case 'id':
      return ok('uid=0(root) gid=0(root) groups=0(root)\n');
    case 'pwd':
      return ok('/\n');
    case 'test':
    case '[':
      return testExpression(name === '[' ? args.slice(0, -1) : args, state, name === '[' && args[args.length - 1] !== ']', fail);
    case 'uname':
      return ok(args.includes('-a') ? `Linux ${state.context.hostname} 6.1.0-devcluster #1 SMP x86_64 GNU/Linux\n` : 'Linux\n');
    default:
      return undefined;
  }
}

/** test / [: the string, integer and file checks scripts use in loops and ifs. */
function testExpression(args: string[], state: ShellState, unclosed: boolean, fail: (text: string, code?: number) => Outcome): Outcome {
  if (unclosed) return fail('sh: 1: [: missing ]\n', 2);
  const negate = args[0] === '!';
  const operands = negate ? args.slice(1) : args;
  const result = evaluateTest(operands, state);
  if (result === undefined) return fail(`sh: 1: test: unsupported expression: ${args.join(' ')}\n`, 2);
  return { actions: [], code: result !== negate ? 0 : 1 };
}

function evaluateTest(args: string[], state: ShellState): boolean | undefined {
  const [a = '', op = '', b = ''] = args;
  if (args.length === 0) return false;
  if (args.length === 1) return a !== '';
  if (args.length === 2) {
    if (a === '-z') return op === '';
    if (a === '-n') return op !== '';
    if (a === '-f' || a === '-e') return op in state.context.files;
    return undefined;
  }
  if (args.length !== 3) return undefined;
  const numeric: Record<string, (x: number, y: number) => boolean> = {
    '-eq': (x, y) => x === y,
    '-ne': (x, y) => x !== y,
    '-lt': (x, y) => x < y,
    '-le': (x, y) => x <= y,
    '-gt': (x, y) => x > y,
    '-ge': (x, y) => x >= y,
  };
  if (op === '=' || op === '==') return a === b;
  if (op === '!=') return a !== b;
  const compare = numeric[op];
  return compare ? compare(Number(a), Number(b)) : undefined;
}

/** head, tail, grep, wc, sort, uniq: read a file argument or the piped input. */
function textFilter(
  name: string,
  args: string[],
  state: ShellState,
  out: (text: string) => ProgramAction[],
  fail: (text: string, code?: number) => Outcome,
): Outcome | undefined {
  if (!['head', 'tail', 'grep', 'wc', 'sort', 'uniq'].includes(name)) return undefined;
  const { flags, operands: positional, count } = parseFilterArguments(args, name === 'head' || name === 'tail');
  const pattern = name === 'grep' ? positional.shift() : undefined;
  if (name === 'grep' && pattern === undefined) return fail('Usage: grep [OPTION]... PATTERNS [FILE]...\n', 2);
  const file = positional[0];
  const text = file === undefined || file === '-' ? (state.input ?? '') : state.context.files[file];
  if (text === undefined) return fail(`${name}: ${file ?? ''}: No such file or directory\n`, name === 'grep' ? 2 : 1);
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const emit = (selected: string[]): Outcome => ({ actions: out(selected.map((line) => `${line}\n`).join('')), code: 0 });
  switch (name) {
    case 'head':
      return emit(lines.slice(0, count));
    case 'tail':
      return emit(count === 0 ? [] : lines.slice(-count));
    case 'sort': {
      const sorted = hasFlag(flags, 'n') ? [...lines].sort((a, b) => Number.parseFloat(a) - Number.parseFloat(b)) : [...lines].sort();
      return emit(hasFlag(flags, 'r') ? sorted.reverse() : sorted);
    }
    case 'uniq':
      return emit(lines.filter((line, i) => i === 0 || line !== lines[i - 1]));
    case 'wc':
      return wordCount(text, lines, flags, out);
    default:
      return grep(pattern ?? '', lines, flags, out);
  }
}

/** Flags, operands and, for head and tail, the line count of -n N or -N (default 10). */
function parseFilterArguments(args: string[], takesCount: boolean): { flags: string[]; operands: string[]; count: number } {
  const flags: string[] = [];
  const operands: string[] = [];
  let count = 10;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (takesCount && arg === '-n') count = Number(args[++i]);
    else if (takesCount && /^-\d+$/.test(arg)) count = Number(arg.slice(1));
    else if (/^-./.test(arg)) flags.push(arg);
    else operands.push(arg);
  }
  return { flags, operands, count: Number.isFinite(count) && count >= 0 ? count : 10 };
}

/** A one-letter flag, alone (-v) or combined (-iv). */
function hasFlag(flags: string[], letter: string): boolean {
  return flags.some((flag) => /^-[a-zA-Z]+$/.test(flag) && flag.includes(letter));
}

function grep(pattern: string, lines: string[], flags: string[], out: (text: string) => ProgramAction[]): Outcome {
  const has = (letter: string) => hasFlag(flags, letter);
  let matcher: RegExp;
  try {
    matcher = new RegExp(has('F') ? pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : pattern, has('i') ? 'i' : '');
  } catch {
    return { actions: [{ kind: 'write', stream: 'stderr', text: `grep: invalid pattern: ${pattern}\n` }], code: 2 };
  }
  const selected = lines.filter((line) => matcher.test(line) !== has('v'));
  const code = selected.length > 0 ? 0 : 1;
  if (has('q')) return { actions: [], code };
  if (has('c')) return { actions: out(`${selected.length}\n`), code };
  return { actions: out(selected.map((line) => `${line}\n`).join('')), code };
}

function wordCount(text: string, lines: string[], flags: string[], out: (text: string) => ProgramAction[]): Outcome {
  const counts = {
    l: text === '' ? 0 : (text.match(/\n/g) ?? []).length || lines.length,
    w: text.split(/\s+/).filter(Boolean).length,
    c: Buffer.byteLength(text),
  };
  const wanted = (['l', 'w', 'c'] as const).filter((key) => flags.some((f) => f.includes(key)));
  const shown = (wanted.length > 0 ? wanted : (['l', 'w', 'c'] as const)).map((key) => counts[key]);
  return { actions: out(`${shown.join(' ')}\n`), code: 0 };
}

function exportedEnvironment(state: ShellState): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOSTNAME: state.context.hostname,
    HOME: '/root',
    ...state.context.env,
  };
}

function printenv(args: string[], state: ShellState, ok: (text: string) => Outcome): Outcome {
  const env = exportedEnvironment(state);
  if (args.length === 0)
    return ok(
      Object.entries(env)
        .map(([key, value]) => `${key}=${value}\n`)
        .join(''),
    );
  const found = args.filter((name) => name in env);
  const outcome = ok(found.map((name) => `${env[name]}\n`).join(''));
  return found.length === args.length ? outcome : { ...outcome, code: 1 };
}

function seq(args: string[], ok: (text: string) => Outcome, fail: (text: string, code?: number) => Outcome): Outcome {
  const numbers = args.map(Number);
  if (args.length === 0 || args.length > 3 || numbers.some((n) => !Number.isFinite(n)))
    return fail(`seq: invalid arguments: ${args.join(' ')}\n`);
  const [first, step, last] =
    numbers.length === 1
      ? [1, 1, numbers[0] ?? 0]
      : numbers.length === 2
        ? [numbers[0] ?? 1, 1, numbers[1] ?? 0]
        : (numbers as [number, number, number]);
  if (step === 0) return fail('seq: invalid Zero increment value: 0\n');
  const lines: string[] = [];
  for (let n = first; step > 0 ? n <= last : n >= last; n += step) {
    lines.push(`${n}\n`);
    if (lines.length > 1_000_000) break;
  }
  return ok(lines.join(''));
}

function formatPrintf(format: string, args: string[]): string {
  let next = 0;
  const unescaped = format.replace(/\\(n|t|\\)/g, (_m, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
  return unescaped.replace(/%([sd%])/g, (_m, spec: string) => {
    if (spec === '%') return '%';
    const value = args[next++] ?? '';
    return spec === 'd' ? String(Number.parseInt(value, 10) || 0) : value;
  });
}

function* sleep(args: string[], redirect: Redirect): Generator<ProgramAction, number, void> {
  const arg = args[0];
  if (arg === 'infinity') {
    yield { kind: 'sleep', ms: Infinity };
    return 0;
  }
  const match = /^(\d+(?:\.\d+)?|\.\d+)([smhd]?)$/.exec(arg ?? '');
  if (!match) {
    yield* write(redirect, 'stderr', arg === undefined ? 'sleep: missing operand\n' : `sleep: invalid time interval '${arg}'\n`);
    return 1;
  }
  const unitMs = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  yield { kind: 'sleep', ms: Number(match[1]) * unitMs };
  return 0;
}

function* cat(args: string[], state: ShellState, redirect: Redirect): Generator<ProgramAction, number, void> {
  if (args.length === 0 || (args.length === 1 && args[0] === '-')) {
    if (state.input !== undefined) yield* write(redirect, 'stdout', state.input);
    else if (state.stdin && redirect.stdout === 'stdout') yield { kind: 'stdin' };
    return 0;
  }
  let code = 0;
  for (const file of args) {
    const content = state.context.files[file];
    if (content === undefined) {
      yield* write(redirect, 'stderr', `cat: ${file}: No such file or directory\n`);
      code = 1;
    } else {
      yield* write(redirect, 'stdout', content);
    }
  }
  return code;
}

function* shell(name: string, args: string[], state: ShellState, redirect: Redirect): Generator<ProgramAction, number, void> {
  const flagIndex = args.findIndex((arg) => /^-[a-z]*c[a-z]*$/.test(arg));
  if (flagIndex < 0) {
    // An interactive shell needs a terminal the dev cluster does not provide; without stdin
    // a real sh reads end of file at once and exits 0.
    if (state.stdin)
      yield* write(redirect, 'stderr', `${name}: interactive shells are not simulated by the dev cluster; use ${name} -c '<script>'\n`);
    return state.stdin ? 1 : 0;
  }
  const script = args[flagIndex + 1];
  if (script === undefined) {
    yield* write(redirect, 'stderr', `${name}: -c: option requires an argument\n`);
    return 2;
  }
  const inner: ShellState = { ...state, variables: { ...state.variables }, positional: args.slice(flagIndex + 3), status: 0 };
  return yield* runScriptIn(script, inner);
}

/** The fake files exec and `cat` can read inside a pod's container. */
export function podFiles(pod: { name: string; namespace: string }): Record<string, string> {
  return {
    '/etc/hostname': `${pod.name}\n`,
    '/etc/os-release': [
      'PRETTY_NAME="Dev Cluster Linux (simulated)"',
      'NAME="Dev Cluster Linux"',
      'ID=devcluster',
      'VERSION_ID="1"',
      'HOME_URL="https://kubernetes.io/"',
      '',
    ].join('\n'),
    '/etc/hosts': `127.0.0.1\tlocalhost\n::1\tlocalhost\n`,
    '/var/run/secrets/kubernetes.io/serviceaccount/namespace': pod.namespace,
  };
}
