// pods/exec and pods/attach over WebSocket, as the Kubernetes API server speaks them
// (channel.k8s.io protocols): every binary message starts with a channel byte — 0 stdin,
// 1 stdout, 2 stderr, 3 error (the final Status), 4 terminal resize, and in v5 255 "close this
// channel". An exec'd command runs as a simulated program (programs/); attach streams what
// the simulated container writes. Nothing is executed on this machine.
// SPDY, the older upgrade kubectl falls back to, is not implemented: it is answered with a
// Status that says so (kubectl before 1.30 can therefore not exec into dev cluster pods).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  containerEnvironment,
  isInteractiveShell,
  podFiles,
  runCommand,
  ShellSession,
  type ContainerSpec,
  type OutputStream,
  type ProgramRun,
} from '../programs/index';
import type { ContainerStdin, KubeObject, PodLogSource } from '../types';

const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** The subprotocols served, best first; v1–v3 report failures as plain text on channel 3. */
export const EXEC_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
] as const;

/** stdin kept for a program that has not read it yet; a client sending more is cut off. */
const MAX_BUFFERED_STDIN = 1 << 20;
const STEPS_PER_TURN = 200;
const BUSY_LOOP_PAUSE_MS = 10;

export class ExecRequestError extends Error {
  override name = 'ExecRequestError';
  constructor(
    readonly code: 400 | 404,
    message: string,
  ) {
    super(message);
  }
}

export interface ExecOptions {
  command: string[];
  container: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** Exec for one API server: it can end every session it started when the server stops. */
export interface ExecHandler {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, pod: KubeObject, query: URLSearchParams): void;
  /** Ends every open exec session (an upgraded socket outlives the HTTP server's own close). */
  closeAll(): void;
  readonly sessionCount: number;
}

export interface ExecHandlerOptions {
  /** Where attach reads a container's output; without it attach is refused. */
  logs?: PodLogSource;
  /** Where attach writes a container's stdin (containers whose spec says `stdin: true`). */
  stdin?: ContainerStdin;
}

export function createExecHandler(handlerOptions: ExecHandlerOptions = {}): ExecHandler {
  const server = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    // No offered protocol means the original channel.k8s.io; an unknown set gets no protocol.
    handleProtocols: (offered) => EXEC_PROTOCOLS.find((protocol) => offered.has(protocol)) ?? false,
  });
  const sessions = new Set<WebSocket>();
  return {
    handleUpgrade(req, socket, head, pod, query) {
      const attach = /\/attach$/.test(new URL(req.url ?? '/', 'http://devcluster.invalid').pathname);
      const options = validateRequest(req, socket, pod, query, attach ? 'attach' : 'exec', handlerOptions.logs !== undefined);
      if (!options) return;
      server.handleUpgrade(req, socket, head, (ws) => {
        sessions.add(ws);
        ws.on('close', () => sessions.delete(ws));
        if (attach && handlerOptions.logs) attachToContainer(ws, handlerOptions, pod, options);
        else new ExecSession(ws, options, execProgram(pod, options)).start();
      });
    },
    closeAll() {
      for (const ws of sessions) ws.terminate();
      sessions.clear();
    },
    get sessionCount() {
      return sessions.size;
    },
  };
}

let defaultHandler: ExecHandler | undefined;

/** Exec (no attach) with a handler shared by the whole process; createExecHandler gives one per server. */
export function handlePodExecUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, pod: KubeObject, query: URLSearchParams): void {
  defaultHandler ??= createExecHandler();
  defaultHandler.handleUpgrade(req, socket, head, pod, query);
}

/** The exec or attach options, or undefined after answering the upgrade with a 400 Status. */
function validateRequest(
  req: IncomingMessage,
  socket: Duplex,
  pod: KubeObject,
  query: URLSearchParams,
  mode: 'exec' | 'attach',
  canAttach: boolean,
): ExecOptions | undefined {
  try {
    if (mode === 'attach' && !canAttach)
      throw new ExecRequestError(400, 'attach is not available: this dev cluster has no container output to attach to');
    const options = mode === 'attach' ? parseAttachOptions(pod, query) : parseExecOptions(pod, query);
    checkPodAcceptsExec(pod, options.container);
    checkWebSocketUpgrade(req);
    return options;
  } catch (err) {
    if (!(err instanceof ExecRequestError)) throw err;
    rejectUpgrade(socket, err.code, err.message);
    return undefined;
  }
}

function execProgram(pod: KubeObject, options: ExecOptions): ExecProgram {
  const container = containerOf(pod, options.container);
  const env = containerEnvironment(container ?? { name: options.container });
  const name = pod.metadata.name ?? '';
  const context = { hostname: name, env, files: podFiles({ name, namespace: pod.metadata.namespace ?? 'default' }) };
  return options.stdin && isInteractiveShell(options.command)
    ? { kind: 'shell', shell: new ShellSession(context) }
    : { kind: 'command', run: runCommand(options.command, context, { stdin: options.stdin }) };
}

/** Reads the exec query (command=…&command=…&container=…&stdin=true…) the way kubectl sends it. */
export function parseExecOptions(pod: KubeObject, query: URLSearchParams): ExecOptions {
  const command = query.getAll('command');
  if (command.length === 0) throw new ExecRequestError(400, 'you must specify at least 1 command');
  return parseStreamOptions(pod, query, command);
}

/** Attach takes the same query as exec, without a command. */
export function parseAttachOptions(pod: KubeObject, query: URLSearchParams): ExecOptions {
  return parseStreamOptions(pod, query, []);
}

function parseStreamOptions(pod: KubeObject, query: URLSearchParams, command: string[]): ExecOptions {
  const flag = (name: string) => ['true', '1'].includes((query.get(name) ?? '').toLowerCase());
  const options = {
    command,
    container: query.get('container') || defaultContainer(pod),
    stdin: flag('stdin'),
    stdout: flag('stdout'),
    stderr: flag('stderr'),
    tty: flag('tty'),
  };
  if (!options.stdin && !options.stdout && !options.stderr)
    throw new ExecRequestError(400, 'you must specify at least one of stdin, stdout, stderr');
  if (!containerOf(pod, options.container)) {
    throw new ExecRequestError(400, `container ${options.container} is not valid for pod ${pod.metadata.name ?? ''}`);
  }
  return options;
}

function defaultContainer(pod: KubeObject): string {
  const annotated = pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'];
  return annotated || (containersOf(pod)[0]?.name ?? '');
}

function containersOf(pod: KubeObject): ContainerSpec[] {
  const containers = (pod.spec as { containers?: unknown } | undefined)?.containers;
  return Array.isArray(containers) ? (containers as ContainerSpec[]) : [];
}

function containerOf(pod: KubeObject, name: string): ContainerSpec | undefined {
  return containersOf(pod).find((container) => container.name === name);
}

/** Exec needs a running container, as a real kubelet does. */
export function checkPodAcceptsExec(pod: KubeObject, container: string): void {
  const status = (pod.status ?? {}) as { phase?: string; containerStatuses?: Array<{ name?: string; state?: { running?: unknown } }> };
  if (status.phase === 'Succeeded' || status.phase === 'Failed') {
    throw new ExecRequestError(400, `cannot exec into a container in a completed pod; current phase is ${status.phase}`);
  }
  const running = status.containerStatuses?.find((s) => s.name === container)?.state?.running !== undefined;
  if (status.phase !== 'Running' || !running) {
    throw new ExecRequestError(
      400,
      `unable to upgrade connection: container not found ("${container}"): pod ${pod.metadata.name ?? ''} is ${status.phase ?? 'Pending'}, the container is not running`,
    );
  }
}

function checkWebSocketUpgrade(req: IncomingMessage): void {
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    throw new ExecRequestError(
      400,
      `the dev cluster serves exec over WebSocket only (kubectl 1.30 or later, or @kubernetes/client-node); "${req.headers.upgrade ?? ''}" upgrades such as SPDY are not supported`,
    );
  }
}

function rejectUpgrade(socket: Duplex, code: number, message: string): void {
  const body = JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: code === 404 ? 'NotFound' : 'BadRequest',
    code,
  });
  const statusText = code === 404 ? 'Not Found' : 'Bad Request';
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${code} ${statusText}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  } else {
    socket.destroy();
  }
}

/** The final word on channel 3: a Status in v4/v5, plain text for failures in older protocols. */
export function exitStatusMessage(protocol: string, command: string[], exitCode: number): Buffer | undefined {
  const structured = protocol === 'v4.channel.k8s.io' || protocol === 'v5.channel.k8s.io';
  const failure = `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${exitCode}`;
  if (!structured) return exitCode === 0 ? undefined : Buffer.from(failure);
  const status =
    exitCode === 0
      ? { metadata: {}, status: 'Success' }
      : {
          metadata: {},
          status: 'Failure',
          message: failure,
          reason: 'NonZeroExitCode',
          details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
        };
  return Buffer.from(JSON.stringify(status));
}

/** What an exec runs: one command, or an interactive shell fed line by line from stdin. */
type ExecProgram = { kind: 'command'; run: ProgramRun } | { kind: 'shell'; shell: ShellSession };

/** End of input typed at a terminal (Ctrl-D on an empty line). */
const END_OF_INPUT = Symbol('end of input');
const PROMPT = '/ # ';

/** One exec: drives the simulated program, moves bytes between it and the WebSocket. */
class ExecSession {
  private readonly stdinChunks: Buffer[] = [];
  private stdinBytes = 0;
  private stdinEnded = false;
  /** Set while the program copies stdin to stdout (cat): called on new data or its end. */
  private stdinReader: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  /** The program running now; in a shell, the current line's. */
  private run: ProgramRun | undefined;
  /** Interactive shell input: the line being typed and complete lines not yet run. */
  private typedLine = '';
  private lastWasCarriageReturn = false;
  private readonly pendingLines: Array<string | typeof END_OF_INPUT> = [];

  constructor(
    private readonly ws: WebSocket,
    private readonly options: ExecOptions,
    private readonly program: ExecProgram,
  ) {
    this.stdinEnded = !options.stdin;
  }

  start(): void {
    this.ws.on('message', (data: RawData, isBinary: boolean) => this.receive(toBuffer(data), isBinary));
    this.ws.on('close', () => this.abandon());
    this.ws.on('error', () => this.abandon());
    if (this.program.kind === 'command') {
      this.run = this.program.run;
      this.pump();
    } else {
      this.prompt();
    }
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (!isBinary || data.length === 0 || this.finished) return;
    const channel = data[0];
    if (channel === CHANNEL.stdin && !this.stdinEnded) {
      if (this.program.kind === 'shell') return this.typed(data.subarray(1).toString('utf8'));
      this.stdinBytes += data.length - 1;
      if (this.stdinBytes > MAX_BUFFERED_STDIN && !this.stdinReader) {
        this.ws.close(1009, 'too much stdin buffered');
        return;
      }
      this.stdinChunks.push(data.subarray(1));
      this.stdinReader?.();
    } else if (channel === CHANNEL.close && data[1] === CHANNEL.stdin) {
      this.stdinEnded = true;
      if (this.program.kind === 'shell') return this.endOfShellInput();
      this.stdinReader?.();
    }
    // Resize (4) needs nothing: the simulated programs do not draw on a terminal.
  }

  /** Runs the program until it sleeps, reads stdin, exits, or has used this turn's share. */
  private pump(): void {
    this.timer = undefined;
    const run = this.run;
    for (let steps = 0; run && steps < STEPS_PER_TURN && !this.finished; steps++) {
      const next = run.next();
      if (next.done) return this.programEnded(next.value);
      const action = next.value;
      if (action.kind === 'write') this.send(action.stream, action.text);
      else if (action.kind === 'stdin') return this.copyStdin();
      else if (action.kind === 'sleep') {
        // An endless sleep lasts until the client goes away.
        if (action.ms !== Infinity) this.timer = setTimeout(() => this.pump(), action.ms);
        return;
      }
    }
    if (run && !this.finished) this.timer = setTimeout(() => this.pump(), BUSY_LOOP_PAUSE_MS);
  }

  private programEnded(exitCode: number): void {
    this.run = undefined;
    if (this.program.kind === 'command') return this.finish(exitCode);
    if (this.program.shell.exitCode !== undefined) return this.finish(this.program.shell.exitCode);
    this.prompt();
    this.runNextLine();
  }

  private copyStdin(): void {
    const drain = () => {
      for (let chunk = this.stdinChunks.shift(); chunk; chunk = this.stdinChunks.shift()) {
        this.stdinBytes -= chunk.length;
        this.send('stdout', chunk.toString('utf8'));
      }
      if (!this.stdinEnded) return;
      this.stdinReader = undefined;
      this.pump();
    };
    this.stdinReader = drain;
    drain();
  }

  // --- interactive shell: a minimal line discipline (echo, backspace, Ctrl-C, Ctrl-D) ----------

  private typed(text: string): void {
    const tty = this.options.tty;
    for (const ch of text) {
      const afterCarriageReturn = this.lastWasCarriageReturn;
      this.lastWasCarriageReturn = ch === '\r';
      if (ch === '\n' && afterCarriageReturn) continue;
      if (ch === '\r' || ch === '\n') {
        this.echo('\r\n');
        this.pendingLines.push(this.typedLine);
        this.typedLine = '';
      } else if (tty && (ch === '\x7f' || ch === '\b')) {
        if (this.typedLine === '') continue;
        this.typedLine = this.typedLine.slice(0, -1);
        this.echo('\b \b');
      } else if (tty && ch === '\x03') {
        this.typedLine = '';
        this.echo('^C\r\n');
        if (!this.run) this.prompt();
      } else if (tty && ch === '\x04') {
        if (this.typedLine === '') this.pendingLines.push(END_OF_INPUT);
      } else {
        this.typedLine += ch;
        this.echo(ch);
      }
    }
    this.runNextLine();
  }

  private endOfShellInput(): void {
    if (this.typedLine !== '') this.pendingLines.push(this.typedLine);
    this.typedLine = '';
    this.pendingLines.push(END_OF_INPUT);
    this.runNextLine();
  }

  private runNextLine(): void {
    if (this.run || this.finished || this.program.kind !== 'shell') return;
    const line = this.pendingLines.shift();
    if (line === undefined) return;
    if (line === END_OF_INPUT) return this.finish(this.program.shell.status);
    this.run = this.program.shell.run(line);
    this.pump();
  }

  private prompt(): void {
    if (this.options.tty) this.sendRaw('stdout', PROMPT);
  }

  /** A terminal echoes what is typed; without a terminal nothing is echoed. */
  private echo(text: string): void {
    if (this.options.tty) this.sendRaw('stdout', text);
  }

  private send(stream: OutputStream, text: string): void {
    this.sendRaw(stream, this.options.tty ? text.replace(/\r?\n/g, '\r\n') : text);
  }

  private sendRaw(stream: OutputStream, text: string): void {
    const target: OutputStream = this.options.tty ? 'stdout' : stream;
    if (!this.options[target] || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(Buffer.concat([Buffer.from([CHANNEL[target]]), Buffer.from(text, 'utf8')]));
  }

  private finish(exitCode: number): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    const status = exitStatusMessage(this.ws.protocol || 'channel.k8s.io', this.options.command, exitCode);
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (status) this.ws.send(Buffer.concat([Buffer.from([CHANNEL.error]), status]));
    this.ws.close(1000);
  }

  /** The client left: stop the program and forget its input. */
  private abandon(): void {
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.stdinReader = undefined;
    this.stdinChunks.length = 0;
    this.pendingLines.length = 0;
    this.run?.return(0);
    this.run = undefined;
  }
}

/**
 * Attach: what the container writes from now on arrives on stdout, until the container stops;
 * stdin frames go to the container's stdin when its spec has one (`stdin: true`), else nowhere.
 * The end of this session's stdin (v5 close frame, or the socket closing) closes a `stdinOnce`
 * container's stdin. On a terminal, Enter (CR) reaches the program as a newline, as a tty's
 * line discipline turns it.
 */
function attachToContainer(ws: WebSocket, { logs, stdin }: ExecHandlerOptions, pod: KubeObject, options: ExecOptions): void {
  if (!logs) return;
  const query = { namespace: pod.metadata.namespace ?? 'default', pod: pod.metadata.name ?? '', container: options.container };
  if (options.stdin && stdin?.accepts(query.namespace, query.pod, query.container)) {
    let attached = true;
    const detach = () => {
      if (attached) stdin.detach(query.namespace, query.pod, query.container);
      attached = false;
    };
    ws.on('message', (data: RawData) => {
      const frame = toBuffer(data);
      if (frame[0] === CHANNEL.close && frame[1] === CHANNEL.stdin && ws.protocol === 'v5.channel.k8s.io') return detach();
      if (frame[0] !== CHANNEL.stdin || frame.length < 2 || !attached) return;
      const text = frame.subarray(1).toString('utf8');
      stdin.write(query.namespace, query.pod, query.container, options.tty ? text.replace(/\r\n?/g, '\n') : text);
    });
    ws.on('close', detach);
  }
  const send = (channel: number, payload: string) => {
    if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(payload, 'utf8')]));
  };
  const stopFollowing = logs.follow(
    query,
    (line) => {
      if (options.stdout) send(CHANNEL.stdout, options.tty ? `${line.text}\r\n` : `${line.text}\n`);
    },
    () => {
      const status = exitStatusMessage(ws.protocol || 'channel.k8s.io', [], 0);
      if (status) send(CHANNEL.error, status.toString('utf8'));
      if (ws.readyState === ws.OPEN) ws.close(1000);
    },
  );
  ws.on('close', stopFollowing);
  ws.on('error', stopFollowing);
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
