// The private API listener: other replicas ask this one for a tunnel to an agent connected here.
// GET /tunnel/<agent-id> with Upgrade: websocket and Authorization: Bearer <signed token>. If an
// idle tunnel is free here the upgrade completes, a {"ready": descriptor} message follows, and
// the WebSocket then carries the tunnel's frames both ways (with backpressure) until either end
// closes. No free tunnel → 404 before the upgrade, so the caller tries the next replica at once.
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../internal/log';
import { listen } from '../observability/server';
import type { ConnectRequest, ConnectResponse } from '../reverse_tunnel/protocol';
import type { Tunnel } from '../reverse_tunnel/server/registry';
import { decodeFrame, sendFrame } from './frames';
import { PrivateApiTokenError, verifyPrivateApiToken } from './token';

export interface PrivateApiServerOptions {
  address: string;
  secret: Buffer;
  /** An idle tunnel of this replica's own, or undefined (never waits, never routes further). */
  claimLocalTunnel(agentId: string): Promise<Tunnel | undefined>;
  logger: Logger;
}

export interface PrivateApiServer {
  address: string;
  stop(): Promise<void>;
}

/** Bytes queued on a WebSocket before the tunnel stream is paused. */
const HIGH_WATER_BYTES = 1024 * 1024;

export async function startPrivateApiServer(options: PrivateApiServerOptions): Promise<PrivateApiServer> {
  const server = http.createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('kas private API: only tunnel upgrades are served here\n');
  });
  server.requestTimeout = 0;
  const webSockets = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    handleUpgrade(req, socket, head, webSockets, options).catch((err: unknown) => {
      options.logger.error('private API upgrade failed', { err });
      refuse(socket, 500, 'internal error');
    });
  });
  const address = await listen(server, options.address);
  options.logger.info('private API listener started', { address });
  return {
    address,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of webSockets.clients) client.terminate();
        webSockets.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, webSockets: WebSocketServer, options: PrivateApiServerOptions): Promise<void> {
  const agentId = /^\/tunnel\/(\d+)$/.exec(req.url ?? '')?.[1];
  if (!agentId) return refuse(socket, 404, 'no such endpoint');
  const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  try {
    verifyPrivateApiToken(options.secret, token ?? '');
  } catch (err) {
    if (!(err instanceof PrivateApiTokenError)) throw err;
    options.logger.warn('private API request refused', { reason: err.message });
    return refuse(socket, 401, `unauthorized: ${err.message}`);
  }
  const tunnel = await options.claimLocalTunnel(agentId);
  if (!tunnel) return refuse(socket, 404, `no idle tunnel to agent ${agentId} here`);
  if (socket.destroyed) return tunnel.done();
  webSockets.handleUpgrade(req, socket, head, (ws) => bridge(ws, tunnel));
}

function refuse(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\nConnection: close\r\n\r\n${message}`);
}

/** Frames from the routing replica go into the tunnel; frames from agentk go back. */
function bridge(ws: WebSocket, tunnel: Tunnel): void {
  const { stream } = tunnel;
  ws.send(JSON.stringify({ ready: tunnel.descriptor }));
  ws.on('message', (data, isBinary) => {
    if (!stream.writable) return;
    if (!stream.write(decodeFrame<ConnectResponse>(data, isBinary))) {
      ws.pause();
      stream.once('drain', () => ws.resume());
    }
  });
  stream.on('data', (frame: ConnectRequest) => {
    sendFrame(ws, frame, () => {
      if (stream.isPaused() && ws.bufferedAmount < HIGH_WATER_BYTES) stream.resume();
    });
    if (ws.bufferedAmount >= HIGH_WATER_BYTES) stream.pause();
  });
  stream.on('end', () => ws.close(1000, 'tunnel ended'));
  stream.on('error', () => ws.close(4502, 'tunnel broke'));
  ws.on('close', () => tunnel.done());
  ws.on('error', () => tunnel.done());
}
