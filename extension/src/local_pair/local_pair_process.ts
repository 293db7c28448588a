// Runs the bundled local pair as a child process of the extension host: node (the one running
// the extension host) executes dist/local-pair.js. Its output goes to a sink line by line; the
// ready line resolves `ready`. stop() sends SIGTERM, then SIGKILL if it lingers.
import { ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { UserFacingError } from '../kas_client/errors';
import { displayLine } from './ready_line';
import { parseReadyLine, type LocalPairReady } from '../../../agent/shared/local_pair_ready';

export class LocalPairError extends UserFacingError {
  override name = 'LocalPairError';
  constructor(explanation: string) {
    super('LOCAL_PAIR_FAILED', explanation);
  }
}

const STOP_GRACE_MS = 5000;

export class LocalPairProcess {
  private child: ChildProcess | undefined;
  private secrets: string[] = [];
  readonly ready: Promise<LocalPairReady>;
  private settleReady!: { resolve(value: LocalPairReady): void; reject(error: Error): void };
  readonly exited: Promise<number | null>;

  constructor(
    scriptPath: string,
    private readonly output: (line: string) => void,
    args: string[] = [],
  ) {
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    this.ready.catch(() => undefined); // observed by callers that care; never unhandled
    const child = spawn(process.execPath, [scriptPath, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    this.child = child;
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    createInterface({ input: child.stderr! }).on('line', (line) => this.output(displayLine(line, this.secrets)));
    this.exited = new Promise((resolve) => {
      child.on('error', (error) => {
        this.settleReady.reject(new LocalPairError(`could not start the local pair: ${error.message}`));
        resolve(null);
      });
      child.on('exit', (code, signal) => {
        this.child = undefined;
        this.output(`local pair exited (${signal ?? `code ${code}`})`);
        this.settleReady.reject(
          new LocalPairError(`the local pair exited before it was ready (${signal ?? `code ${code}`}); see its output`),
        );
        resolve(code);
      });
    });
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private onLine(line: string): void {
    const ready = parseReadyLine(line);
    if (ready) {
      this.secrets = [ready.userToken];
      this.settleReady.resolve(ready);
    }
    this.output(displayLine(line, this.secrets));
  }
}
