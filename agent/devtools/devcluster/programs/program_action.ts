// The steps a simulated program yields and the machine it sees; shared by the container
// programs, the shell and the helm simulator (one of the shell's commands).
export type OutputStream = 'stdout' | 'stderr';

/** One step of a running program; the runner decides how long a step takes in real time. */
export type ProgramAction =
  | { kind: 'write'; stream: OutputStream; text: string }
  /** ms may be Infinity: the program waits until it is stopped. */
  | { kind: 'sleep'; ms: number }
  /** Copy stdin to stdout until stdin ends (cat without arguments). */
  | { kind: 'stdin' }
  /** A loop went round once; lets the runner pace programs that loop without sleeping. */
  | { kind: 'tick' };

/** A program runs until it returns its exit code (0-255). */
export type ProgramRun = Generator<ProgramAction, number, void>;

/** What the simulated machine looks like from inside a container. */
export interface ProgramContext {
  hostname: string;
  env: Record<string, string>;
  files: Record<string, string>;
}
