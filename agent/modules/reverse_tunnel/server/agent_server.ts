// kas's agent listener: one port that speaks gRPC (HTTP/2, plain or TLS) and gRPC inside a
// WebSocket (an HTTP/1.1 upgrade on any path, e.g. /agentk-ws) for load balancers that pass only
// HTTP/1.1. Every connection, however it arrived, is served by one NativeGrpcServer (node:http2),
// so keepalive, max connection age and the registered services apply alike.
// A WebSocket's bytes reach HTTP/2 through a loopback TCP socket, never as a JS Duplex: Node 20's
// HTTP/2 on a JS stream (JSStreamSocket) corrupted the heap when such connections were torn down
// abruptly. The loopback hop costs a copy per chunk, only for ws:// and wss:// agents.
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ConnectionGuard, DEFAULT_CONNECTION_GUARD, type ConnectionGuardSettings } from '../../../internal/connection_guard';
import type { Logger } from '../../../internal/log';
import { joinWebSocketAndSocket } from '../ws_bridge';
import { NativeGrpcServer, type ConnectionHooks, type GrpcServiceRegistrar } from './grpc_server';
import { agentConnectionsClosedUnauthenticated } from './metrics';

export interface AgentServerOptions {
  /** host:port; port 0 picks a free one. */
  address: string;
  tls?: { certPem: string; keyPem: string };
  /** Each registers its services (the tunnel, the configuration stream...). */
  services: Array<(server: GrpcServiceRegistrar) => void>;
  /** HTTP/1.1 upgrades by protocol (lower case), besides WebSocket: e.g. kas-tunnel-v2 (module http_tunnel); also a WebSocket offering that name as its subprotocol. */
  upgrades?: ReadonlyMap<string, AgentUpgradeHandler>;
  /** Connections older than this are asked to go away (GOAWAY); default 2 h. */
  maxConnectionAgeMs?: number;
  /** How long requests in flight on a recycled connection may still run; default 10 min. */
  maxConnectionAgeGraceMs?: number;
  /** A connection on which nothing arrived for this long is pinged; default 5 s. */
  keepaliveTimeMs?: number;
  /** Handshake and authentication deadlines and the cap on unauthenticated connections (agent/internal/connection_guard.ts). */
  guard?: Partial<ConnectionGuardSettings>;
  /** A ping unanswered for this long closes the connection (a frozen agentk); default 4 s. */
  keepaliveTimeoutMs?: number;
  logger: Logger;
}

/** Takes an HTTP/1.1 connection that asked to upgrade; owns the socket from then on. */
/** Takes over an agent connection's HTTP/1.1 upgrade; calls `authenticated` once the agent is admitted (the connection guard stops counting it). */
export type AgentUpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer, authenticated: () => void) => void;

export interface AgentServer {
  /** The actual host:port it listens on. */
  address: string;
  /** Agent connections accepted since start, and open now (TCP or TLS, before gRPC/WebSocket). */
  connectionStats(): { accepted: number; open: number; unauthenticated: number };
  stop(): Promise<void>;
}

const HTTP2_PREFACE_START = 'PRI ';
const DEFAULT_MAX_CONNECTION_AGE_MS = 2 * 3600_000;
const DEFAULT_GRACE_MS = 10 * 60_000;
// The reference pings every 55 s (20 s timeout) to keep middleboxes open; kas pings silent
// connections far sooner, because a frozen agentk (SIGSTOP, a stalled node) keeps its TCP
// connection up and requests routed to it would otherwise sit unanswered. One ping per silent
// connection every few seconds costs nothing measurable.
const DEFAULT_KEEPALIVE_MS = 5_000;
const DEFAULT_KEEPALIVE_TIMEOUT_MS = 4_000;

/** HTTP/2 receive window for responses agentk streams to kas (per stream and per connection). */
export const TUNNEL_FLOW_CONTROL_WINDOW = 8 * 1024 * 1024;

export async function startAgentServer(options: AgentServerOptions): Promise<AgentServer> {
  const grpcServer = createGrpcServer(options);
  const guard = new ConnectionGuard({ ...DEFAULT_CONNECTION_GUARD, ...options.guard }, (reason) => {
    agentConnectionsClosedUnauthenticated.inc({ reason });
    options.logger.debug('agent connection closed before it authenticated', { reason });
  });
  const hooksOf = (socket: net.Socket): ConnectionHooks => ({
    opened: (destroy) => guard.openedOn(socket, destroy),
    handshakeDone: () => guard.handshakeDone(socket),
    accepted: () => guard.authenticated(socket),
  });
  const bridge = await startLoopbackBridge((socket, hooks) => grpcServer.handleConnection(socket, hooks));
  const webSocketEntry = createWebSocketEntry(bridge, hooksOf, options.upgrades ?? new Map(), options.logger);
  const route = (socket: net.Socket, isHttp2: boolean) => {
    if (isHttp2) grpcServer.handleConnection(socket, hooksOf(socket));
    else webSocketEntry.emit('connection', socket);
  };
  const listener = options.tls ? createTlsListener(options.tls, guard.settings.handshakeTimeoutMs, route) : createPlainListener(route);
  // Raw TCP, before TLS: the cap and the deadlines count from accept.
  listener.on('connection', (socket: net.Socket) => guard.admit(socket));
  const { sockets, accepted } = trackSockets(listener);
  let address: string;
  try {
    address = await listen(listener, options.address);
  } catch (err) {
    await bridge.close();
    throw err;
  }
  options.logger.info('agent listener started', { address, tls: Boolean(options.tls) });
  return {
    address,
    connectionStats: () => ({ accepted: accepted(), open: sockets.size, unauthenticated: guard.stats().unauthenticated }),
    stop: async () => {
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      guard.close();
      grpcServer.close();
      for (const socket of sockets) socket.destroy();
      webSocketEntry.close();
      await bridge.close();
      await closed;
    },
  };
}

function createGrpcServer(options: AgentServerOptions): NativeGrpcServer {
  const server = new NativeGrpcServer({
    keepaliveTimeMs: options.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_MS,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
    maxConnectionAgeMs: options.maxConnectionAgeMs ?? DEFAULT_MAX_CONNECTION_AGE_MS,
    maxConnectionAgeGraceMs: options.maxConnectionAgeGraceMs ?? DEFAULT_GRACE_MS,
    flowControlWindow: TUNNEL_FLOW_CONTROL_WINDOW,
    logger: options.logger,
  });
  for (const register of options.services) register(server);
  return server;
}

interface LoopbackBridge {
  /** A native socket whose peer is served as an agent connection, reporting to `hooks` (the outer connection's guard). */
  connect(hooks: ConnectionHooks): net.Socket;
  close(): Promise<void>;
}

/** A listener on 127.0.0.1:<ephemeral> that only kas itself dials, to turn byte streams into native sockets. */
async function startLoopbackBridge(serve: (socket: net.Socket, hooks: ConnectionHooks) => void): Promise<LoopbackBridge> {
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  // The accepted end and the dialled end meet by the dialled end's local port, whichever is known first.
  const acceptedByPort = new Map<number, net.Socket>();
  const hooksByPort = new Map<number, ConnectionHooks>();
  const server = net.createServer((socket) => {
    track(socket);
    const port = socket.remotePort ?? 0;
    const hooks = hooksByPort.get(port);
    if (!hooks) return void acceptedByPort.set(port, socket);
    hooksByPort.delete(port);
    serve(socket, hooks);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    connect: (hooks) => {
      const socket = net.connect(port, '127.0.0.1');
      track(socket);
      socket.once('connect', () => {
        const localPort = socket.localPort ?? 0;
        const peer = acceptedByPort.get(localPort);
        if (!peer) return void hooksByPort.set(localPort, hooks);
        acceptedByPort.delete(localPort);
        serve(peer, hooks);
      });
      socket.once('close', () => hooksByPort.delete(socket.localPort ?? 0));
      return socket;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The handler for the upgrade's protocol, or for a WebSocket the one for its first subprotocol that has one; else the gRPC bridge takes it. */
function upgradeHandlerOf(req: http.IncomingMessage, upgrades: ReadonlyMap<string, AgentUpgradeHandler>): AgentUpgradeHandler | undefined {
  const protocol = (req.headers.upgrade ?? '').toLowerCase();
  if (protocol !== 'websocket') return upgrades.get(protocol);
  for (const offered of (req.headers['sec-websocket-protocol'] ?? '').split(',')) {
    const handler = upgrades.get(offered.trim().toLowerCase());
    if (handler) return handler;
  }
  return undefined;
}

/** An HTTP/1.1 server that is never bound: it only upgrades sockets handed to it into WebSockets. */
function createWebSocketEntry(
  bridge: LoopbackBridge,
  hooksOf: (socket: net.Socket) => ConnectionHooks,
  upgrades: ReadonlyMap<string, AgentUpgradeHandler>,
  logger: Logger,
): http.Server {
  // The gRPC bridge speaks no subprotocol: one offered (kas-tunnel-v2 to a kas without it) is not taken.
  const webSockets = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: () => false });
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
    res.end('This is the kas agent endpoint: use gRPC (HTTP/2) or a WebSocket upgrade.\n');
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const hooks = hooksOf(socket as net.Socket);
    const other = upgradeHandlerOf(req, upgrades);
    if (other) return other(req, socket, head, () => hooks.accepted());
    webSockets.handleUpgrade(req, socket, head, (ws) =>
      joinWebSocketAndSocket(ws, bridge.connect(hooks), (err) => logger.debug('agent websocket closed with error', { err })),
    );
  });
  server.on('close', () => webSockets.close());
  return server;
}

function createTlsListener(
  material: { certPem: string; keyPem: string },
  handshakeTimeoutMs: number,
  route: (socket: net.Socket, isHttp2: boolean) => void,
): tls.Server {
  const options = { cert: material.certPem, key: material.keyPem, ALPNProtocols: ['h2', 'http/1.1'], handshakeTimeout: handshakeTimeoutMs };
  return tls.createServer(options, (socket) => {
    route(socket, socket.alpnProtocol === 'h2');
  });
}

/** Plain TCP: tells HTTP/2 (the connection preface starts with "PRI ") from HTTP/1.1 by its first bytes. */
function createPlainListener(route: (socket: net.Socket, isHttp2: boolean) => void): net.Server {
  return net.createServer((socket) => {
    socket.once('readable', function sniff() {
      const head = socket.read() as Buffer | null;
      if (head === null) {
        socket.once('readable', sniff);
        return;
      }
      if (head.length < HTTP2_PREFACE_START.length && HTTP2_PREFACE_START.startsWith(head.toString('latin1'))) {
        // Too few bytes to decide: wait for more.
        socket.unshift(head);
        socket.once('readable', sniff);
        return;
      }
      socket.unshift(head);
      route(socket, head.subarray(0, HTTP2_PREFACE_START.length).toString('latin1') === HTTP2_PREFACE_START);
    });
  });
}

function trackSockets(listener: net.Server): { sockets: Set<net.Socket>; accepted: () => number } {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  listener.on(listener instanceof tls.Server ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    // Tunnel frames are small and latency-bound: Nagle + delayed ACK would add ~40 ms per exchange.
    socket.setNoDelay(true);
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  });
  return { sockets, accepted: () => accepted };
}

function listen(listener: net.Server, address: string): Promise<string> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(port, host, () => {
      listener.off('error', reject);
      const bound = listener.address() as net.AddressInfo;
      resolve(formatHostPort(host || bound.address, bound.port));
    });
  });
}

export function splitHostPort(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address.trim());
  if (!match) throw new Error(`invalid listen address "${address}": expected host:port, e.g. 127.0.0.1:8150`);
  return { host: match[1] ?? match[2] ?? '', port: Number(match[3]) };
}

function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
