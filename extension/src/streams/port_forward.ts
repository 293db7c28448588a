// Port-forward through kas: a local TCP port whose every connection becomes one WebSocket to
// pods/<pod>/portforward (v4.channel.k8s.io: channel 0 data, 1 errors, each opened by the
// port number). Stoppable; reports its connections and the last error so views can show them.
import net from 'node:net';
import type { ClusterParts } from '../kas_client/kube_client';
import { channelMessage, openChannelSocket, toBuffer } from './channel_socket';

export interface PortForwardTarget {
  namespace: string;
  pod: string;
  remotePort: number;
  /** 0 picks a free one. */
  localPort: number;
  localHost?: string;
}

export interface PortForwardState {
  localPort: number;
  activeConnections: number;
  totalConnections: number;
  lastError?: string;
  stopped: boolean;
}

const PORT_PREFIX_BYTES = 2;

export class PortForward {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  readonly state: PortForwardState;

  constructor(
    private readonly parts: () => Promise<ClusterParts>,
    readonly target: PortForwardTarget,
    private readonly onChange: (state: PortForwardState) => void = () => undefined,
  ) {
    this.state = { localPort: target.localPort, activeConnections: 0, totalConnections: 0, stopped: false };
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
        this.onChange(this.state);
        resolve(this.state.localPort);
      });
    });
  }

  async stop(): Promise<void> {
    this.state.stopped = true;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.onChange(this.state);
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
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
      this.fail(error instanceof Error ? error.message : String(error));
      socket.destroy();
    });
  }

  private fail(message: string): void {
    this.state.lastError = message;
    this.onChange(this.state);
  }

  private async connect(socket: net.Socket): Promise<void> {
    const { namespace, pod, remotePort } = this.target;
    const path = `api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/portforward?ports=${remotePort}`;
    const { ws } = await openChannelSocket(await this.parts(), path, ['v4.channel.k8s.io']);
    if (socket.destroyed) return void ws.close();
    const prefixPending = [true, true];
    ws.on('message', (data, isBinary) => {
      let bytes = toBuffer(data);
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
    ws.on('close', () => socket.end());
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
