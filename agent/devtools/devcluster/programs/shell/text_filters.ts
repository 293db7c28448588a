// head, tail, grep, wc, sort and uniq over a file of the pod or the piped input: what scripts
// use to look at their own output.
import type { ProgramAction } from '../program_action';
import type { Outcome, ShellState } from './state';

/** head, tail, grep, wc, sort, uniq: read a file argument or the piped input. */
export function textFilter(
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
