// A simulated `helm` for the dev cluster's containers (one of the shell's commands), so
// managed-app install pods can run without a real helm or chart repository. It prints what
// helm 3 prints, spread over a few seconds so live log streaming is visible, and fails on
// demand: values key `simulate: { fail: true }` in the values file passed with -f, or env
// SIM_HELM_FAIL=1. SIM_HELM_STEP_MS sets the pause between output steps (default 700 ms).
// Documented in docs/devcluster_pods.md and docs/managed_apps.md.
import { parse as parseYaml } from 'yaml';
import type { OutputStream, ProgramAction } from './program_action';

export interface HelmContext {
  env: Record<string, string>;
  files: Record<string, string>;
  now?: () => Date;
}

type Write = (stream: OutputStream, text: string) => ProgramAction[];
type HelmRun = Generator<ProgramAction, number, void>;

const DEFAULT_STEP_MS = 700;

export function* runHelm(args: string[], context: HelmContext, write: Write): HelmRun {
  const [command, ...rest] = args;
  switch (command) {
    case 'repo':
      return yield* repo(rest, context, write);
    case 'upgrade':
    case 'install':
      return yield* upgradeInstall(rest, context, write);
    case 'uninstall':
    case 'delete':
      return yield* uninstall(rest, context, write);
    case 'version':
      yield* write('stdout', 'version.BuildInfo{Version:"v3.14.4", GitCommit:"devcluster", GoVersion:"go1.21"}\n');
      return 0;
    default:
      yield* write('stderr', `Error: unknown command "${command ?? ''}" for "helm"\n`);
      return 1;
  }
}

function stepMs(context: HelmContext): number {
  const value = Number(context.env.SIM_HELM_STEP_MS);
  return Number.isFinite(value) && value >= 0 ? value : DEFAULT_STEP_MS;
}

function* repo(args: string[], context: HelmContext, write: Write): HelmRun {
  const [sub, name, url] = args;
  yield { kind: 'sleep', ms: stepMs(context) };
  if (sub === 'add' && name && url) {
    yield* write('stdout', `"${name}" has been added to your repositories\n`);
    return 0;
  }
  if (sub === 'update') {
    yield* write('stdout', 'Hang tight while we grab the latest from your chart repositories...\n');
    yield { kind: 'sleep', ms: stepMs(context) };
    yield* write('stdout', 'Update Complete. ⎈Happy Helming!⎈\n');
    return 0;
  }
  yield* write('stderr', `Error: unsupported "helm repo ${sub ?? ''}" in the dev cluster\n`);
  return 1;
}

interface ParsedFlags {
  positional: string[];
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set(['--version', '-f', '--values', '--namespace', '-n', '--timeout']);

function parseFlags(args: string[]): ParsedFlags {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (!arg.startsWith('-')) positional.push(arg);
    else if (VALUE_FLAGS.has(arg)) flags.set(arg, args[++i] ?? '');
    else flags.set(arg, true);
  }
  return { positional, flags };
}

function flag(parsed: ParsedFlags, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = parsed.flags.get(name);
    if (typeof value === 'string') return value;
  }
  return undefined;
}

/** Reads -f values; a string is an error message helm would print. */
function readValues(path: string | undefined, context: HelmContext): Record<string, unknown> | string {
  if (path === undefined) return {};
  const text = context.files[path];
  if (text === undefined) return `Error: open ${path}: no such file or directory`;
  try {
    const values: unknown = parseYaml(text);
    if (values === null || values === undefined) return {};
    if (typeof values !== 'object' || Array.isArray(values))
      return `Error: failed to parse ${path}: error unmarshaling JSON: json: cannot unmarshal into Go value of type map[string]interface {}`;
    return values as Record<string, unknown>;
  } catch {
    return `Error: failed to parse ${path}: error converting YAML to JSON`;
  }
}

function failureRequested(values: Record<string, unknown>, context: HelmContext): boolean {
  const simulate = values.simulate as { fail?: unknown } | undefined;
  return context.env.SIM_HELM_FAIL === '1' || simulate?.fail === true;
}

function* upgradeInstall(args: string[], context: HelmContext, write: Write): HelmRun {
  const parsed = parseFlags(args);
  const [release, chart] = parsed.positional;
  if (!release || !chart) {
    yield* write('stderr', 'Error: "helm upgrade" requires 2 arguments\n');
    return 1;
  }
  const values = readValues(flag(parsed, '-f', '--values'), context);
  if (typeof values === 'string') {
    yield* write('stderr', `${values}\n`);
    return 1;
  }
  const namespace = flag(parsed, '--namespace', '-n') ?? 'default';
  yield* write('stdout', `Release "${release}" does not exist. Installing it now.\n`);
  yield { kind: 'sleep', ms: stepMs(context) };
  yield* write('stdout', `Pulling ${chart} ${flag(parsed, '--version') ?? '(latest)'}\n`);
  yield { kind: 'sleep', ms: stepMs(context) * 2 };
  if (failureRequested(values, context)) {
    yield* write(
      'stderr',
      `Error: release ${release} failed, and has been uninstalled due to atomic being set: timed out waiting for the condition\n`,
    );
    return 1;
  }
  const deployed = (context.now?.() ?? new Date()).toUTCString().replace('GMT', 'UTC');
  yield* write(
    'stdout',
    [
      `NAME: ${release}`,
      `LAST DEPLOYED: ${deployed}`,
      `NAMESPACE: ${namespace}`,
      'STATUS: deployed',
      'REVISION: 1',
      'TEST SUITE: None',
      '',
    ].join('\n'),
  );
  return 0;
}

function* uninstall(args: string[], context: HelmContext, write: Write): HelmRun {
  const parsed = parseFlags(args);
  const [release] = parsed.positional;
  if (!release) {
    yield* write('stderr', 'Error: "helm uninstall" requires at least 1 argument\n');
    return 1;
  }
  yield { kind: 'sleep', ms: stepMs(context) * 2 };
  if (context.env.SIM_HELM_FAIL === '1') {
    yield* write('stderr', `Error: uninstall: Release not loaded: ${release}: release: not found\n`);
    return 1;
  }
  yield* write('stdout', `release "${release}" uninstalled\n`);
  return 0;
}

interface VolumeSource {
  name?: string;
  configMap?: { name?: string; items?: Array<{ key?: string; path?: string }> };
}

interface PodVolumesSpec {
  volumes?: VolumeSource[];
  containers?: Array<{ name?: string; volumeMounts?: Array<{ name?: string; mountPath?: string }> }>;
}

/**
 * The files a container sees from its ConfigMap volumes: `<mountPath>/<key or item path>`.
 * `readConfigMap` returns the map's data, or undefined when it does not exist (a missing map
 * mounts nothing here; a real kubelet would keep the pod in ContainerCreating).
 */
export function configMapVolumeFiles(
  spec: PodVolumesSpec | undefined,
  containerName: string,
  readConfigMap: (name: string) => Record<string, string> | undefined,
): Record<string, string> {
  const files: Record<string, string> = {};
  const container = spec?.containers?.find((c) => c.name === containerName);
  for (const mount of container?.volumeMounts ?? []) {
    const source = spec?.volumes?.find((volume) => volume.name === mount.name)?.configMap;
    const data = source?.name ? readConfigMap(source.name) : undefined;
    if (!data || !mount.mountPath) continue;
    const items = source?.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const item of items) {
      const value = item.key === undefined ? undefined : data[item.key];
      if (value !== undefined) files[`${mount.mountPath.replace(/\/$/, '')}/${item.path ?? item.key}`] = value;
    }
  }
  return files;
}
