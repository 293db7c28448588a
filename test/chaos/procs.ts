// The processes of the fault suite: each program (dist/*.js, redis-server) runs as a child of its
// own, with its log in a file, so it can be killed with SIGKILL, frozen with SIGSTOP and measured
// from /proc (RSS, open descriptors). An exit the suite did not cause is a crash.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync, type WriteStream } from 'node:fs';
import net from 'node:net';

export interface ProcSample {
  rssKiB: number;
  fds: number;
}

export interface ProcOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  /** Resolves when the program is ready: a line of its output (stdout or stderr) matches. */
  readyLine: RegExp;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

/** One running program. `restart()` starts the same command again (same data, same ports). */
export class Proc {
  child: ChildProcess | undefined;
  /** Exits nobody asked for: code/signal and the time. */
  readonly crashes: string[] = [];
  private expectedExit = false;
  private log: WriteStream | undefined;

  constructor(readonly options: ProcOptions) {}

  get name(): string {
    return this.options.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    this.expectedExit = false;
    this.log ??= createWriteStream(this.options.logFile, { flags: 'a' });
    const child = spawn(this.options.command, this.options.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: this.options.env ?? process.env,
    });
    this.child = child;
    const log = this.log;
    let seen = '';
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name} not ready in ${this.options.readyTimeoutMs ?? 60_000} ms`)),
        this.options.readyTimeoutMs ?? 60_000,
      );
      const onData = (chunk: Buffer) => {
        log.write(chunk);
        if (seen.length < 1 << 20) seen += chunk.toString();
        if (this.options.readyLine.test(seen)) {
          clearTimeout(timer);
          seen = '';
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited before it was ready (${code ?? signal}): ${seen.slice(-2000)}`));
      });
    });
    child.once('exit', (code, signal) => {
      if (!this.expectedExit) this.crashes.push(`${this.name} exited (${code ?? signal}) at ${new Date().toISOString()}`);
    });
    await ready;
  }

  /** kill -9, as a crash or an OOM kill would; waits for the exit. */
  async kill9(): Promise<void> {
    await this.signalAndWait('SIGKILL');
  }

  /** A clean stop (SIGTERM), then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    const child = this.child!;
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.signalAndWait('SIGTERM');
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.start();
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  sample(): ProcSample | undefined {
    const pid = this.pid;
    if (pid === undefined || !this.running) return undefined;
    return sampleProc(pid);
  }

  closeLog(): void {
    this.log?.end();
    this.log = undefined;
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.expectedExit = true;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    return { rssKiB, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined; // it exited between the check and the read
  }
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}
