// The long streams of the fault suite: one `kubectl get pods -w` and one `kubectl logs -f` through
// kas, started before a fault and judged after it: still streaming, ended with an error kubectl
// printed (clean), or silent while still running (a hang). The watch sees an event every two
// seconds: a ticker relabels a pod through the dev cluster directly (not through kas).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type StreamEnd = 'streaming' | 'clean error' | 'ended quietly' | 'hang';

export class KubectlStream {
  private child: ChildProcess;
  lastOutputAt = Date.now();
  /** The longest time it ran without printing (a stream cut by a fault should end, not stall). */
  longestSilenceMs = 0;
  lines = 0;
  private stderr = '';
  exit: { code: number | null; signal: string | null; at: number } | undefined;

  constructor(
    readonly name: string,
    kubeconfig: string,
    args: string[],
  ) {
    this.child = spawn('kubectl', ['--kubeconfig', kubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.longestSilenceMs = Math.max(this.longestSilenceMs, Date.now() - this.lastOutputAt);
      this.lastOutputAt = Date.now();
      this.lines += chunk.toString().split('\n').length - 1;
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += chunk.toString();
    });
    this.child.once('exit', (code, signal) => (this.exit = { code, signal, at: Date.now() }));
  }

  /** What kubectl printed last on stderr (its error), one line. */
  get lastError(): string {
    return this.stderr.trim().split('\n').at(-1)?.slice(0, 160) ?? '';
  }

  /**
   * After the system recovered: exited with an error message (clean), exited 0 (the server ended
   * the stream), or running — streaming when it printed within `silentMs`, else hung.
   */
  judge(silentMs: number): StreamEnd {
    if (this.exit) return this.exit.code === 0 ? 'ended quietly' : this.lastError ? 'clean error' : 'hang';
    return Date.now() - this.lastOutputAt <= silentMs ? 'streaming' : 'hang';
  }

  describe(silentMs: number): string {
    const end = this.judge(silentMs);
    const detail =
      end === 'clean error'
        ? `: ${this.lastError}`
        : end === 'hang'
          ? ` (silent ${Math.round((Date.now() - this.lastOutputAt) / 1000)} s)`
          : '';
    return `${end}${detail}`;
  }

  async stop(): Promise<void> {
    if (this.exit) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** `kubectl get pods -w` and `kubectl logs -f` of a pod that prints every two seconds. */
export function startStreams(kubeconfig: string): KubectlStream[] {
  return [
    new KubectlStream('get pods -w', kubeconfig, ['get', 'pods', '-n', 'demo', '-w', '--output-watch-events']),
    new KubectlStream('logs -f', kubeconfig, ['logs', '-f', '-n', 'demo', 'web', '--tail', '1']),
  ];
}

/** Relabels demo/migrate every two seconds through the dev cluster itself, so the watch has events. */
export class WatchTicker {
  private timer: NodeJS.Timeout | undefined;
  private n = 0;
  private busy = false;

  constructor(private readonly adminKubeconfig: string) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), 2_000);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await run(
        'kubectl',
        ['--kubeconfig', this.adminKubeconfig, 'label', 'pod', '-n', 'demo', 'migrate', `chaos-tick=${this.n++}`, '--overwrite'],
        {
          timeout: 10_000,
        },
      );
    } catch {
      // the dev cluster is never the process under fault; a failed tick only thins the events
    } finally {
      this.busy = false;
    }
  }
}
