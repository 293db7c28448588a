// agentk → kas: the connection the tunnel streams and the configuration stream run on. agentk
// only ever dials out.
//   grpc://host:port   plain HTTP/2
//   grpcs://host:port  HTTP/2 over TLS (custom CA, server-name override)
//   ws:// and wss://   gRPC inside a WebSocket, for load balancers that pass only HTTP/1.1.
// Every call (a tunnel stream per proxied request, the long-lived configuration stream) runs on
// agentk's own node:http2 client (grpc_client.ts), on one HTTP/2 connection at a time.
// For ws/wss it dials a loopback bridge: 127.0.0.1:<ephemeral>, where each TCP connection becomes
// one WebSocket to kas. HTTP/2 thus always runs on a native socket (Node 20's HTTP/2 on a JS
// stream has crashed processes when connections were torn down abruptly).
// HTTPS_PROXY/HTTP_PROXY/NO_PROXY: proxy-from-env decides; grpc(s) connections go through an
// HTTP CONNECT, WebSockets through https-proxy-agent.
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { getProxyForUrl } from 'proxy-from-env';
import WebSocket from 'ws';
import type { Logger } from '../../../internal/log';
import {
  CONNECT_METHOD_PATH,
  EMPTY_TRAILER_REQUEST_BYTES,
  deserializeConnectResponse,
  encodeHeaderRequest,
  serializeConnectRequest,
  type AgentDescriptor,
  type ConnectRequest,
  type ConnectResponse,
} from '../protocol';
import { GRPC_MESSAGE_PREFIX_BYTES, frameBytesMessage, frameMessage, writeMessagePrefix } from '../grpc_wire';
import { joinWebSocketAndSocket } from '../ws_bridge';
import { NativeGrpcChannel, type CallCodec, type ClientCall } from './grpc_client';
import { AgentkReferenceCodec } from '../reference/agentk_codec';
import { REFERENCE_CONNECT_PATH } from '../reference/wire';

export interface KasDialOptions {
  /** grpc://, grpcs://, ws:// or wss:// URL of kas's agent listener. */
  kasAddress: string;
  token: string;
  /** PEM of the CA(s) that sign kas's certificate; system roots when absent. */
  caPem?: string;
  /** Verify kas's certificate for this name instead of the address's host. */
  tlsServerName?: string;
  keepaliveTimeMs?: number;
  /** Which agent protocol the calls speak: ours (default) or the reference's (its .proto services and messages). */
  protocol?: AgentProtocol;
  logger: Logger;
}

/** workbench: our Connect and GetConfiguration; reference: the GitLab agent's (reference/wire.ts), as its agentk speaks them. */
export type AgentProtocol = 'workbench' | 'reference';

/** One Connect stream as agentk sees it (a grpc-js ClientDuplexStream look-alike, see grpc_client.ts). */
export type TunnelClientStream = ClientCall<ConnectRequest, ConnectResponse>;

export interface KasConnection {
  /** Opens one Connect stream carrying the agent token. */
  openTunnelStream(): TunnelClientStream;
  /** Opens a call of another agent RPC (e.g. the configuration stream) carrying the agent token. */
  openCall<Req, Res>(path: string, codec: CallCodec<Req, Res>): ClientCall<Req, Res>;
  /** The protocol openTunnelStream speaks, and the configuration stream should. */
  readonly protocol: AgentProtocol;
  close(): Promise<void>;
}

export class KasAddressError extends Error {
  override name = 'KasAddressError';
}

/** Message frames of this size or more (response bodies) are framed without copying their data. */
const ZERO_COPY_MIN_BYTES = 1024;
const CONNECT_REQUEST_MESSAGE_FIELD = 3; // ConnectRequest.message

/**
 * The framed descriptor message per descriptor object: the pool sends the same descriptor on
 * every stream it opens (one per proxied request), so it is encoded once. Descriptors are not
 * changed after their first use.
 */
const framedDescriptors = new WeakMap<AgentDescriptor, Buffer[]>();

/** Every response ends with the same trailer frame. */
const EMPTY_TRAILER_FRAME = [frameMessage(EMPTY_TRAILER_REQUEST_BYTES)];

function isEmpty(map: object | null | undefined): boolean {
  if (!map) return true;
  for (const _ in map) return false;
  return true;
}

const CONNECT_CODEC: CallCodec<ConnectRequest, ConnectResponse> = {
  serialize: serializeConnectRequest,
  deserialize: deserializeConnectResponse,
  frameParts: (request) => {
    const data = request.message?.data;
    if (Buffer.isBuffer(data) && data.length >= ZERO_COPY_MIN_BYTES) return frameBytesMessage(CONNECT_REQUEST_MESSAGE_FIELD, data);
    if (request.header) {
      const encoded = encodeHeaderRequest(request.header, GRPC_MESSAGE_PREFIX_BYTES);
      return encoded ? [writeMessagePrefix(encoded)] : undefined;
    }
    if (request.trailer) return isEmpty(request.trailer.meta) ? EMPTY_TRAILER_FRAME : undefined;
    const descriptor = request.descriptor;
    if (!descriptor) return undefined;
    let framed = framedDescriptors.get(descriptor);
    if (!framed) {
      framed = [frameMessage(serializeConnectRequest({ descriptor }))];
      framedDescriptors.set(descriptor, framed);
    }
    return framed;
  },
};

const KEEPALIVE_TIMEOUT_MS = 20_000;
const CONNECT_TIMEOUT_MS = 20_000;
/** Request bodies and exec stdin flow kas → agentk: a wide window, as on kas's side. */
const FLOW_CONTROL_WINDOW = 8 * 1024 * 1024;

export async function dialKas(options: KasDialOptions): Promise<KasConnection> {
  const url = parseKasAddress(options.kasAddress);
  const keepaliveTimeMs = options.keepaliveTimeMs ?? 55_000;
  const isWebSocket = url.protocol === 'ws:' || url.protocol === 'wss:';
  const bridge = isWebSocket ? await startWebSocketBridge(url, options, await proxyAgentFor(url, options.caPem)) : undefined;
  const channel = new NativeGrpcChannel({
    authority: bridge ? url.host : (options.tlsServerName ?? url.host),
    scheme: url.protocol === 'grpcs:' ? 'https' : 'http',
    connect: bridge ? () => connectTcp('127.0.0.1', bridge.port) : () => dialHttp2Socket(url, options),
    keepaliveTimeMs,
    keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS,
    flowControlWindow: FLOW_CONTROL_WINDOW,
    logger: options.logger,
  });
  const authorization = { authorization: `Bearer ${options.token}` };
  const protocol = options.protocol ?? 'workbench';
  return {
    openTunnelStream:
      protocol === 'reference'
        ? () => channel.openCall(REFERENCE_CONNECT_PATH, authorization, new AgentkReferenceCodec())
        : () => channel.openCall(CONNECT_METHOD_PATH, authorization, CONNECT_CODEC),
    protocol,
    openCall: (path, codec) => channel.openCall(path, authorization, codec),
    close: async () => {
      channel.close();
      await bridge?.close();
    },
  };
}

/** A socket to kas for HTTP/2: direct or through an HTTP CONNECT proxy, then TLS (ALPN h2) for grpcs. */
async function dialHttp2Socket(url: URL, options: KasDialOptions): Promise<net.Socket> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port);
  const proxy = getProxyForUrl(url.href.replace(/^grpc/, 'http'));
  const tunnelled = proxy ? await connectThroughProxy(proxy, url.host, options.caPem) : undefined;
  if (url.protocol !== 'grpcs:') return tunnelled ?? connectTcp(host, port);
  return startTls({
    socket: tunnelled,
    host,
    port,
    ca: options.caPem,
    servername: options.tlsServerName ?? (net.isIP(host) ? undefined : host),
    ALPNProtocols: ['h2'],
  });
}

function connectTcp(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true });
    settleOnConnect(socket, 'connect', resolve, reject);
  });
}

function startTls(connectOptions: tls.ConnectionOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(connectOptions);
    settleOnConnect(
      socket,
      'secureConnect',
      () => {
        if (socket.alpnProtocol === 'h2') resolve(socket);
        else {
          socket.destroy();
          reject(new Error('kas did not negotiate HTTP/2 (ALPN h2)'));
        }
      },
      reject,
    );
  });
}

function settleOnConnect(socket: net.Socket, event: string, resolve: (socket: net.Socket) => void, reject: (err: Error) => void): void {
  socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`no connection to kas within ${CONNECT_TIMEOUT_MS} ms`)));
  socket.once('error', reject);
  socket.once(event, () => {
    socket.setTimeout(0);
    socket.off('error', reject);
    resolve(socket);
  });
}

/** An HTTP CONNECT tunnel to target (host:port) through the proxy. */
function connectThroughProxy(proxyUrl: string, target: string, caPem: string | undefined): Promise<net.Socket> {
  const proxy = new URL(proxyUrl);
  const headers: Record<string, string> = { host: target };
  if (proxy.username)
    headers['proxy-authorization'] =
      `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`;
  const requestModule = proxy.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = requestModule.request({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port || undefined,
      method: 'CONNECT',
      path: target,
      headers,
      agent: false,
      ca: caPem,
      timeout: CONNECT_TIMEOUT_MS,
    });
    req.once('connect', (res: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`the proxy answered ${res.statusCode ?? '?'} to CONNECT ${target}`));
        return;
      }
      socket.setNoDelay(true);
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer from the proxy within ${CONNECT_TIMEOUT_MS} ms`)));
    req.once('error', reject);
    req.end();
  });
}

export function parseKasAddress(address: string): URL {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new KasAddressError(`invalid kas address "${address}": expected grpc://, grpcs://, ws:// or wss:// URL`);
  }
  if (!['grpc:', 'grpcs:', 'ws:', 'wss:'].includes(url.protocol)) {
    throw new KasAddressError(`unsupported kas address scheme "${url.protocol}" in "${address}": use grpc://, grpcs://, ws:// or wss://`);
  }
  if (!url.port && (url.protocol === 'grpc:' || url.protocol === 'grpcs:')) {
    throw new KasAddressError(`kas address "${address}" needs a port`);
  }
  return url;
}

interface WebSocketBridge {
  port: number;
  close(): Promise<void>;
}

/** An agent that tunnels through HTTPS_PROXY/HTTP_PROXY when they apply to the URL (NO_PROXY honoured). */
async function proxyAgentFor(url: URL, caPem: string | undefined): Promise<http.Agent | undefined> {
  // proxy-from-env reads ws_proxy/wss_proxy for ws URLs; agentk honours HTTP(S)_PROXY as for http(s).
  const proxy = getProxyForUrl(url.href.replace(/^ws/, 'http'));
  if (!proxy) return undefined;
  // https-proxy-agent is an ES module: loaded only when a proxy is configured.
  const { HttpsProxyAgent } = await import('https-proxy-agent');
  return new HttpsProxyAgent(proxy, caPem ? { ca: caPem } : {});
}

async function startWebSocketBridge(url: URL, options: KasDialOptions, agent: http.Agent | undefined): Promise<WebSocketBridge> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((local) => {
    local.setNoDelay(true); // see agent_server.ts: no Nagle on tunnel sockets
    sockets.add(local);
    local.on('close', () => sockets.delete(local));
    bridgeToWebSocket(local, url, options, agent);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function bridgeToWebSocket(local: net.Socket, url: URL, options: KasDialOptions, agent: http.Agent | undefined): void {
  const tlsOptions: tls.ConnectionOptions = {
    ca: options.caPem,
    servername: options.tlsServerName ?? (net.isIP(url.hostname) ? undefined : url.hostname),
  };
  // Masks stay random (RFC 6455): the frames carry cluster responses, whose bytes users can
  // choose (a ConfigMap's data), so a predictable mask would let them shape what proxies see.
  const ws = new WebSocket(url.href, { perMessageDeflate: false, agent, ...tlsOptions } as WebSocket.ClientOptions);
  const onError = (err: Error) => options.logger.debug('websocket bridge closed', { err });
  // HTTP/2's first bytes wait in the local socket (not read yet) until the WebSocket is open.
  const failBeforeOpen = (err: Error) => {
    onError(err);
    local.destroy();
  };
  const closeBeforeOpen = () => ws.terminate();
  ws.once('error', failBeforeOpen);
  local.once('close', closeBeforeOpen);
  local.on('error', () => undefined); // reported by the bridge once open, or ends it before
  ws.once('open', () => {
    ws.off('error', failBeforeOpen);
    local.off('close', closeBeforeOpen);
    joinWebSocketAndSocket(ws, local, onError);
  });
}
