// kas's agent listener: one port that speaks gRPC (HTTP/2, plain or TLS) and gRPC inside a
// WebSocket (an HTTP/1.1 upgrade on any path, e.g. /agentk-ws) for load balancers that pass only
// HTTP/1.1. Every connection, however it arrived, is handed to one grpc-js server through its
// connection injector, so keepalive, max connection age and the registered services apply alike.
import * as grpc from '@grpc/grpc-js';
import * as http from 'node:http';
import type * as http2 from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Logger } from '../../../internal/log';

export interface AgentServerOptions {
  /** host:port; port 0 picks a free one. */
  address: string;
  tls?: { certPem: string; keyPem: string };
  /** Each registers its services on the grpc server (the tunnel, B2's configuration stream...). */
  services: Array<(server: grpc.Server) => void>;
  /** Connections older than this are asked to go away (GOAWAY); default 2 h. */
  maxConnectionAgeMs?: number;
  /** How long requests in flight on a recycled connection may still run; default 10 min. */
  maxConnectionAgeGraceMs?: number;
  /** Server→agent keepalive ping interval; default 55 s. */
  keepaliveTimeMs?: number;
  logger: Logger;
}

export interface AgentServer {
  /** The actual host:port it listens on. */
  address: string;
  /** Agent connections accepted since start, and open now (TCP or TLS, before gRPC/WebSocket). */
  connectionStats(): { accepted: number; open: number };
  stop(): Promise<void>;
}

const HTTP2_PREFACE_START = 'PRI ';
const DEFAULT_MAX_CONNECTION_AGE_MS = 2 * 3600_000;
const DEFAULT_GRACE_MS = 10 * 60_000;
const DEFAULT_KEEPALIVE_MS = 55_000;

export async function startAgentServer(options: AgentServerOptions): Promise<AgentServer> {
  const grpcServer = createGrpcServer(options);
  const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  widenFlowControlWindows(grpcServer);
  const webSocketEntry = createWebSocketEntry((stream) => injector.injectConnection(stream), options.logger);
  const route = (socket: Duplex, isHttp2: boolean) => {
    if (isHttp2) injector.injectConnection(socket);
    else webSocketEntry.emit('connection', socket);
  };
  const listener = options.tls ? createTlsListener(options.tls, route) : createPlainListener(route);
  const { sockets, accepted } = trackSockets(listener);
  const address = await listen(listener, options.address);
  options.logger.info('agent listener started', { address, tls: Boolean(options.tls) });
  return {
    address,
    connectionStats: () => ({ accepted: accepted(), open: sockets.size }),
    stop: async () => {
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      // forceShutdown also closes the injector's HTTP/2 server and sessions. Calling
      // injector.destroy() first closed the same sessions twice, which (with an agent
      // disconnecting at that moment) corrupted the native heap on Node 20.
      grpcServer.forceShutdown();
      for (const socket of sockets) socket.destroy();
      webSocketEntry.close();
      await closed;
    },
  };
}

function createGrpcServer(options: AgentServerOptions): grpc.Server {
  const server = new grpc.Server({
    'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_MS,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.max_connection_age_ms': options.maxConnectionAgeMs ?? DEFAULT_MAX_CONNECTION_AGE_MS,
    'grpc.max_connection_age_grace_ms': options.maxConnectionAgeGraceMs ?? DEFAULT_GRACE_MS,
    // Agents send their own keepalive pings between requests; allow them.
    'grpc.keepalive_permit_without_calls': 1,
  });
  for (const register of options.services) register(server);
  return server;
}

/** HTTP/2 receive window for responses agentk streams to kas (per stream and per connection). */
export const TUNNEL_FLOW_CONTROL_WINDOW = 8 * 1024 * 1024;

interface GrpcServerInternals {
  commonServerOptions?: http2.ServerOptions;
  http2Servers?: Map<http2.Http2Server, unknown>;
}

/**
 * Node's HTTP/2 default window is 64 KiB per stream and per connection: with many responses in
 * flight on one agent connection, agentk stalls waiting for WINDOW_UPDATEs and throughput drops
 * to a fraction of the loopback's. grpc-js has no server option for it, so this reaches into the
 * server it created for the injector; if a grpc-js release renames those fields, the defaults
 * stay (slower, still correct).
 */
function widenFlowControlWindows(server: grpc.Server): void {
  const internals = server as unknown as GrpcServerInternals;
  for (const http2Server of internals.http2Servers?.keys() ?? []) {
    http2Server.on('session', (session: http2.ServerHttp2Session) => {
      try {
        session.settings({ initialWindowSize: TUNNEL_FLOW_CONTROL_WINDOW });
        session.setLocalWindowSize(TUNNEL_FLOW_CONTROL_WINDOW);
      } catch {
        // session already closing: nothing to tune
      }
    });
  }
}

/** An HTTP/1.1 server that is never bound: it only upgrades sockets handed to it into WebSockets. */
function createWebSocketEntry(inject: (stream: Duplex) => void, logger: Logger): http.Server {
  const webSockets = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
    res.end('This is the kas agent endpoint: use gRPC (HTTP/2) or a WebSocket upgrade.\n');
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    webSockets.handleUpgrade(req, socket, head, (ws) => {
      const stream = createWebSocketStream(ws);
      stream.on('error', (err) => logger.debug('agent websocket closed with error', { err }));
      inject(stream);
    });
  });
  server.on('close', () => webSockets.close());
  return server;
}

function createTlsListener(material: { certPem: string; keyPem: string }, route: (socket: Duplex, isHttp2: boolean) => void): tls.Server {
  return tls.createServer({ cert: material.certPem, key: material.keyPem, ALPNProtocols: ['h2', 'http/1.1'] }, (socket) => {
    route(socket, socket.alpnProtocol === 'h2');
  });
}

/** Plain TCP: tells HTTP/2 (the connection preface starts with "PRI ") from HTTP/1.1 by its first bytes. */
function createPlainListener(route: (socket: Duplex, isHttp2: boolean) => void): net.Server {
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
