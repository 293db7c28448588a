// The private API listener: other replicas ask this one for tunnels to agents connected here.
// GET /tunnels with Upgrade: websocket and Authorization: Bearer <signed token> opens a connection
// the asking replica keeps and reuses (frames.ts): each claim carries its own fresh token; with an
// idle tunnel here the answer is "ready" and the WebSocket carries the tunnel's frames both ways
// (with backpressure) until both sides end; without one the answer is "none" at once, so the
// caller tries the next replica. Plain HTTP, or HTTPS with private_api.listen's certificate.
import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../../internal/log';
import { listen, type HttpTimeouts } from '../../../internal/listen';
import type { ConnectRequest, ConnectResponse } from '../../reverse_tunnel/protocol';
import type { Tunnel } from '../../reverse_tunnel/server/registry';
import { decodeMessage, sendControl, sendFrame, type Control } from './frames';
import { PrivateApiTokenError, verifyPrivateApiToken } from './token';

export interface PrivateApiServerOptions {
  address: string;
  secret: Buffer;
  /** Serve HTTPS (wss://) with this certificate and key. */
  tls?: { certPem: string; keyPem: string };
  /** An idle tunnel of this replica's own, or undefined (never waits, never routes further). */
  claimLocalTunnel(agentId: string): Promise<Tunnel | undefined>;
  /** Slow headers and idle keep-alive before the upgrade (private_api.listen.read_header_timeout, idle_timeout). */
  timeouts?: HttpTimeouts;
  logger: Logger;
}

export interface PrivateApiServer {
  address: string;
  /** Connections other replicas opened since the start (they are reused, so this grows slowly). */
  connectionsAccepted(): number;
  stop(): Promise<void>;
}

/** Bytes queued on a WebSocket before the tunnel stream is paused. */
const HIGH_WATER_BYTES = 1024 * 1024;

export async function startPrivateApiServer(options: PrivateApiServerOptions): Promise<PrivateApiServer> {
  const notFound = (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('kas private API: only tunnel upgrades are served here\n');
  };
  const server = options.tls
    ? https.createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, notFound)
    : http.createServer(notFound);
  server.requestTimeout = 0;
  let accepted = 0;
  const webSockets = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (!admit(req, socket, options)) return;
    webSockets.handleUpgrade(req, socket, head, (ws) => {
      accepted++;
      serveConnection(ws, options);
    });
  });
  const address = await listen(server, options.address, options.timeouts);
  options.logger.info('private API listener started', { address, tls: Boolean(options.tls) });
  return {
    address,
    connectionsAccepted: () => accepted,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of webSockets.clients) client.terminate();
        webSockets.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The path and a valid token at the upgrade; refuses (and answers) otherwise. */
function admit(req: http.IncomingMessage, socket: Duplex, options: PrivateApiServerOptions): boolean {
  if (req.url !== '/tunnels') {
    refuse(socket, 404, 'no such endpoint');
    return false;
  }
  const problem = tokenProblem(options.secret, /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1]);
  if (problem) {
    options.logger.warn('private API connection refused', { reason: problem });
    refuse(socket, 401, `unauthorized: ${problem}`);
    return false;
  }
  return true;
}

function tokenProblem(secret: Buffer, token: string | undefined): string | undefined {
  try {
    verifyPrivateApiToken(secret, token ?? '');
    return undefined;
  } catch (err) {
    if (err instanceof PrivateApiTokenError) return err.message;
    throw err;
  }
}

function refuse(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\nConnection: close\r\n\r\n${message}`,
  );
}

/** One pooled connection: claims one after another, each followed by its tunnel's frames. */
function serveConnection(ws: WebSocket, options: PrivateApiServerOptions): void {
  let active: ActiveTunnel | undefined;
  let claiming = false;
  ws.on('message', (data, isBinary) => {
    let decoded: ReturnType<typeof decodeMessage<ConnectResponse>>;
    try {
      decoded = decodeMessage<ConnectResponse>(data, isBinary);
    } catch {
      return ws.close(4400, 'malformed message');
    }
    if ('frame' in decoded) return active?.toAgent(decoded.frame);
    const control = decoded.control;
    if (control.kas === 'end') return active?.routingSideEnded();
    if (control.kas !== 'claim' || active || claiming) return ws.close(4400, `unexpected ${control.kas}`);
    claiming = true;
    answerClaim(ws, control, options)
      .then((tunnel) => {
        if (tunnel) active = new ActiveTunnel(ws, tunnel, () => (active = undefined));
      })
      .catch((err: unknown) => {
        options.logger.error('private API claim failed', { err });
        ws.close(1011, 'internal error');
      })
      .finally(() => (claiming = false));
  });
  ws.on('close', () => active?.abandon());
  ws.on('error', () => active?.abandon());
}

async function answerClaim(
  ws: WebSocket,
  claim: Extract<Control, { kas: 'claim' }>,
  options: PrivateApiServerOptions,
): Promise<Tunnel | undefined> {
  const problem = tokenProblem(options.secret, claim.token);
  if (problem) {
    options.logger.warn('private API claim refused', { reason: problem });
    ws.close(4401, `unauthorized: ${problem}`);
    return undefined;
  }
  const tunnel = /^\d+$/.test(claim.agentId) ? await options.claimLocalTunnel(claim.agentId) : undefined;
  if (ws.readyState !== ws.OPEN) {
    tunnel?.done();
    return undefined;
  }
  if (!tunnel) {
    sendControl(ws, { kas: 'none', reason: `no idle tunnel to agent ${claim.agentId} here` });
    return undefined;
  }
  sendControl(ws, { kas: 'ready', descriptor: tunnel.descriptor });
  return tunnel;
}

/**
 * A tunnel lent to the routing replica: frames from it go to agentk, agentk's frames go back.
 * Over when both sides ended; then the connection waits for the next claim.
 */
class ActiveTunnel {
  private routingEnded = false;
  private agentEnded = false;
  private finished = false;
  private readonly onData = (frame: ConnectRequest) => {
    sendFrame(this.ws, frame, () => {
      if (this.tunnel.stream.isPaused() && this.ws.bufferedAmount < HIGH_WATER_BYTES) this.tunnel.stream.resume();
    });
    if (this.ws.bufferedAmount >= HIGH_WATER_BYTES) this.tunnel.stream.pause();
  };
  private readonly onEnd = () => this.agentSideEnded({ kas: 'end' });
  private readonly onError = () => this.agentSideEnded({ kas: 'error', reason: 'the tunnel to the agent broke' });
  // Closed without a clean end: for the routing replica that is a clean end only if it already finished.
  private readonly onClose = () =>
    this.agentSideEnded(this.routingEnded ? { kas: 'end' } : { kas: 'error', reason: 'the tunnel to the agent closed' });

  constructor(
    private readonly ws: WebSocket,
    private readonly tunnel: Tunnel,
    private readonly onFinished: () => void,
  ) {
    const { stream } = tunnel;
    stream.on('data', this.onData);
    stream.once('end', this.onEnd);
    stream.once('error', this.onError);
    stream.once('close', this.onClose);
  }

  toAgent(frame: ConnectResponse): void {
    const { stream } = this.tunnel;
    if (this.routingEnded || !stream.writable) return;
    if (!stream.write(frame)) {
      this.ws.pause();
      stream.once('drain', () => this.ws.resume());
    }
  }

  routingSideEnded(): void {
    this.routingEnded = true;
    this.tunnel.done();
    this.finishIfBothEnded();
  }

  /** The connection went away mid-request. */
  abandon(): void {
    this.detach();
    this.tunnel.done();
  }

  private agentSideEnded(control: Control): void {
    if (this.agentEnded) return;
    this.agentEnded = true;
    if (this.ws.readyState === this.ws.OPEN) sendControl(this.ws, control);
    if (control.kas === 'error') this.tunnel.done();
    this.finishIfBothEnded();
  }

  private finishIfBothEnded(): void {
    if (!this.routingEnded || !this.agentEnded || this.finished) return;
    this.finished = true;
    this.detach();
    this.ws.resume();
    this.onFinished();
  }

  private detach(): void {
    const { stream } = this.tunnel;
    stream.off('data', this.onData);
    stream.off('end', this.onEnd);
    stream.off('error', this.onError);
    stream.off('close', this.onClose);
  }
}
