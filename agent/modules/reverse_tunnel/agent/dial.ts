// agentk → kas: the gRPC channel the tunnel streams run on. agentk only ever dials out.
//   grpc://host:port   plain HTTP/2
//   grpcs://host:port  HTTP/2 over TLS (custom CA, server-name override)
//   ws:// and wss://   gRPC inside a WebSocket, for load balancers that pass only HTTP/1.1.
// grpc-js clients cannot run on a custom transport, so for ws/wss agentk runs a loopback bridge:
// grpc-js dials 127.0.0.1:<ephemeral>, and each bridged TCP connection becomes one WebSocket to
// kas. The cost is one extra loopback hop per byte (measured in bench/tunnel.bench.ts); in
// exchange the channel keeps grpc-js's reconnects, keepalive and flow control unchanged.
// HTTPS_PROXY/NO_PROXY: grpc-js honours them itself for grpc(s)://; the WebSocket dial uses
// proxy-from-env + https-proxy-agent.
import * as grpc from '@grpc/grpc-js';
import * as net from 'node:net';
import type * as http from 'node:http';
import type * as tls from 'node:tls';
import { getProxyForUrl } from 'proxy-from-env';
import WebSocket, { createWebSocketStream } from 'ws';
import type { Logger } from '../../../internal/log';
import {
  CONNECT_METHOD_PATH,
  deserializeConnectResponse,
  serializeConnectRequest,
  type ConnectRequest,
  type ConnectResponse,
} from '../protocol';

export interface KasDialOptions {
  /** grpc://, grpcs://, ws:// or wss:// URL of kas's agent listener. */
  kasAddress: string;
  token: string;
  /** PEM of the CA(s) that sign kas's certificate; system roots when absent. */
  caPem?: string;
  /** Verify kas's certificate for this name instead of the address's host. */
  tlsServerName?: string;
  keepaliveTimeMs?: number;
  logger: Logger;
}

export type TunnelClientStream = grpc.ClientDuplexStream<ConnectRequest, ConnectResponse>;

export interface KasConnection {
  /** The channel to kas (for other agent RPCs, e.g. the configuration stream); closed by close(). */
  client: grpc.Client;
  /** Opens one Connect stream carrying the agent token. */
  openTunnelStream(): TunnelClientStream;
  close(): Promise<void>;
}

export class KasAddressError extends Error {
  override name = 'KasAddressError';
}

export async function dialKas(options: KasDialOptions): Promise<KasConnection> {
  const url = parseKasAddress(options.kasAddress);
  const channelOptions: grpc.ChannelOptions = {
    'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? 55_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.keepalive_permit_without_calls': 1,
    // Tunnel streams are long-lived and bidirectional: no message size surprises.
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
    // Request bodies and exec stdin flow kas → agentk: a wide window as on kas's side.
    'grpc-node.flow_control_window': 8 * 1024 * 1024,
  };
  let bridge: WebSocketBridge | undefined;
  let target: string;
  let credentials: grpc.ChannelCredentials;
  if (url.protocol === 'ws:' || url.protocol === 'wss:') {
    bridge = await startWebSocketBridge(url, options, await proxyAgentFor(url, options.caPem));
    target = `127.0.0.1:${bridge.port}`;
    credentials = grpc.credentials.createInsecure();
    channelOptions['grpc.default_authority'] = url.host;
    channelOptions['grpc.enable_http_proxy'] = 0; // the bridge is local; the WebSocket dial handles proxies
  } else {
    target = url.host;
    credentials = url.protocol === 'grpcs:' ? grpc.credentials.createSsl(options.caPem ? Buffer.from(options.caPem) : null) : grpc.credentials.createInsecure();
    if (options.tlsServerName) {
      channelOptions['grpc.ssl_target_name_override'] = options.tlsServerName;
      channelOptions['grpc.default_authority'] = options.tlsServerName;
    }
  }
  const client = new grpc.Client(target, credentials, channelOptions);
  return {
    client,
    openTunnelStream: () => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${options.token}`);
      return withoutStackCapture(() => client.makeBidiStreamRequest(CONNECT_METHOD_PATH, serializeConnectRequest, deserializeConnectResponse, metadata));
    },
    close: async () => {
      client.close();
      await bridge?.close();
    },
  };
}

/**
 * grpc-js records the caller's stack (new Error()) on every call, for its error messages. A
 * tunnel stream is opened by the pool, whose stack tells nothing, and agentk opens one per
 * request: the capture showed up in profiles (more so with source maps on), so skip it.
 */
function withoutStackCapture<T>(open: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return open();
  } finally {
    Error.stackTraceLimit = limit;
  }
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
  const tlsOptions: tls.ConnectionOptions = { ca: options.caPem, servername: options.tlsServerName ?? (net.isIP(url.hostname) ? undefined : url.hostname) };
  // Masks stay random (RFC 6455): the frames carry cluster responses, whose bytes users can
  // choose (a ConfigMap's data), so a predictable mask would let them shape what proxies see.
  const ws = new WebSocket(url.href, { perMessageDeflate: false, agent, ...tlsOptions } as WebSocket.ClientOptions);
  const remote = createWebSocketStream(ws);
  const closeBoth = (err?: Error) => {
    if (err) options.logger.debug('websocket bridge closed', { err });
    local.destroy();
    remote.destroy();
  };
  remote.on('error', closeBoth);
  local.on('error', closeBoth);
  remote.on('close', () => local.destroy());
  local.on('close', () => remote.destroy());
  local.pipe(remote);
  remote.pipe(local);
}
