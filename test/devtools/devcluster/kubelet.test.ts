import assert from 'node:assert/strict';
import {
  describeContainerProgram,
  podFiles,
  ProgramConfigError,
  runCommand,
  runContainerProgram,
  runScript,
  type ContainerSpec,
  type ProgramAction,
  type ProgramContext,
  type ProgramRun,
} from '../../../agent/devtools/devcluster/programs/index';
import { SimulatedKubelet } from '../../../agent/devtools/devcluster/kubelet/kubelet';
import { MemoryObjectStore } from '../../../agent/devtools/devcluster/store/store';
import { StoreError, type KubeObject } from '../../../agent/devtools/devcluster/types';

const context: ProgramContext = { hostname: 'web-1', env: { GREETING: 'hello' }, files: podFiles({ name: 'web-1', namespace: 'demo' }) };

interface Collected {
  stdout: string;
  stderr: string;
  sleeps: number[];
  actions: ProgramAction[];
  exitCode: number;
}

/** Runs a program to the end, recording every action; stops loops that never end. */
function collect(run: ProgramRun, maxActions = 10_000): Collected {
  const result: Collected = { stdout: '', stderr: '', sleeps: [], actions: [], exitCode: -1 };
  for (let step = run.next(); ; step = run.next()) {
    if (step.done) {
      result.exitCode = step.value;
      return result;
    }
    result.actions.push(step.value);
    if (step.value.kind === 'write') result[step.value.stream] += step.value.text;
    if (step.value.kind === 'sleep') {
      result.sleeps.push(step.value.ms);
      if (step.value.ms === Infinity) return result;
    }
    if (result.actions.length >= maxActions) return result;
  }
}

function runContainer(container: Partial<ContainerSpec>): Collected {
  const program = describeContainerProgram({ name: 'main', ...container });
  return collect(runContainerProgram(program, { ...context, env: program.env }));
}

function script(text: string): Collected {
  return collect(runScript(text, context, { stdin: false }));
}

describe('devcluster/pod-program: SIM_* environment form', () => {
  it('prints SIM_LINES lines of SIM_MESSAGE with {n} numbered, spaced by SIM_LINE_INTERVAL_MS, then exits SIM_EXIT_CODE', () => {
    const env = [
      { name: 'SIM_LINES', value: '3' },
      { name: 'SIM_MESSAGE', value: 'tick {n}' },
      { name: 'SIM_LINE_INTERVAL_MS', value: '200' },
      { name: 'SIM_EXIT_CODE', value: '3' },
    ];
    const result = runContainer({ env });
    assert.equal(result.stdout, 'tick 1\ntick 2\ntick 3\n');
    assert.deepEqual(result.sleeps, [200, 200]);
    assert.equal(result.exitCode, 3);
  });

  it('keeps running until SIM_DURATION_SECONDS has passed, or forever', () => {
    const timed = runContainer({
      env: [
        { name: 'SIM_LINES', value: '2' },
        { name: 'SIM_LINE_INTERVAL_MS', value: '500' },
        { name: 'SIM_DURATION_SECONDS', value: '2' },
      ],
    });
    assert.deepEqual(timed.sleeps, [500, 1500]);
    assert.equal(timed.exitCode, 0);
    const forever = runContainer({ env: [{ name: 'SIM_DURATION_SECONDS', value: 'forever' }] });
    assert.deepEqual(forever.sleeps, [Infinity]);
  });

  it('reads SIM_START_DELAY_MS for every form', () => {
    const program = describeContainerProgram({ name: 'c', image: 'nginx', env: [{ name: 'SIM_START_DELAY_MS', value: '250' }] });
    assert.equal(program.startDelayMs, 250);
    assert.equal(program.form.kind, 'daemon');
  });

  it('rejects values that are not numbers in range with a ProgramConfigError naming the variable', () => {
    assert.throws(
      () => describeContainerProgram({ name: 'c', env: [{ name: 'SIM_LINES', value: 'many' }] }),
      (err: unknown) => {
        return err instanceof ProgramConfigError && /SIM_LINES="many"/.test(err.message);
      },
    );
    assert.throws(() => describeContainerProgram({ name: 'c', env: [{ name: 'SIM_EXIT_CODE', value: '300' }] }), ProgramConfigError);
  });
});

describe('devcluster/pod-program: command and args', () => {
  it('runs an image without a recognised command forever after a couple of startup lines', () => {
    const result = runContainer({ image: 'nginx:1.27' });
    assert.equal(result.stdout.split('\n').filter(Boolean).length, 2);
    assert.match(result.stdout, /nginx:1\.27/);
    assert.deepEqual(result.sleeps, [Infinity]);
  });

  it('treats an unknown binary as a long-running server rather than failing', () => {
    const result = runContainer({ command: ['/app/server', '--port', '8080'] });
    assert.match(result.stdout, /\/app\/server --port 8080/);
    assert.deepEqual(result.sleeps, [Infinity]);
  });

  it('runs sh -c scripts given as command, or as args of an image without entrypoint', () => {
    assert.equal(runContainer({ command: ['sh', '-c', 'echo one; echo two'] }).stdout, 'one\ntwo\n');
    assert.equal(runContainer({ command: ['/bin/sh'], args: ['-c', 'echo via args'] }).stdout, 'via args\n');
    assert.equal(runContainer({ args: ['sh', '-c', 'exit 4'] }).exitCode, 4);
  });

  it('expands $(VAR) references in command and args from the container env', () => {
    const result = runContainer({ command: ['echo', '$(NAME)', '$$(NAME)'], env: [{ name: 'NAME', value: 'dev' }] });
    assert.equal(result.stdout, 'dev $(NAME)\n');
  });
});

describe('devcluster/pod-program: the shell subset', () => {
  it('runs for loops over $(seq) with sleeps, the classic log generator', () => {
    const result = script('for i in $(seq 1 3); do echo "line $i"; sleep 0.5; done');
    assert.equal(result.stdout, 'line 1\nline 2\nline 3\n');
    assert.deepEqual(result.sleeps, [500, 500, 500]);
    assert.equal(result.exitCode, 0);
  });

  it('loops forever with while true, yielding ticks so a runner can pace it', () => {
    const result = collect(runScript('while true; do echo x; done', context, { stdin: false }), 30);
    assert.equal(result.actions.length, 30);
    assert.ok(result.actions.some((action) => action.kind === 'tick'));
  });

  it('follows && and || by the last status, and exit sets the code', () => {
    assert.equal(script('false && echo no; true && echo yes; false || echo fallback').stdout, 'yes\nfallback\n');
    assert.equal(script('echo before; exit 7; echo after').stdout, 'before\n');
    assert.equal(script('echo before; exit 7').exitCode, 7);
    assert.equal(script('false').exitCode, 1);
  });

  it('supports if/elif/else, variables, quoting and redirection to stderr', () => {
    const result = script(
      `N=2\nif [ -z "$N" ]; then echo never; elif [ "$N" -ge 2 ]; then echo "n is $N" 'and $N stays'; else echo no; fi\necho oops >&2`,
    );
    assert.equal(result.stdout, 'n is 2 and $N stays\n');
    assert.equal(result.stderr, 'oops\n');
    assert.equal(script('i=0; while [ $i -lt 3 ]; do echo $i; i=$((i+1)); done').exitCode, 2, 'arithmetic is not supported');
  });

  it("pipes each command's output into the next: grep, head, tail, sort, uniq, wc", () => {
    assert.equal(script('env | grep GREETING').stdout, 'GREETING=hello\n');
    assert.equal(script('cat /etc/os-release | grep -c NAME').stdout, '2\n');
    assert.equal(script('seq 1 20 | tail -n 3 | head -1').stdout, '18\n');
    assert.equal(script('seq 5 | sort -rn | head -2').stdout, '5\n4\n');
    assert.equal(script('printf "b\\na\\nb\\n" | sort | uniq').stdout, 'a\nb\n');
    assert.equal(script('echo one two three | wc -w').stdout, '3\n');
    assert.equal(script('echo x | grep -q y || echo no match').stdout, 'no match\n');
    assert.equal(script('echo x | grep y').exitCode, 1, 'a pipeline has the status of its last command');
  });

  it('cuts off an endless left side of a pipe once the pipe is full', () => {
    const result = script('while true; do echo yes; done | head -2');
    assert.equal(result.stdout, 'yes\nyes\n');
    assert.equal(result.exitCode, 0);
  });

  it('reads the container env, hostname and fake files', () => {
    assert.equal(script('echo $GREETING from $(hostname)').stdout, 'hello from web-1\n');
    assert.equal(script('cat /etc/hostname').stdout, 'web-1\n');
    assert.match(script('cat /etc/os-release').stdout, /^NAME=/m);
    const missing = script('cat /nope');
    assert.equal(missing.exitCode, 1);
    assert.match(missing.stderr, /cat: \/nope: No such file or directory/);
  });

  it('answers unknown commands with 127 and a shell-like message', () => {
    const result = script('frobnicate --now');
    assert.equal(result.exitCode, 127);
    assert.equal(result.stderr, 'sh: 1: frobnicate: not found\n');
  });

  it('reports syntax errors and unsupported constructs with exit code 2', () => {
    for (const bad of ['echo "unterminated', 'for i in 1 2; do echo $i', 'sleep 1 &', '(echo sub)', 'done', 'echo a |']) {
      const result = script(bad);
      assert.equal(result.exitCode, 2, bad);
      assert.match(result.stderr, /^sh: 1: Syntax error: /, bad);
    }
  });

  it('treats sleep infinity and tail -f as running forever, and rejects bad intervals', () => {
    assert.deepEqual(script('sleep infinity').sleeps, [Infinity]);
    assert.deepEqual(script('tail -f /dev/null').sleeps, [Infinity]);
    assert.deepEqual(script('sleep 2m').sleeps, [120_000]);
    assert.equal(script('sleep soon').exitCode, 1);
  });
});

describe('devcluster/pod-program: runCommand (exec)', () => {
  it('asks for stdin for a bare cat when stdin is attached', () => {
    const result = collect(runCommand(['cat'], context, { stdin: true }));
    assert.deepEqual(result.actions, [{ kind: 'stdin' }]);
  });

  it('prints the environment with env and printenv', () => {
    assert.match(collect(runCommand(['env'], context, { stdin: false })).stdout, /^GREETING=hello$/m);
    assert.equal(collect(runCommand(['printenv', 'GREETING'], context, { stdin: false })).stdout, 'hello\n');
    assert.equal(collect(runCommand(['printenv', 'MISSING'], context, { stdin: false })).exitCode, 1);
  });

  it('fails with 127 for a binary that does not exist', () => {
    const result = collect(runCommand(['/usr/bin/nope'], context, { stdin: false }));
    assert.equal(result.exitCode, 127);
    assert.match(result.stderr, /executable file not found/);
  });
});

// ---------------------------------------------------------------------------------------------
// The simulated kubelet, against the real in-memory object store.

const PODS = { group: '', version: 'v1', resource: 'pods' };
const EVENTS = { group: '', version: 'v1', resource: 'events' };

interface PodView {
  spec: { nodeName?: string };
  status?: {
    phase?: string;
    podIP?: string;
    qosClass?: string;
    conditions?: Array<{ type: string; status: string; reason?: string }>;
    containerStatuses?: Array<{
      name: string;
      ready: boolean;
      restartCount: number;
      state: { running?: unknown; waiting?: { reason: string; message?: string }; terminated?: { exitCode: number; reason: string } };
      lastState: { terminated?: { exitCode: number } };
    }>;
  };
}

function podObject(name: string, container: Partial<ContainerSpec> & { resources?: unknown }, restartPolicy = 'Never'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'demo' },
    spec: { restartPolicy, containers: [{ name: 'main', image: 'busybox', ...container }] },
  };
}

function simEnv(values: Record<string, string | number>): Array<{ name: string; value: string }> {
  return Object.entries(values).map(([name, value]) => ({ name, value: String(value) }));
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('devcluster/kubelet', () => {
  let store: MemoryObjectStore;
  let kubelet: SimulatedKubelet;

  beforeEach(() => {
    store = new MemoryObjectStore();
    kubelet = new SimulatedKubelet(store, { defaultStartDelayMs: 0, backOffBaseMs: 50, backOffMaxMs: 200 });
    kubelet.start();
  });

  afterEach(() => {
    kubelet.stop();
  });

  const pod = (name: string) => store.get(PODS, 'demo', name) as (KubeObject & PodView) | undefined;
  const phaseOf = (name: string) => pod(name)?.status?.phase;
  const phaseIs = (name: string, phase: string) => () => (pod(name)?.status?.phase === phase ? pod(name) : undefined);
  const logTexts = (name: string, previous = false) =>
    kubelet.logs.read({ namespace: 'demo', pod: name, container: 'main', previous })?.map((l) => l.text);
  const eventReasons = (name: string) =>
    store
      .list(EVENTS, { namespace: 'demo' })
      .items.filter((e) => (e.involvedObject as { name: string }).name === name)
      .map((e) => e.reason as string);

  it('runs a pod that prints 5 lines and exits 0 to Succeeded, with logs, status and events like a kubelet', async () => {
    store.create(PODS, podObject('five', { env: simEnv({ SIM_LINES: 5, SIM_LINE_INTERVAL_MS: 5 }) }));
    const done = await waitFor('Succeeded', phaseIs('five', 'Succeeded'));
    assert.deepEqual(logTexts('five'), ['line 1', 'line 2', 'line 3', 'line 4', 'line 5']);
    assert.equal(done.spec.nodeName, 'devcluster-node');
    const status = done.status?.containerStatuses?.[0];
    assert.equal(status?.state.terminated?.exitCode, 0);
    assert.equal(status?.state.terminated?.reason, 'Completed');
    assert.equal(done.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'PodCompleted');
    assert.equal(done.status?.qosClass, 'BestEffort');
    assert.match(done.status?.podIP ?? '', /^10\.244\.\d+\.\d+$/);
    assert.deepEqual(eventReasons('five'), ['Scheduled', 'Pulled', 'Created', 'Started']);
  });

  it('ends a pod that exits 3 with restartPolicy Never as Failed with exit code 3', async () => {
    store.create(PODS, podObject('fails', { command: ['sh', '-c', 'echo about to fail; exit 3'] }));
    const failed = await waitFor('Failed', phaseIs('fails', 'Failed'));
    const terminated = failed.status?.containerStatuses?.[0]?.state.terminated;
    assert.deepEqual([terminated?.exitCode, terminated?.reason], [3, 'Error']);
    assert.deepEqual(logTexts('fails'), ['about to fail']);
  });

  it('restarts with restartPolicy Always: restartCount grows, CrashLoopBackOff, previous logs readable', async () => {
    store.create(PODS, podObject('loops', { command: ['sh', '-c', 'echo "run at $(date)"; exit 1'] }, 'Always'));
    const restarted = await waitFor('two restarts', () =>
      (pod('loops')?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2 ? pod('loops') : undefined,
    );
    assert.equal(restarted.status?.phase, 'Running');
    assert.equal(restarted.status?.containerStatuses?.[0]?.lastState.terminated?.exitCode, 1);
    assert.match(logTexts('loops', true)?.[0] ?? '', /^run at /);
    await waitFor('CrashLoopBackOff', () => pod('loops')?.status?.containerStatuses?.[0]?.state.waiting?.reason === 'CrashLoopBackOff');
    const backOffs = store.list(EVENTS, { namespace: 'demo' }).items.filter((e) => e.reason === 'BackOff');
    assert.equal(backOffs.length, 1, 'repeated back-offs count on one event');
    assert.ok((backOffs[0]?.count as number) >= 2);
    const started = store.list(EVENTS, { namespace: 'demo' }).items.filter((e) => e.reason === 'Started');
    assert.equal(started.length, 1, 'each restart counts on the one Started event');
    assert.ok((started[0]?.count as number) >= 3);
  });

  it('does not restart a successful container with restartPolicy OnFailure, but restarts a failed one', async () => {
    store.create(PODS, podObject('ok', { command: ['true'] }, 'OnFailure'));
    store.create(PODS, podObject('retry', { command: ['false'] }, 'OnFailure'));
    await waitFor('Succeeded', phaseIs('ok', 'Succeeded'));
    await waitFor('a restart', () => (pod('retry')?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1);
  });

  it('keeps a plain image running and Ready, then drops its logs and ends followers when deleted', async () => {
    store.create(PODS, podObject('web', { image: 'nginx:1.27' }));
    const running = await waitFor('Running', phaseIs('web', 'Running'));
    assert.equal(running.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(running.status?.containerStatuses?.[0]?.ready, true);
    assert.equal(logTexts('web')?.length, 2);
    let ended = false;
    kubelet.logs.follow(
      { namespace: 'demo', pod: 'web', container: 'main' },
      () => undefined,
      () => (ended = true),
    );
    store.delete(PODS, 'demo', 'web');
    await waitFor('follow ended', () => ended);
    assert.equal(logTexts('web'), undefined);
    await waitFor('Killing event', () => eventReasons('web').includes('Killing'));
  });

  it('streams lines to a follower while the pod is still running', async () => {
    store.create(PODS, podObject('slow', { env: simEnv({ SIM_LINES: 4, SIM_LINE_INTERVAL_MS: 100 }) }));
    await waitFor('Running', phaseIs('slow', 'Running'));
    const received: Array<{ text: string; phase: string | undefined }> = [];
    const ended = new Promise<void>((resolve) => {
      kubelet.logs.follow(
        { namespace: 'demo', pod: 'slow', container: 'main' },
        (line) => received.push({ text: line.text, phase: pod('slow')?.status?.phase }),
        resolve,
      );
    });
    await ended;
    assert.ok(received.length >= 3, `got ${received.length} lines while following`);
    assert.equal(received[0]?.phase, 'Running', 'the first followed line arrived before the pod finished');
  });

  it('reports bad SIM_* settings as CreateContainerConfigError and leaves the pod Pending', async () => {
    store.create(PODS, podObject('bad', { env: simEnv({ SIM_LINES: 'lots' }) }));
    const waiting = await waitFor(
      'config error',
      () => pod('bad')?.status?.containerStatuses?.[0]?.state.waiting?.reason === 'CreateContainerConfigError' && pod('bad'),
    );
    assert.equal(waiting.status?.phase, 'Pending');
    assert.match(waiting.status?.containerStatuses?.[0]?.state.waiting?.message ?? '', /SIM_LINES/);
    await waitFor('Failed event', () => eventReasons('bad').includes('Failed'));
  });

  it('runs init containers in order before the app containers, Pending and not Initialized meanwhile', async () => {
    const withInit = podObject('inits', { env: simEnv({ SIM_LINES: 1, SIM_MESSAGE: 'app ran' }) });
    (withInit.spec as Record<string, unknown>).initContainers = [
      { name: 'first', image: 'busybox', command: ['sh', '-c', 'echo first; sleep 0.2'] },
      { name: 'second', image: 'busybox', command: ['echo', 'second'] },
    ];
    store.create(PODS, withInit);
    const initializing = await waitFor('first init running', () => {
      const statuses = pod('inits')?.status as { initContainerStatuses?: Array<{ state: { running?: unknown } }> } | undefined;
      return statuses?.initContainerStatuses?.[0]?.state.running ? pod('inits') : undefined;
    });
    assert.equal(initializing.status?.phase, 'Pending');
    assert.equal(initializing.status?.conditions?.find((c) => c.type === 'Initialized')?.status, 'False');
    assert.equal(initializing.status?.containerStatuses?.[0]?.state.waiting?.reason, 'PodInitializing');
    const done = await waitFor('Succeeded', phaseIs('inits', 'Succeeded'));
    assert.equal(done.status?.conditions?.find((c) => c.type === 'Initialized')?.status, 'True');
    const read = (container: string) => kubelet.logs.read({ namespace: 'demo', pod: 'inits', container })?.map((l) => l.text);
    assert.deepEqual([read('first'), read('second'), read('main')], [['first'], ['second'], ['app ran']]);
    const starts = store
      .list(EVENTS, { namespace: 'demo' })
      .items.filter((e) => e.reason === 'Started')
      .map((e) => (e.involvedObject as { fieldPath?: string }).fieldPath);
    assert.deepEqual(starts, ['spec.initContainers{first}', 'spec.initContainers{second}', 'spec.containers{main}']);
  });

  it('fails a pod whose init container fails with restartPolicy Never, without starting its app containers', async () => {
    const failing = podObject('bad-init', { image: 'nginx' });
    (failing.spec as Record<string, unknown>).initContainers = [
      { name: 'migrate', image: 'busybox', command: ['sh', '-c', 'echo migration failed >&2; exit 9'] },
    ];
    store.create(PODS, failing);
    await waitFor('Failed', phaseIs('bad-init', 'Failed'));
    assert.equal(logTexts('bad-init'), undefined, 'the app container never started');
    assert.deepEqual(
      kubelet.logs.read({ namespace: 'demo', pod: 'bad-init', container: 'migrate' })?.map((l) => l.text),
      ['migration failed'],
    );
  });

  it('reports malformed container fields as config errors and keeps running other pods', async () => {
    store.create(PODS, podObject('odd-env', { env: { SIM_LINES: '3' } as unknown as ContainerSpec['env'] }));
    store.create(PODS, podObject('odd-command', { command: 'echo hi' as unknown as string[] }));
    store.create(PODS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'no-containers', namespace: 'demo' },
      spec: { containers: 'nope' },
    });
    store.create(PODS, podObject('fine', { command: ['true'] }));
    await waitFor('the valid pod to finish', phaseIs('fine', 'Succeeded'));
    const waitingReason = (name: string) => pod(name)?.status?.containerStatuses?.[0]?.state.waiting;
    await waitFor('config errors', () => waitingReason('odd-env') && waitingReason('odd-command'));
    assert.match(waitingReason('odd-env')?.message ?? '', /env must be a list/);
    assert.match(waitingReason('odd-command')?.message ?? '', /command must be a list of strings/);
    assert.equal(pod('no-containers')?.status?.phase, 'Pending');
  });

  it('computes the QoS class from resources', async () => {
    const resources = { limits: { cpu: '100m', memory: '64Mi' } };
    store.create(PODS, podObject('guaranteed', { image: 'nginx', resources }));
    store.create(PODS, podObject('burstable', { image: 'nginx', resources: { requests: { cpu: '50m' } } }));
    await waitFor('statuses', () => pod('guaranteed')?.status && pod('burstable')?.status);
    assert.equal(pod('guaranteed')?.status?.qosClass, 'Guaranteed');
    assert.equal(pod('burstable')?.status?.qosClass, 'Burstable');
  });

  it('stops every simulation on stop(): nothing changes afterwards', async () => {
    store.create(PODS, podObject('busy', { command: ['sh', '-c', 'while true; do echo tick; sleep 0.02; done'] }));
    await waitFor('a few lines', () => (logTexts('busy')?.length ?? 0) >= 3);
    let followerEnded = false;
    kubelet.logs.follow(
      { namespace: 'demo', pod: 'busy', container: 'main' },
      () => undefined,
      () => (followerEnded = true),
    );
    kubelet.stop();
    assert.equal(followerEnded, true, 'log followers are released');
    const version = pod('busy')?.metadata.resourceVersion;
    const lines = logTexts('busy')?.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(pod('busy')?.metadata.resourceVersion, version);
    assert.equal(logTexts('busy')?.length, lines);
  });

  it('picks pods up again after a restart from saved state: running ones run, finished ones stay', async () => {
    store.create(PODS, podObject('server', { image: 'nginx' }));
    store.create(PODS, podObject('batch', { command: ['true'] }));
    await waitFor('both settled', () => phaseOf('server') === 'Running' && phaseOf('batch') === 'Succeeded');
    kubelet.stop();
    const snapshot = store.snapshot();
    store = new MemoryObjectStore();
    store.restore(snapshot);
    kubelet = new SimulatedKubelet(store, { defaultStartDelayMs: 0 });
    kubelet.start();
    await waitFor('server logs again', () => (logTexts('server')?.length ?? 0) === 2);
    assert.equal(phaseOf('server'), 'Running');
    assert.equal(phaseOf('batch'), 'Succeeded');
    assert.equal(logTexts('batch'), undefined, 'logs live in memory only');
  });

  it('retries a status update that hits a 409 Conflict', async () => {
    // A store that answers the first update of each pod with a conflict, as a concurrent writer would cause.
    let conflicts = 0;
    const update = store.update.bind(store);
    store.update = (type, object) => {
      if (type.resource === 'pods' && conflicts === 0) {
        conflicts++;
        throw new StoreError(409, 'Conflict', 'the object has been modified');
      }
      return update(type, object);
    };
    store.create(PODS, podObject('contended', { command: ['true'] }));
    await waitFor('Succeeded', phaseIs('contended', 'Succeeded'));
    assert.equal(conflicts, 1);
  });
});
