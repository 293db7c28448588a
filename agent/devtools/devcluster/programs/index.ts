// What the kubelet and exec use of the simulated programs: a container's spec read as a
// program, one-off commands and scripts (exec), and the line-by-line shell of `exec -it sh`.
export {
  containerEnvironment,
  describeContainerProgram,
  expandKubernetesReferences,
  podFiles,
  ProgramConfigError,
  runContainerProgram,
  type ContainerProgram,
  type ContainerSpec,
  type ProgramForm,
  type SimulationSettings,
} from './container_program';
export type { OutputStream, ProgramAction, ProgramContext, ProgramRun } from './program_action';
export { isInteractiveShell, isKnownCommand } from './shell/commands';
export { runCommand, runScript, ShellSession } from './shell/interpreter';
export { parseScript, type ListNode } from './shell/parser';
export { ShellSyntaxError } from './shell/lexer';
