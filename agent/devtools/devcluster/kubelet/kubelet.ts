// The simulated kubelet: schedules pods onto the one dev cluster node and runs their containers
// as simulated programs (programs/; never real processes). It writes pod status and
// core/v1 Events the way a real kubelet does, so kubectl get/describe/logs look familiar.
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from '../../../internal/log';
import { configMapVolumeFiles } from '../programs/helm_sim';
import { PodLogStore } from './logs';
import {
  describeContainerProgram,
  podFiles,
  ProgramConfigError,
  runContainerProgram,
  type ContainerProgram,
  type ContainerSpec,
  type ProgramRun,
} from '../programs/index';
import { StoreError, type ContainerStdin, type KubeObject, type ObjectStore, type ResourceType, type WatchEvent } from '../types';

export const PODS: ResourceType = { group: '', version: 'v1', resource: 'pods' };
export const EVENTS: ResourceType = { group: '', version: 'v1', resource: 'events' };
const CONFIG_MAPS: ResourceType = { group: '', version: 'v1', resource: 'configmaps' };

export interface SimulatedKubeletOptions {
  nodeName?: string;
  hostIP?: string;
  /** Time in ContainerCreating when a container does not set SIM_START_DELAY_MS. */
  defaultStartDelayMs?: number;
  /** First restart back-off; it doubles per restart up to backOffMaxMs (kubelet: 10 s, 5 min). */
  backOffBaseMs?: number;
  backOffMaxMs?: number;
  logger?: Logger;
  logs?: PodLogStore;
}

/** How many program steps run before the kubelet yields the event loop (paces busy loops). */
const STEPS_PER_TURN = 200;
const BUSY_LOOP_PAUSE_MS = 20;
const STATUS_UPDATE_ATTEMPTS = 5;

type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; reason: string; startedAt: string; finishedAt: string; containerID: string; message?: string } };

/** One container of a simulated pod, across its restarts. */
interface ContainerRun {
  spec: ContainerSpec;
  /** An init container: runs to completion, in order, before the app containers start. */
  init: boolean;
  program: ContainerProgram | ProgramConfigError;
  restartCount: number;
  state: ContainerState;
  lastState: ContainerState | undefined;
  containerID: string | undefined;
  /** Set once the container has run at all; the pod is Running from then on. */
  everStarted: boolean;
  /** Ended for good: restartPolicy says it stays terminated. */
  finished: boolean;
  run: ProgramRun | undefined;
  /** The running attempt's stdin, when the spec asks for one: text not yet read, and whether the program waits for it. */
  stdin?: { buffered: string; closed: boolean; reading: boolean };
}

interface PodSimulation {
  namespace: string;
  name: string;
  uid: string;
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  initContainers: ContainerRun[];
  containers: ContainerRun[];
  timers: Set<NodeJS.Timeout>;
  podIP: string;
  startTime: string;
  qosClass: string;
  stopped: boolean;
}

export class SimulatedKubelet {
  readonly logs: PodLogStore;
  private readonly store: ObjectStore;
  private readonly nodeName: string;
  private readonly hostIP: string;
  private readonly defaultStartDelayMs: number;
  private readonly backOffBaseMs: number;
  private readonly backOffMaxMs: number;
  private readonly logger: Logger | undefined;
  private readonly pods = new Map<string, PodSimulation>();
  private readonly pending: WatchEvent[] = [];
  /** Event names by pod uid, container, reason and message, to count repeats. */
  private readonly recordedEvents = new Map<string, string>();
  private drainHandle: NodeJS.Immediate | undefined;
  private unwatch: (() => void) | undefined;
  private nextPodIP = 2;
  private eventCounter = 0;

  constructor(store: ObjectStore, options: SimulatedKubeletOptions = {}) {
    this.store = store;
    this.nodeName = options.nodeName ?? 'devcluster-node';
    this.hostIP = options.hostIP ?? '172.18.0.2';
    this.defaultStartDelayMs = options.defaultStartDelayMs ?? 100;
    this.backOffBaseMs = options.backOffBaseMs ?? 1000;
    this.backOffMaxMs = options.backOffMaxMs ?? 60_000;
    this.logger = options.logger;
    this.logs = options.logs ?? new PodLogStore();
  }

  start(): void {
    if (this.unwatch) return;
    // Watch callbacks run inside the store's own update; work is queued so that the kubelet
    // never writes to the store while the store is still notifying watchers.
    this.unwatch = this.store.watch(PODS, {}, (event) => {
      this.pending.push(event);
      this.drainHandle ??= setImmediate(() => this.drain());
    });
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    if (this.drainHandle) clearImmediate(this.drainHandle);
    this.drainHandle = undefined;
    this.pending.length = 0;
    for (const simulation of this.pods.values()) {
      this.halt(simulation);
      // Followers of a container that will write no more are released.
      for (const container of [...simulation.initContainers, ...simulation.containers]) {
        if ('running' in container.state) this.logs.endAttempt(simulation.namespace, simulation.name, container.spec.name);
      }
    }
    this.pods.clear();
  }

  private drain(): void {
    this.drainHandle = undefined;
    for (let event = this.pending.shift(); event; event = this.pending.shift()) {
      try {
        this.handle(event);
      } catch (err) {
        this.logger?.error('kubelet: failed to handle a pod event', { err, pod: event.object.metadata.name });
      }
    }
  }

  private handle(event: WatchEvent): void {
    const pod = event.object;
    const key = podKey(pod);
    const known = this.pods.get(key);
    if (event.type === 'DELETED') {
      if (known && known.uid === pod.metadata.uid) this.forget(known, true);
      return;
    }
    if (known && known.uid !== pod.metadata.uid) this.forget(known, false); // replaced under the same name
    const current = this.pods.get(key);
    if (current) {
      if (pod.metadata.deletionTimestamp) this.terminateForDeletion(current);
      return;
    }
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (phase === 'Succeeded' || phase === 'Failed' || pod.metadata.deletionTimestamp) return;
    this.admit(pod);
  }

  // --- pod lifecycle -------------------------------------------------------------------------

  private admit(pod: KubeObject): void {
    const spec = (pod.spec ?? {}) as { containers?: unknown; initContainers?: unknown; restartPolicy?: string; nodeName?: string };
    const appSpecs = containerList(spec.containers);
    const previousStatuses = readContainerStatuses(pod);
    const initSpecs = containerList(spec.initContainers);
    const firstWait = initSpecs.length > 0 ? 'PodInitializing' : 'ContainerCreating';
    const simulation: PodSimulation = {
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name ?? '',
      uid: pod.metadata.uid ?? '',
      restartPolicy: spec.restartPolicy === 'Never' || spec.restartPolicy === 'OnFailure' ? spec.restartPolicy : 'Always',
      initContainers: initSpecs.map((container) => newContainerRun(container, 0, true, 'ContainerCreating')),
      containers: appSpecs.map((container) => newContainerRun(container, previousStatuses.get(container.name) ?? 0, false, firstWait)),
      timers: new Set(),
      podIP: this.allocatePodIP(),
      startTime: nowSeconds(),
      qosClass: qosClassOf([...initSpecs, ...appSpecs]),
      stopped: false,
    };
    this.pods.set(podKey(pod), simulation);
    if (!spec.nodeName) this.bind(simulation);
    this.writeStatus(simulation);
    this.startNextStage(simulation);
  }

  /** The next init container that has not completed, or, once all have, every app container. */
  private startNextStage(simulation: PodSimulation): void {
    const nextInit = simulation.initContainers.find((c) => !c.finished);
    if (nextInit) return this.prepare(simulation, nextInit);
    for (const container of simulation.containers) {
      container.state = container.program instanceof ProgramConfigError ? container.state : { waiting: { reason: 'ContainerCreating' } };
      this.prepare(simulation, container);
    }
    if (simulation.initContainers.length > 0) this.writeStatus(simulation);
  }

  /** The scheduler's part: put the pod on the node. */
  private bind(simulation: PodSimulation): void {
    this.updatePod(simulation, (pod) => {
      (pod.spec as { nodeName?: string }).nodeName = this.nodeName;
    });
    this.recordEvent(
      simulation,
      undefined,
      'Normal',
      'Scheduled',
      `Successfully assigned ${simulation.namespace}/${simulation.name} to ${this.nodeName}`,
      'default-scheduler',
    );
  }

  private prepare(simulation: PodSimulation, container: ContainerRun): void {
    if (container.program instanceof ProgramConfigError) {
      this.recordEvent(simulation, container, 'Warning', 'Failed', `Error: ${container.program.message}`);
      return;
    }
    const delay = container.program.startDelayMs ?? this.defaultStartDelayMs;
    this.schedule(simulation, delay, () => this.startContainer(simulation, container));
  }

  private startContainer(simulation: PodSimulation, container: ContainerRun): void {
    const program = container.program;
    if (program instanceof ProgramConfigError) return;
    const image = container.spec.image ?? '';
    this.recordEvent(simulation, container, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
    this.recordEvent(simulation, container, 'Normal', 'Created', `Created container ${container.spec.name}`);
    this.logs.startAttempt(simulation.namespace, simulation.name, container.spec.name);
    container.containerID = `containerd://${randomBytes(32).toString('hex')}`;
    container.state = { running: { startedAt: nowSeconds() } };
    container.everStarted = true;
    container.stdin = container.spec.stdin ? { buffered: '', closed: false, reading: false } : undefined;
    container.run = runContainerProgram(
      program,
      {
        hostname: simulation.name,
        env: program.env,
        files: {
          ...podFiles({ name: simulation.name, namespace: simulation.namespace }),
          ...this.mountedConfigMapFiles(simulation, container),
        },
      },
      { stdin: container.spec.stdin === true },
    );
    this.recordEvent(simulation, container, 'Normal', 'Started', `Started container ${container.spec.name}`);
    this.writeStatus(simulation);
    this.step(simulation, container);
  }

  /** ConfigMap volumes, read when the container starts (a real kubelet also syncs later edits). */
  private mountedConfigMapFiles(simulation: PodSimulation, container: ContainerRun): Record<string, string> {
    const pod = this.store.get(PODS, simulation.namespace, simulation.name);
    const readConfigMap = (name: string) =>
      this.store.get(CONFIG_MAPS, simulation.namespace, name)?.data as Record<string, string> | undefined;
    return configMapVolumeFiles(pod?.spec as Parameters<typeof configMapVolumeFiles>[0], container.spec.name, readConfigMap);
  }

  /** Runs the program until it sleeps, exits, or has used its share of this turn. */
  private step(simulation: PodSimulation, container: ContainerRun): void {
    const run = container.run;
    if (!run || simulation.stopped) return;
    for (let steps = 0; steps < STEPS_PER_TURN; steps++) {
      const next = run.next();
      if (next.done) return this.containerExited(simulation, container, next.value);
      const action = next.value;
      if (action.kind === 'write') {
        this.logs.append(simulation.namespace, simulation.name, container.spec.name, action.text);
      } else if (action.kind === 'sleep') {
        if (action.ms !== Infinity) this.schedule(simulation, action.ms, () => this.step(simulation, container));
        return;
      }
      if (action.kind === 'stdin' && container.stdin && !container.stdin.closed) {
        // cat without a file: what attach wrote arrives on stdout, until stdin closes.
        container.stdin.reading = true;
        this.readStdin(simulation, container);
        return;
      }
      // 'stdin' without one (no `stdin: true`, or closed): cat reads end of file at once.
    }
    this.schedule(simulation, BUSY_LOOP_PAUSE_MS, () => this.step(simulation, container));
  }

  private readStdin(simulation: PodSimulation, container: ContainerRun): void {
    const stdin = container.stdin;
    if (!stdin?.reading) return;
    if (stdin.buffered) this.logs.append(simulation.namespace, simulation.name, container.spec.name, stdin.buffered);
    stdin.buffered = '';
    if (!stdin.closed) return;
    stdin.reading = false;
    this.step(simulation, container);
  }

  /** The running container an attach names, when it has an open stdin. */
  private stdinTarget(namespace: string, pod: string, name: string): { simulation: PodSimulation; container: ContainerRun } | undefined {
    const simulation = this.pods.get(`${namespace}/${pod}`);
    const container = simulation?.containers.find((c) => c.spec.name === name);
    if (!simulation || !container?.run || !container.stdin || container.stdin.closed) return undefined;
    return { simulation, container };
  }

  /** Attach's way into containers' stdin. */
  readonly stdin: ContainerStdin = {
    accepts: (namespace, pod, name) => this.stdinTarget(namespace, pod, name) !== undefined,
    write: (namespace, pod, name, text) => {
      const target = this.stdinTarget(namespace, pod, name);
      if (!target) return;
      target.container.stdin!.buffered += text;
      this.readStdin(target.simulation, target.container);
    },
    detach: (namespace, pod, name) => {
      const target = this.stdinTarget(namespace, pod, name);
      if (!target?.container.spec.stdinOnce) return;
      target.container.stdin!.closed = true;
      this.readStdin(target.simulation, target.container);
    },
  };

  private containerExited(simulation: PodSimulation, container: ContainerRun, exitCode: number): void {
    container.run = undefined;
    container.stdin = undefined;
    this.logs.endAttempt(simulation.namespace, simulation.name, container.spec.name);
    const startedAt = 'running' in container.state ? container.state.running.startedAt : nowSeconds();
    const terminated = {
      exitCode,
      reason: exitCode === 0 ? 'Completed' : 'Error',
      startedAt,
      finishedAt: nowSeconds(),
      containerID: container.containerID ?? '',
    };
    container.state = { terminated };
    // An init container that succeeded is done whatever the policy; a failed one restarts
    // unless the policy is Never.
    const restart = container.init
      ? exitCode !== 0 && simulation.restartPolicy !== 'Never'
      : simulation.restartPolicy === 'Always' || (simulation.restartPolicy === 'OnFailure' && exitCode !== 0);
    if (!restart) {
      container.finished = true;
      this.writeStatus(simulation);
      const phase = this.podPhase(simulation);
      if (phase === 'Succeeded' || phase === 'Failed') this.halt(simulation);
      else if (container.init) this.startNextStage(simulation);
      return;
    }
    this.writeStatus(simulation);
    this.backOff(simulation, container);
  }

  /** CrashLoopBackOff: wait, doubling per restart, then run the container again. */
  private backOff(simulation: PodSimulation, container: ContainerRun): void {
    const delay = Math.min(this.backOffBaseMs * 2 ** Math.min(container.restartCount, 20), this.backOffMaxMs);
    container.lastState = container.state;
    const seconds = Math.max(1, Math.round(delay / 1000));
    container.state = {
      waiting: {
        reason: 'CrashLoopBackOff',
        message: `back-off ${seconds}s restarting failed container=${container.spec.name} pod=${simulation.name}_${simulation.namespace}(${simulation.uid})`,
      },
    };
    this.recordEvent(
      simulation,
      container,
      'Warning',
      'BackOff',
      `Back-off restarting failed container ${container.spec.name} in pod ${simulation.name}_${simulation.namespace}(${simulation.uid})`,
    );
    this.writeStatus(simulation);
    this.schedule(simulation, delay, () => {
      container.restartCount++;
      this.startContainer(simulation, container);
    });
  }

  /** The pod got a deletionTimestamp: stop its containers, then finish the deletion. */
  private terminateForDeletion(simulation: PodSimulation): void {
    if (simulation.stopped) return;
    this.killContainers(simulation);
    this.halt(simulation);
    try {
      this.store.delete(PODS, simulation.namespace, simulation.name);
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 404)) throw err;
    }
  }

  private forget(simulation: PodSimulation, deleted: boolean): void {
    if (deleted && !simulation.stopped) this.killContainers(simulation);
    this.halt(simulation);
    this.logs.deletePod(simulation.namespace, simulation.name);
    this.pods.delete(`${simulation.namespace}/${simulation.name}`);
    for (const key of this.recordedEvents.keys()) if (key.startsWith(`${simulation.uid}/`)) this.recordedEvents.delete(key);
  }

  private killContainers(simulation: PodSimulation): void {
    for (const container of [...simulation.initContainers, ...simulation.containers]) {
      if (!('running' in container.state)) continue;
      this.recordEvent(simulation, container, 'Normal', 'Killing', `Stopping container ${container.spec.name}`);
      this.logs.endAttempt(simulation.namespace, simulation.name, container.spec.name);
    }
  }

  /** Clears every timer of the pod; its simulation does nothing more. */
  private halt(simulation: PodSimulation): void {
    simulation.stopped = true;
    for (const timer of simulation.timers) clearTimeout(timer);
    simulation.timers.clear();
    for (const container of [...simulation.initContainers, ...simulation.containers]) container.run = undefined;
  }

  private schedule(simulation: PodSimulation, delayMs: number, action: () => void): void {
    if (simulation.stopped) return;
    const timer = setTimeout(() => {
      simulation.timers.delete(timer);
      if (simulation.stopped) return;
      try {
        action();
      } catch (err) {
        this.logger?.error('kubelet: simulation step failed', { err, pod: `${simulation.namespace}/${simulation.name}` });
      }
    }, delayMs);
    simulation.timers.add(timer);
  }

  // --- status --------------------------------------------------------------------------------

  private podPhase(simulation: PodSimulation): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
    if (simulation.initContainers.some((c) => c.finished && exitCodeOf(c) !== 0)) return 'Failed';
    if (!initialized(simulation)) return 'Pending';
    const containers = simulation.containers;
    if (containers.length > 0 && containers.every((c) => c.finished)) {
      return containers.every((c) => 'terminated' in c.state && c.state.terminated.exitCode === 0) ? 'Succeeded' : 'Failed';
    }
    return containers.some((c) => c.everStarted) ? 'Running' : 'Pending';
  }

  private writeStatus(simulation: PodSimulation): void {
    this.updatePod(simulation, (pod) => {
      pod.status = this.buildStatus(simulation, (pod.status ?? {}) as PodStatus);
    });
  }

  private buildStatus(simulation: PodSimulation, previous: PodStatus): PodStatus {
    const phase = this.podPhase(simulation);
    const terminal = phase === 'Succeeded' || phase === 'Failed';
    const unready = simulation.containers.filter((c) => !('running' in c.state)).map((c) => c.spec.name);
    const ready = !terminal && unready.length === 0;
    const readiness = terminal
      ? { reason: 'PodCompleted' }
      : ready
        ? {}
        : { reason: 'ContainersNotReady', message: `containers with unready status: [${unready.join(' ')}]` };
    const conditions = [
      condition(previous, 'PodReadyToStartContainers', !terminal),
      condition(previous, 'Initialized', initialized(simulation), initializedDetail(simulation)),
      condition(previous, 'Ready', ready, readiness),
      condition(previous, 'ContainersReady', ready, readiness),
      condition(previous, 'PodScheduled', true),
    ];
    return {
      phase,
      conditions,
      hostIP: this.hostIP,
      hostIPs: [{ ip: this.hostIP }],
      podIP: simulation.podIP,
      podIPs: [{ ip: simulation.podIP }],
      startTime: simulation.startTime,
      ...(simulation.initContainers.length > 0 ? { initContainerStatuses: simulation.initContainers.map((c) => containerStatus(c)) } : {}),
      containerStatuses: simulation.containers.map((c) => containerStatus(c)),
      qosClass: simulation.qosClass,
    };
  }

  /** Read, change, write; a 409 means someone wrote in between, so read again and retry. */
  private updatePod(simulation: PodSimulation, mutate: (pod: KubeObject) => void): void {
    for (let attempt = 1; attempt <= STATUS_UPDATE_ATTEMPTS; attempt++) {
      const pod = this.store.get(PODS, simulation.namespace, simulation.name);
      if (!pod || pod.metadata.uid !== simulation.uid) return;
      mutate(pod);
      try {
        this.store.update(PODS, pod);
        return;
      } catch (err) {
        if (err instanceof StoreError && err.code === 409) continue;
        if (err instanceof StoreError && err.code === 404) return;
        throw err;
      }
    }
    this.logger?.warn('kubelet: gave up updating pod status after repeated conflicts', {
      pod: `${simulation.namespace}/${simulation.name}`,
    });
  }

  // --- events --------------------------------------------------------------------------------

  private recordEvent(
    simulation: PodSimulation,
    container: ContainerRun | undefined,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    component = 'kubelet',
  ): void {
    const now = nowSeconds();
    // Like the kubelet's event recorder, a repeat of the same event counts on the first one.
    const repeatKey = `${simulation.uid}/${container?.spec.name ?? ''}/${reason}/${message}`;
    try {
      if (this.bumpRepeatedEvent(simulation.namespace, repeatKey, now)) return;
      const created = this.store.create(EVENTS, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${simulation.name}.${this.eventSuffix()}`, namespace: simulation.namespace },
        involvedObject: {
          apiVersion: 'v1',
          kind: 'Pod',
          namespace: simulation.namespace,
          name: simulation.name,
          uid: simulation.uid,
          ...(container ? { fieldPath: `spec.${container.init ? 'initContainers' : 'containers'}{${container.spec.name}}` } : {}),
        },
        reason,
        message,
        type,
        source: component === 'kubelet' ? { component, host: this.nodeName } : { component },
        reportingComponent: component,
        reportingInstance: component === 'kubelet' ? this.nodeName : '',
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
      this.recordedEvents.set(repeatKey, created.metadata.name ?? '');
    } catch (err) {
      this.logger?.warn('kubelet: could not record an event', { err, reason, pod: `${simulation.namespace}/${simulation.name}` });
    }
  }

  /** A repeated event is counted on the existing object, as the kubelet's event recorder does. */
  private bumpRepeatedEvent(namespace: string, repeatKey: string, now: string): boolean {
    const name = this.recordedEvents.get(repeatKey);
    const existing = name ? this.store.get(EVENTS, namespace, name) : undefined;
    if (!existing) return false;
    existing.count = (typeof existing.count === 'number' ? existing.count : 1) + 1;
    existing.lastTimestamp = now;
    this.store.update(EVENTS, existing);
    return true;
  }

  private eventSuffix(): string {
    const nanos = BigInt(Date.now()) * 1_000_000n + BigInt(this.eventCounter++ % 1_000_000);
    return nanos.toString(16);
  }

  private allocatePodIP(): string {
    const n = this.nextPodIP++;
    return `10.244.${Math.floor(n / 254) % 256}.${(n % 254) + 1}`;
  }
}

// --- helpers -----------------------------------------------------------------------------------

interface PodStatus {
  phase?: string;
  conditions?: PodCondition[];
  [key: string]: unknown;
}

interface PodCondition {
  type: string;
  status: 'True' | 'False';
  lastProbeTime: null;
  lastTransitionTime: string;
  reason?: string;
  message?: string;
}

function condition(previous: PodStatus, type: string, value: boolean, detail: { reason?: string; message?: string } = {}): PodCondition {
  const status = value ? 'True' : 'False';
  const before = previous.conditions?.find((c) => c.type === type);
  const lastTransitionTime = before && before.status === status ? before.lastTransitionTime : nowSeconds();
  return { type, status, lastProbeTime: null, lastTransitionTime, ...detail };
}

/** The containers of a spec list; entries without a name cannot run and are left out. */
function containerList(value: unknown): ContainerSpec[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (item): item is ContainerSpec => typeof item === 'object' && item !== null && typeof (item as { name?: unknown }).name === 'string',
  );
}

function initialized(simulation: PodSimulation): boolean {
  return simulation.initContainers.every((c) => c.finished && exitCodeOf(c) === 0);
}

function initializedDetail(simulation: PodSimulation): { reason?: string; message?: string } {
  const incomplete = simulation.initContainers.filter((c) => !(c.finished && exitCodeOf(c) === 0)).map((c) => c.spec.name);
  return incomplete.length === 0
    ? {}
    : { reason: 'ContainersNotInitialized', message: `containers with incomplete status: [${incomplete.join(' ')}]` };
}

function exitCodeOf(container: ContainerRun): number | undefined {
  return 'terminated' in container.state ? container.state.terminated.exitCode : undefined;
}

function newContainerRun(spec: ContainerSpec, restartCount: number, init: boolean, waitingReason: string): ContainerRun {
  let program: ContainerProgram | ProgramConfigError;
  try {
    program = describeContainerProgram(spec);
  } catch (err) {
    if (!(err instanceof ProgramConfigError)) throw err;
    program = err;
  }
  const state: ContainerState =
    program instanceof ProgramConfigError
      ? { waiting: { reason: 'CreateContainerConfigError', message: program.message } }
      : { waiting: { reason: waitingReason } };
  return {
    spec,
    init,
    program,
    restartCount,
    state,
    lastState: undefined,
    containerID: undefined,
    everStarted: false,
    finished: false,
    run: undefined,
  };
}

function containerStatus(container: ContainerRun): Record<string, unknown> {
  const image = normalizeImage(container.spec.image ?? '');
  const running = 'running' in container.state;
  return {
    name: container.spec.name,
    image,
    imageID: container.everStarted ? `${image.replace(/:[^:/]+$/, '')}@sha256:${createHash('sha256').update(image).digest('hex')}` : '',
    ...(container.containerID ? { containerID: container.containerID } : {}),
    ready: running,
    started: running,
    restartCount: container.restartCount,
    state: container.state,
    lastState: container.lastState ?? {},
  };
}

/** nginx → docker.io/library/nginx:latest, the way container runtimes report images. */
export function normalizeImage(image: string): string {
  if (!image) return image;
  const [first = '', ...rest] = image.split('/');
  const hasRegistry = rest.length > 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const path = hasRegistry ? rest.join('/') : image;
  const registry = hasRegistry ? first : 'docker.io';
  const repository = !hasRegistry && !path.includes('/') ? `library/${path}` : path;
  const tagged = /[:@][^/]*$/.test(repository) ? repository : `${repository}:latest`;
  return `${registry}/${tagged}`;
}

type Resources = { requests?: Record<string, unknown>; limits?: Record<string, unknown> };

/** Guaranteed: cpu and memory limits everywhere, requests equal; BestEffort: none set at all. */
export function qosClassOf(containers: Array<ContainerSpec & { resources?: Resources }>): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const resources = containers.map((c) => c.resources ?? {});
  const anySet = resources.some((r) => Object.keys(r.requests ?? {}).length > 0 || Object.keys(r.limits ?? {}).length > 0);
  if (!anySet) return 'BestEffort';
  const guaranteed = resources.every((r) =>
    ['cpu', 'memory'].every((name) => {
      const limit = r.limits?.[name];
      const request = r.requests?.[name] ?? limit;
      return limit !== undefined && String(limit) === String(request);
    }),
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function readContainerStatuses(pod: KubeObject): Map<string, number> {
  const statuses =
    (pod.status as { containerStatuses?: Array<{ name?: string; restartCount?: number }> } | undefined)?.containerStatuses ?? [];
  return new Map(statuses.map((s) => [s.name ?? '', typeof s.restartCount === 'number' ? s.restartCount : 0]));
}

function podKey(pod: KubeObject): string {
  return `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name ?? ''}`;
}

/** Kubernetes writes status times with second precision. */
function nowSeconds(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}
