// What the interpreter and the commands share while a script runs: variables, positional
// arguments, the last status, where stdout and stderr go, and the signal `exit` unwinds with.
import type { OutputStream, ProgramAction, ProgramContext } from '../program_action';

/** `exit` throws this; runners catch it and end with its code. */
export class ExitSignal {
  constructor(readonly code: number) {}
}

export interface ShellState {
  context: ProgramContext;
  variables: Record<string, string>;
  positional: string[];
  status: number;
  stdin: boolean;
  /** What a pipe feeds the current command; undefined when nothing is piped in. */
  input?: string;
}

export type Redirect = { stdout: OutputStream | 'null'; stderr: OutputStream | 'null' };

/** What a command that does not stream produces: its output actions and its exit code. */
export type Outcome = { actions: ProgramAction[]; code: number };

export function write(redirect: Redirect, stream: OutputStream, text: string): ProgramAction[] {
  const target = redirect[stream];
  return target === 'null' || text === '' ? [] : [{ kind: 'write', stream: target, text }];
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
