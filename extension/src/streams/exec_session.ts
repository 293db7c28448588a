// A command in a container through kas: pods/<pod>/exec (or attach) over WebSocket,
// v5.channel.k8s.io with v4 as the fallback. Channels: 0 stdin, 1 stdout, 2 stderr, 3 the final
// Status (the exit code), 4 terminal size; v5 adds 255 "close channel" (end of stdin).
import type WebSocket from 'ws';
import type { ClusterParts } from '../kas_client/kube_client';
import { channelMessage, openChannelSocket, type ChannelSocket } from './channel_socket';

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, status: 3, resize: 4, close: 255 } as const;

export interface ExecTarget {
  namespace: string;
  pod: string;
  container?: string;
  command: string[];
  tty: boolean;
  /** attach to the container's own process instead of running `command`. */
  attach?: boolean;
}

export interface ExecEvents {
  output(data: Buffer, stream: 'stdout' | 'stderr'): void;
  /** The process ended: its exit code (undefined when the connection ended without a Status). */
  exit(code: number | undefined, message?: string): void;
}

interface StatusMessage {
  status?: string;
  message?: string;
  reason?: string;
  details?: { causes?: Array<{ reason?: string; message?: string }> };
}

/** The exit code a channel-3 Status reports. */
export function exitCodeOf(status: StatusMessage): number {
  if (status.status === 'Success') return 0;
  const code = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
  return code !== undefined && /^\d+$/.test(code) ? Number(code) : 1;
}

export function execPath(target: ExecTarget): string {
  const query = new URLSearchParams();
  if (!target.attach) for (const word of target.command) query.append('command', word);
  if (target.container) query.set('container', target.container);
  query.set('stdin', 'true');
  query.set('stdout', 'true');
  query.set('stderr', String(!target.tty));
  query.set('tty', String(target.tty));
  const sub = target.attach ? 'attach' : 'exec';
  return `api/v1/namespaces/${encodeURIComponent(target.namespace)}/pods/${encodeURIComponent(target.pod)}/${sub}?${query}`;
}

export class ExecSession {
  private ended = false;

  private readonly ws: WebSocket;
  readonly protocol: string;

  private constructor(
    socket: ChannelSocket,
    private readonly events: ExecEvents,
  ) {
    this.ws = socket.ws;
    this.protocol = socket.protocol;
    socket.onMessage((data, isBinary) => this.receive(data, isBinary));
    this.ws.on('close', () => this.finish(undefined));
    this.ws.on('error', () => this.finish(undefined, 'the connection failed'));
  }

  static async open(parts: ClusterParts, target: ExecTarget, events: ExecEvents): Promise<ExecSession> {
    return new ExecSession(await openChannelSocket(parts, execPath(target), EXEC_PROTOCOLS), events);
  }

  write(data: string | Buffer): void {
    if (!this.ended) this.ws.send(channelMessage(CHANNEL.stdin, data));
  }

  resize(columns: number, rows: number): void {
    if (!this.ended) this.ws.send(channelMessage(CHANNEL.resize, JSON.stringify({ Width: columns, Height: rows })));
  }

  /** Ends stdin (v5 only; v4 has no way to say it but closing the connection). */
  endInput(): void {
    if (this.ended) return;
    if (this.protocol === 'v5.channel.k8s.io') this.ws.send(Buffer.from([CHANNEL.close, CHANNEL.stdin]));
    else this.ws.close(1000);
  }

  close(): void {
    this.ws.close(1000);
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (!isBinary || data.length === 0) return;
    const channel = data[0];
    const payload = data.subarray(1);
    if (channel === CHANNEL.stdout || channel === CHANNEL.stderr) {
      if (payload.length > 0) this.events.output(payload, channel === CHANNEL.stdout ? 'stdout' : 'stderr');
    } else if (channel === CHANNEL.status) {
      let status: StatusMessage;
      try {
        status = JSON.parse(payload.toString('utf8')) as StatusMessage;
      } catch {
        status = { status: 'Failure', message: payload.toString('utf8') };
      }
      this.finish(exitCodeOf(status), status.status === 'Success' ? undefined : status.message);
    }
  }

  private finish(code: number | undefined, message?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.events.exit(code, message);
    this.ws.close(1000);
  }
}
