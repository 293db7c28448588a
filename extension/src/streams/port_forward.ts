// Port-forward through kas: a local TCP port whose every connection becomes one WebSocket to
// pods/<pod>/portforward (v4.channel.k8s.io: channel 0 data, 1 errors, each opened by the
// port number). Stoppable; reports its connections, its status and the last error so views can
// show them.
// The local port outlives the agent: when kas cannot reach the pod (agentk restarting), the
// forward is `reconnecting` and closes new connections at once, cleanly, rather than leaving
// them hanging; once the pod answers through kas again it is `active` with no user action.
// When the pod is gone (deleted, replaced, finished) the forward `ended` and frees the port.
import net from 'node:net';
import { KasClientError } from '../kas_client/errors';
import type { ClusterParts } from '../kas_client/kube_client';
import { channelMessage, openChannelSocket } from './channel_socket';
import { PodPresenceWatch, type PodGoneReason, type PresenceBackoff } from './pod_presence';

export interface PortForwardTarget {
  namespace: string;
  pod: string;
  remotePort: number;
  /** 0 picks a free one. */
  localPort: number;
  localHost?: string;
}

export type PortForwardStatus = 'active' | 'reconnecting' | 'ended';
/** Why a forward ended: asked to (STOPPED), or its pod is gone. */
export type PortForwardEndReason = 'STOPPED' | PodGoneReason;

export interface PortForwardState {
  localPort: number;
  status: PortForwardStatus;
  endReason?: PortForwardEndReason;
  activeConnections: number;
  totalConnections: number;
  lastError?: string;
}

const PORT_PREFIX_BYTES = 2;
/** A WebSocket that closed without a close frame: the path through kas broke, not the pod's end. */
const ABNORMAL_CLOSURE = 1006;
/** Open failures that say kas could not reach the agent (or kas itself is away), not that the request is wrong. */
const PATH_FAILURES = new Set(['AGENT_NOT_CONNECTED', 'UNREACHABLE', 'TIMEOUT', 'SERVER_ERROR', 'NOT_FOUND']);

const END_TEXT: Record<PortForwardEndReason, string> = {
  STOPPED: 'stopped',
  POD_DELETED: 'the pod was deleted',
  POD_FINISHED: 'the pod is no longer running',
};

export function endText(reason: PortForwardEndReason): string {
  return END_TEXT[reason];
}

export class PortForward {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly presence: PodPresenceWatch;
  readonly state: PortForwardState;

  constructor(
    private readonly parts: () => Promise<ClusterParts>,
    readonly target: PortForwardTarget,
    private readonly onChange: (state: PortForwardState) => void = () => undefined,
    backoff?: PresenceBackoff,
  ) {
    this.state = { localPort: target.localPort, status: 'active', activeConnections: 0, totalConnections: 0 };
    this.presence = new PodPresenceWatch(
      parts,
      target.namespace,
      target.pod,
      (presence, reason) => {
        if (presence === 'gone') void this.end(reason ?? 'POD_DELETED');
        else this.setStatus(presence === 'present' ? 'active' : 'reconnecting');
      },
      backoff,
    );
  }

  get label(): string {
    return `${this.target.localHost ?? '127.0.0.1'}:${this.state.localPort} → ${this.target.namespace}/${this.target.pod}:${this.target.remotePort}`;
  }

  /** Listens on the local port; resolves with it. */
  start(): Promise<number> {
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.target.localPort, this.target.localHost ?? '127.0.0.1', () => {
        server.off('error', reject);
        this.state.localPort = (server.address() as net.AddressInfo).port;
        this.presence.start();
        this.onChange(this.state);
        resolve(this.state.localPort);
      });
    });
  }

  stop(): Promise<void> {
    return this.end('STOPPED');
  }

  private async end(reason: PortForwardEndReason): Promise<void> {
    if (this.state.status === 'ended') return;
    this.state.status = 'ended';
    this.state.endReason = reason;
    for (const socket of this.sockets) socket.destroy();
    // The presence loop ends by its abort; its last request need not be waited for.
    void this.presence.stop();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.onChange(this.state);
  }

  private setStatus(status: 'active' | 'reconnecting'): void {
    if (this.state.status === 'ended' || this.state.status === status) return;
    this.state.status = status;
    this.onChange(this.state);
  }

  /** The path to the pod broke: say so now, and have the presence watch find out when it is back. */
  private pathBroke(): void {
    this.setStatus('reconnecting');
    this.presence.recheck();
  }

  private accept(socket: net.Socket): void {
    // Every accepted socket is tracked, the ones refused too: server.close() waits for all of them.
    this.sockets.add(socket);
    if (this.state.status !== 'active') {
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      return void socket.end();
    }
    this.state.activeConnections++;
    this.state.totalConnections++;
    this.onChange(this.state);
    socket.pause();
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.state.activeConnections--;
      this.onChange(this.state);
    });
    socket.on('error', () => socket.destroy());
    this.connect(socket).catch((error: unknown) => {
      if (error instanceof KasClientError && PATH_FAILURES.has(error.code)) this.pathBroke();
      this.fail(error instanceof Error ? error.message : String(error));
      socket.end();
    });
  }

  private fail(message: string): void {
    this.state.lastError = message;
    this.onChange(this.state);
  }

  private async connect(socket: net.Socket): Promise<void> {
    const { namespace, pod, remotePort } = this.target;
    const path = `api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/portforward?ports=${remotePort}`;
    const channels = await openChannelSocket(await this.parts(), path, ['v4.channel.k8s.io']);
    const { ws } = channels;
    if (socket.destroyed) return void ws.close();
    const prefixPending = [true, true];
    channels.onMessage((data, isBinary) => {
      let bytes = data;
      const channel = bytes[0];
      if (!isBinary || channel === undefined || channel > 1) return;
      bytes = bytes.subarray(1);
      if (prefixPending[channel]) {
        prefixPending[channel] = false;
        bytes = bytes.subarray(PORT_PREFIX_BYTES);
      }
      if (bytes.length === 0) return;
      if (channel === 1) return this.fail(bytes.toString('utf8'));
      if (!socket.write(bytes)) {
        ws.pause();
        socket.once('drain', () => ws.resume());
      }
    });
    ws.on('close', (code) => {
      if (code === ABNORMAL_CLOSURE && this.state.status !== 'ended') this.pathBroke();
      socket.end();
    });
    ws.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      ws.send(channelMessage(0, chunk));
      if (ws.bufferedAmount > 1 << 20) {
        socket.pause();
        const resume = () => (ws.bufferedAmount > 1 << 18 ? setTimeout(resume, 5) : socket.resume());
        setTimeout(resume, 5);
      }
    });
    socket.on('end', () => ws.close(1000));
    socket.on('close', () => ws.close(1000));
    socket.resume();
  }
}
