// agentk: dials one reverse HTTP/1.1 connection to kas and asks for the kas-tunnel-v2 upgrade
// (protocol.ts). grpc:// and grpcs:// addresses: the agent listener's host and port, TLS with
// ALPN http/1.1 for grpcs, `Upgrade: kas-tunnel-v2`; ws:// and wss://: the URL's host, port and
// path, and a WebSocket handshake with the subprotocol kas-tunnel-v2 (load balancers that pass
// only WebSocket upgrades pass it). A kas that answers anything but that 101 refuses the
// transport (HttpTunnelRefusedError).
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { getProxyForUrl } from 'proxy-from-env';
import type { KasEndpoint } from '../../../module/modagent';
import { parseKasAddress } from '../../reverse_tunnel/agent/dial';
import { AGENT_META_HEADER, HTTP_TUNNEL_PROTOCOL, webSocketAccept, type HttpTunnelAgentMeta } from '../protocol';

export class HttpTunnelRefusedError extends Error {
  override name = 'HttpTunnelRefusedError';
  constructor(readonly status: number) {
    super(`kas answered ${status} to the ${HTTP_TUNNEL_PROTOCOL} upgrade`);
  }

  /** kas does not offer the transport (a kas without the module, or the reference's): agentk keeps to gRPC. */
  get notOffered(): boolean {
    return this.status === 400 || this.status === 404 || this.status === 426 || this.status === 101;
  }
}

const CONNECT_TIMEOUT_MS = 20_000;

export interface HttpTunnelDialer {
  /** One upgraded connection, ready to be served. */
  dial(): Promise<Duplex>;
  /** Whether the address can carry the transport (no HTTP proxy in the way: those keep to gRPC). */
  readonly usable: boolean;
}

export function httpTunnelDialer(endpoint: KasEndpoint, meta: HttpTunnelAgentMeta): HttpTunnelDialer {
  const url = parseKasAddress(endpoint.address);
  const secure = url.protocol === 'grpcs:' || url.protocol === 'wss:';
  const isWebSocket = url.protocol === 'ws:' || url.protocol === 'wss:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port) || (secure ? 443 : 80);
  const path = isWebSocket ? `${url.pathname}${url.search}` : '/';
  const headers = {
    host: url.host,
    connection: 'Upgrade',
    upgrade: isWebSocket ? 'websocket' : HTTP_TUNNEL_PROTOCOL,
    authorization: `Bearer ${endpoint.token}`,
    [AGENT_META_HEADER]: JSON.stringify(meta),
  };
  const connect = (): Promise<net.Socket> =>
    secure
      ? connected(
          tls.connect({
            host,
            port,
            ca: endpoint.caPem,
            servername: endpoint.tlsServerName ?? (net.isIP(host) ? undefined : host),
            ALPNProtocols: ['http/1.1'],
          }),
          'secureConnect',
        )
      : connected(net.connect({ host, port }), 'connect');
  return {
    usable: !getProxyForUrl(url.href.replace(/^(grpc|ws)/, 'http')),
    dial: async () => upgrade(await connect(), path, isWebSocket ? withWebSocketKey(headers) : headers),
  };
}

function connected(socket: net.Socket, event: 'connect' | 'secureConnect'): Promise<net.Socket> {
  // Requests and answers are small and latency-bound: no Nagle.
  socket.setNoDelay(true);
  return new Promise((resolve, reject) => {
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`no connection to kas within ${CONNECT_TIMEOUT_MS} ms`)));
    socket.once('error', reject);
    socket.once(event, () => {
      socket.setTimeout(0);
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/** A WebSocket handshake's headers (RFC 6455 4.1): a fresh key per connection, kas-tunnel-v2 as the one subprotocol. */
function withWebSocketKey(headers: Record<string, string>): Record<string, string> {
  return {
    ...headers,
    'sec-websocket-version': '13',
    'sec-websocket-key': randomBytes(16).toString('base64'),
    'sec-websocket-protocol': HTTP_TUNNEL_PROTOCOL,
  };
}

/** Whether the 101 is kas's answer to this upgrade: for a WebSocket, the key's accept value and the subprotocol taken. */
function upgradedAsAsked(headers: Record<string, string>, res: http.IncomingMessage): boolean {
  const key = headers['sec-websocket-key'];
  if (key === undefined) return (res.headers.upgrade ?? '').toLowerCase() === HTTP_TUNNEL_PROTOCOL;
  return (
    (res.headers.upgrade ?? '').toLowerCase() === 'websocket' &&
    res.headers['sec-websocket-accept'] === webSocketAccept(key) &&
    res.headers['sec-websocket-protocol'] === HTTP_TUNNEL_PROTOCOL
  );
}

function upgrade(socket: net.Socket, path: string, headers: Record<string, string>): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const req = http.request({ method: 'GET', path, headers, createConnection: () => socket, timeout: CONNECT_TIMEOUT_MS });
    req.once('upgrade', (res: http.IncomingMessage, upgraded: net.Socket, head: Buffer) => {
      // A 101 without the subprotocol: a WebSocket endpoint that is not kas's v2 (the gRPC bridge of a kas without the module).
      if (!upgradedAsAsked(headers, res)) {
        upgraded.destroy();
        return reject(new HttpTunnelRefusedError(res.statusCode ?? 0));
      }
      upgraded.setTimeout(0);
      if (head.length > 0) upgraded.unshift(head);
      resolve(upgraded);
    });
    req.once('response', (res: http.IncomingMessage) => {
      res.resume();
      socket.destroy();
      reject(new HttpTunnelRefusedError(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy(new Error(`no answer from kas within ${CONNECT_TIMEOUT_MS} ms`)));
    req.once('error', (err) => {
      socket.destroy();
      reject(err);
    });
    req.end();
  });
}
