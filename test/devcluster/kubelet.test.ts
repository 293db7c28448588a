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
} from '../../agent/devcluster/pod-program';

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
    const timed = runContainer({ env: [{ name: 'SIM_LINES', value: '2' }, { name: 'SIM_LINE_INTERVAL_MS', value: '500' }, { name: 'SIM_DURATION_SECONDS', value: '2' }] });
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
    assert.throws(() => describeContainerProgram({ name: 'c', env: [{ name: 'SIM_LINES', value: 'many' }] }), (err: unknown) => {
      return err instanceof ProgramConfigError && /SIM_LINES="many"/.test(err.message);
    });
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
    const result = script(`N=2\nif [ -z "$N" ]; then echo never; elif [ "$N" -ge 2 ]; then echo "n is $N" 'and $N stays'; else echo no; fi\necho oops >&2`);
    assert.equal(result.stdout, 'n is 2 and $N stays\n');
    assert.equal(result.stderr, 'oops\n');
    assert.equal(script('i=0; while [ $i -lt 3 ]; do echo $i; i=$((i+1)); done').exitCode, 2, 'arithmetic is not supported');
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
    for (const bad of ['echo "unterminated', 'for i in 1 2; do echo $i', 'echo a | grep a', 'done']) {
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
