// What a simulated container does. Nothing here ever starts a real process: a container's spec
// (command, args, env) is read as a small program, and running it yields actions (write text,
// sleep, read stdin) that the kubelet or exec turns into log lines, timers and WebSocket frames.
// The accepted forms are documented in docs/devcluster_pods.md.
import type { ProgramContext, ProgramRun } from './program_action';
import { isKnownCommand } from './shell/commands';
import { runCommand } from './shell/interpreter';

/** The parts of a core/v1 Container this module reads. */
export interface ContainerSpec {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  /** The container has a stdin (attach writes to it); `stdinOnce`: it closes when the first attach ends. */
  stdin?: boolean;
  stdinOnce?: boolean;
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

/**
 * Runs a described program: the generator yields its actions and returns its exit code.
 * `stdin`: the container has one (`stdin: true`), so `cat` and the like read it.
 */
export function runContainerProgram(program: ContainerProgram, context: ProgramContext, options = { stdin: false }): ProgramRun {
  switch (program.form.kind) {
    case 'simulation':
      return runSimulation(program.form.settings);
    case 'command':
      return runCommand(program.form.argv, context, options);
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
