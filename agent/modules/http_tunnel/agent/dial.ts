// agentk: dials one reverse HTTP/1.1 connection to kas and asks for the kas-tunnel-v2 upgrade
// (protocol.ts). grpc:// and grpcs:// addresses: the agent listener's host and port, TLS with
// ALPN http/1.1 for grpcs; ws:// and wss://: the URL's host, port and path, as a WebSocket would
// dial it. A kas that answers anything but 101 refuses the transport (HttpTunnelRefusedError).
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { getProxyForUrl } from 'proxy-from-env';
import type { KasEndpoint } from '../../../module/modagent';
import { parseKasAddress } from '../../reverse_tunnel/agent/dial';
import { AGENT_META_HEADER, HTTP_TUNNEL_PROTOCOL, type HttpTunnelAgentMeta } from '../protocol';

export class HttpTunnelRefusedError extends Error {
  override name = 'HttpTunnelRefusedError';
  constructor(readonly status: number) {
    super(`kas answered ${status} to the ${HTTP_TUNNEL_PROTOCOL} upgrade`);
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
    upgrade: HTTP_TUNNEL_PROTOCOL,
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
    dial: async () => upgrade(await connect(), path, headers),
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

function upgrade(socket: net.Socket, path: string, headers: Record<string, string>): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const req = http.request({ method: 'GET', path, headers, createConnection: () => socket, timeout: CONNECT_TIMEOUT_MS });
    req.once('upgrade', (res: http.IncomingMessage, upgraded: net.Socket, head: Buffer) => {
      if ((res.headers.upgrade ?? '').toLowerCase() !== HTTP_TUNNEL_PROTOCOL) {
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
