// pods/portforward as the API server and kubelet speak it, to the HTTP the simulation serves on
// declared container ports (container_http.ts). Three forms:
// - SPDY/3.1 tunneled over WebSocket (subprotocol SPDY/3.1+portforward.k8s.io): kubectl 1.31+.
// - SPDY/3.1 as the connection upgrade itself: older kubectl, and kubectl's fallback.
// - The WebSocket channel protocol (v4.channel.k8s.io, ?ports=…): per port i, channel 2i carries
//   data and 2i+1 errors, each opened by the port number (2 bytes, little endian); the
//   extension and @kubernetes/client-node use it. One WebSocket is one connection per port.
// In the SPDY forms the client opens an error stream and a data stream per connection, tied by
// their requestID header; the data stream is one TCP connection to the pod's port.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { KubeObject } from '../types';
import { connectToPodPort, PortNotServedError } from './container_http';
import { SpdyServerSession, type SpdyStream } from './spdy_server';

export const SPDY_TUNNEL_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
const CHANNEL_PROTOCOLS = ['v4.channel.k8s.io', 'channel.k8s.io'];
const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';
const HIGH_WATER_BYTES = 1 << 20;
/**
 * ws refuses subprotocols that are not RFC 6455 tokens, and '/' is not a token character; the
 * offered list is rewritten with this alias, and the real name is what the handshake answers.
 */
const SPDY_TUNNEL_ALIAS = 'spdy-3.1-tunnel.portforward.k8s.io';

export interface PortForwardHandler {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, pod: KubeObject, query: URLSearchParams): void;
  closeAll(): void;
}

class PortForwardRequestError extends Error {
  override name = 'PortForwardRequestError';
}

function reject(socket: Duplex, message: string): void {
  const body = JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: 'BadRequest',
    code: 400,
  });
  if (socket.writable)
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  else socket.destroy();
}

function checkPodRunning(pod: KubeObject): void {
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  if (phase !== 'Running')
    throw new PortForwardRequestError(`unable to do port forwarding: pod ${pod.metadata.name ?? ''} is ${phase ?? 'Pending'}, not Running`);
}

function parsePorts(query: URLSearchParams): number[] {
  const ports = query
    .getAll('ports')
    .flatMap((value) => value.split(','))
    .filter((value) => value !== '')
    .map(Number);
  if (ports.length === 0) throw new PortForwardRequestError('query parameter "ports" is required');
  for (const port of ports)
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new PortForwardRequestError(`invalid port: ${port}`);
  return ports;
}

function toBuffer(data: RawData): Buffer {
  return Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

export function createPortForwardHandler(): PortForwardHandler {
  const open = new Set<{ close(): void }>();
  const track = (closable: { close(): void }, emitter: { once(event: 'close', listener: () => void): unknown }) => {
    open.add(closable);
    emitter.once('close', () => open.delete(closable));
  };
  const websockets = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (offered) =>
      offered.has(SPDY_TUNNEL_ALIAS) ? SPDY_TUNNEL_PROTOCOL : (CHANNEL_PROTOCOLS.find((p) => offered.has(p)) ?? false),
  });
  return {
    handleUpgrade(req, socket, head, pod, query) {
      try {
        checkPodRunning(pod);
        const upgrade = (req.headers.upgrade ?? '').toLowerCase();
        if (upgrade === 'spdy/3.1') return upgradeToSpdy(socket, head, pod, track);
        if (upgrade !== 'websocket') throw new PortForwardRequestError(`unsupported upgrade "${req.headers.upgrade ?? ''}"`);
        const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
        const tunneled = offered.includes(SPDY_TUNNEL_PROTOCOL);
        const ports = tunneled ? [] : parsePorts(query);
        if (tunneled)
          req.headers['sec-websocket-protocol'] = offered.map((p) => (p === SPDY_TUNNEL_PROTOCOL ? SPDY_TUNNEL_ALIAS : p)).join(', ');
        websockets.handleUpgrade(req, socket, head, (ws) => {
          track({ close: () => ws.terminate() }, ws);
          if (ws.protocol === SPDY_TUNNEL_PROTOCOL) serveSpdy(createWebSocketStream(ws), pod, track);
          else serveChannels(ws, pod, ports);
        });
      } catch (err) {
        if (!(err instanceof PortForwardRequestError)) throw err;
        reject(socket, err.message);
      }
    },
    closeAll() {
      for (const closable of [...open]) closable.close();
      open.clear();
    },
  };
}

type Track = (closable: { close(): void }, emitter: { once(event: 'close', listener: () => void): unknown }) => void;

function upgradeToSpdy(socket: Duplex, head: Buffer, pod: KubeObject, track: Track): void {
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${PORT_FORWARD_PROTOCOL}\r\n\r\n`,
  );
  if (head.length > 0) socket.unshift(head);
  serveSpdy(socket, pod, track);
}

/** One SPDY connection: each data stream is a connection to the pod port its headers name. */
function serveSpdy(transport: Duplex, pod: KubeObject, track: Track): void {
  const session = new SpdyServerSession(transport);
  const errorStreams = new Map<string, SpdyStream>();
  track({ close: () => session.close() }, session);
  session.on('stream', (stream) => {
    stream.on('error', () => stream.destroy());
    session.reply(stream);
    const requestId = stream.headers.requestid ?? '';
    if (stream.headers.streamtype === 'error') {
      errorStreams.set(requestId, stream);
      stream.once('close', () => errorStreams.delete(requestId));
      stream.resume();
      return;
    }
    if (stream.headers.streamtype !== 'data') return void stream.end();
    const port = Number(stream.headers.port);
    let target: Duplex;
    try {
      target = connectToPodPort(pod, port);
    } catch (err) {
      if (!(err instanceof PortNotServedError)) throw err;
      errorStreams.get(requestId)?.end(`error forwarding port ${port} to pod ${pod.metadata.name ?? ''}: ${err.message}`);
      stream.end();
      return;
    }
    pipeBothWays(stream, target, () => errorStreams.get(requestId)?.end());
  });
}

function pipeBothWays(a: Duplex, b: Duplex, onDone: () => void): void {
  a.pipe(b);
  b.pipe(a);
  let ended = 0;
  const done = () => {
    if (++ended === 2) onDone();
  };
  a.once('end', done);
  b.once('end', done);
  a.once('close', () => b.destroy());
  b.once('close', () => a.end());
}

/** The channel protocol: every port connected at once, each on its two channels. */
function serveChannels(ws: WebSocket, pod: KubeObject, ports: number[]): void {
  const targets: Array<Duplex | undefined> = ports.map((port, i) => {
    const prefix = Buffer.from([port & 0xff, port >> 8]);
    ws.send(Buffer.concat([Buffer.from([2 * i]), prefix]));
    ws.send(Buffer.concat([Buffer.from([2 * i + 1]), prefix]));
    try {
      return connectToPodPort(pod, port);
    } catch (err) {
      if (!(err instanceof PortNotServedError)) throw err;
      ws.send(
        Buffer.concat([
          Buffer.from([2 * i + 1]),
          Buffer.from(`error forwarding port ${port} to pod ${pod.metadata.name ?? ''}: ${err.message}`),
        ]),
      );
      return undefined;
    }
  });
  if (targets.every((t) => t === undefined)) return void ws.close(1000);
  targets.forEach((target, i) => {
    target?.on('data', (chunk: Buffer) => {
      // Back-pressure: past the high-water mark, stop reading the pod until that frame is written.
      const over = ws.bufferedAmount + chunk.length > HIGH_WATER_BYTES;
      ws.send(Buffer.concat([Buffer.from([2 * i]), chunk]), over ? () => target.resume() : undefined);
      if (over) target.pause();
    });
    target?.on('end', () => ws.close(1000));
    target?.on('error', () => ws.close(1011));
  });
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const bytes = toBuffer(data);
    if (!isBinary || bytes.length === 0 || bytes[0]! % 2 !== 0) return;
    const target = targets[bytes[0]! / 2];
    // Back-pressure: stop reading the WebSocket while the pod's side is full.
    if (target?.write(bytes.subarray(1)) === false) {
      ws.pause();
      target.once('drain', () => ws.resume());
    }
  });
  ws.on('close', () => {
    for (const target of targets) target?.destroy();
  });
}
