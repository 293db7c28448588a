// Runs parsed scripts: lists, && and ||, pipelines (one command after another, each reading the
// previous one's output), loops and ifs, word expansion and command substitution. Commands
// themselves are in commands.ts.
import type { ProgramAction, ProgramContext, ProgramRun } from '../program_action';
import { builtin, isKnownCommand } from './commands';
import { ShellSyntaxError, type Word } from './lexer';
import {
  parseScript,
  type CommandNode,
  type ForNode,
  type IfNode,
  type ListNode,
  type PipelineNode,
  type SimpleCommandNode,
  type WhileNode,
} from './parser';
import { ExitSignal, type Redirect, type ShellState } from './state';

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
    return yield* builtin(argv, state, { stdout: 'stdout', stderr: 'stderr' }, runScriptIn);
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
  state.status = yield* builtin(argv, state, redirect, runScriptIn);
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
