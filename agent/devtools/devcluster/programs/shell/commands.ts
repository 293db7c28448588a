// The commands a simulated container knows, all run in-process: the usual coreutils a script
// needs, sh -c, and helm (helm_sim.ts). Anything else is "not found", as in a minimal image.
import { runHelm } from '../helm_sim';
import type { ProgramAction, ProgramRun } from '../program_action';
import { textFilter } from './text_filters';
import { baseName, ExitSignal, write, type Outcome, type Redirect, type ShellState } from './state';

const SHELLS = new Set(['sh', 'bash', 'ash', 'dash']);

/**
 * How `sh -c` runs its script: the interpreter passes itself in, so the commands need not
 * import it (it imports them).
 */
export type ScriptRunner = (script: string, state: ShellState) => ProgramRun;

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

/** True for `sh`, `bash`, … without -c: a shell that reads its commands from stdin. */
export function isInteractiveShell(argv: string[]): boolean {
  return SHELLS.has(baseName(argv[0] ?? '')) && !argv.slice(1).some((arg) => /^-[a-z]*c[a-z]*$/.test(arg));
}

export function* builtin(
  argv: string[],
  state: ShellState,
  redirect: Redirect,
  runScript: ScriptRunner,
): Generator<ProgramAction, number, void> {
  const [path = '', ...args] = argv;
  const name = baseName(path);
  const out = (text: string) => write(redirect, 'stdout', text);
  const fail = (text: string, code = 1): { actions: ProgramAction[]; code: number } => ({ actions: write(redirect, 'stderr', text), code });
  switch (name) {
    case 'sh':
    case 'bash':
    case 'ash':
    case 'dash':
      return yield* shell(name, args, state, redirect, runScript);
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

function* shell(
  name: string,
  args: string[],
  state: ShellState,
  redirect: Redirect,
  runScript: ScriptRunner,
): Generator<ProgramAction, number, void> {
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
  return yield* runScript(script, inner);
}
