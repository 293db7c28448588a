// Runs the real kubectl against a kubeconfig: one-shot commands, and long-running ones
// (get -w, logs -f) whose output lines are read as they arrive. Every long-running kubectl
// is killed by stopAll() (call it in afterEach).
import { spawn, type ChildProcess } from 'node:child_process';

export const KUBECTL = process.env.KUBECTL ?? 'kubectl';

export interface KubectlOptions {
  kubeconfig: string;
  /** Written to kubectl's stdin (e.g. a manifest for `apply -f -`). */
  input?: string;
  /** Kills kubectl after this long (default 60 s) so a hung command fails the test, not the run. */
  timeoutMs?: number;
}

export interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function kubectlEnv(kubeconfig: string): NodeJS.ProcessEnv {
  // A clean cache dir keeps discovery from leaking between clusters on reused ports.
  return { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: `${kubeconfig}.cache` };
}

export function runKubectl(args: string[], options: KubectlOptions): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(KUBECTL, args, { env: kubectlEnv(options.kubeconfig), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A kubectl that keeps running; its stdout lines are collected as they come. */
export class KubectlStream {
  readonly lines: string[] = [];
  stderr = '';
  private partial = '';
  private waiters: Array<() => void> = [];
  private exited = false;

  constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => this.onData(d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    child.on('close', () => {
      this.exited = true;
      this.notify();
    });
  }

  get hasExited(): boolean {
    return this.exited;
  }

  /** Resolves with the first line matching, waiting up to timeoutMs; rejects with what was seen. */
  waitForLine(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.lines.find((line) => pattern.test(line));
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
          return true;
        }
        if (this.exited) {
          clearTimeout(timer);
          reject(
            new Error(`kubectl exited without a line matching ${pattern}; stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`),
          );
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`));
      }, timeoutMs);
      const waiter = () => {
        if (check()) this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      if (!check()) this.waiters.push(waiter);
    });
  }

  /** Resolves when kubectl exits (killing it after timeoutMs). */
  waitForExit(timeoutMs = 20_000): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.stop(), timeoutMs);
      this.child.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  stop(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  private onData(text: string): void {
    const pieces = (this.partial + text).split('\n');
    this.partial = pieces.pop() ?? '';
    this.lines.push(...pieces);
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

const running = new Set<KubectlStream>();

export function spawnKubectl(args: string[], options: { kubeconfig: string; env?: Record<string, string> }): KubectlStream {
  const child = spawn(KUBECTL, args, { env: { ...kubectlEnv(options.kubeconfig), ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stream = new KubectlStream(child);
  running.add(stream);
  child.on('close', () => running.delete(stream));
  return stream;
}

/** Kills every long-running kubectl still alive and waits for them to exit. */
export async function stopAllKubectl(): Promise<void> {
  const all = [...running];
  for (const stream of all) stream.stop();
  await Promise.all(all.map((stream) => stream.waitForExit(5_000)));
}
