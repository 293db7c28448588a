// kas: takes an agent connection that asked to upgrade to kas-tunnel-v2 on the agent listener.
// The agent token is checked once for the connection, by the same admission as the gRPC tunnel's
// streams (per-token rate limit first, then the token); then the connection joins the agent's pool.
import type * as http from 'node:http';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../../internal/log';
import { AgentRateLimitedError } from '../../agent_registry/admission';
import type { AuthenticatedAgent } from '../../agent_registry/agent_tokens';
import type { AgentUpgradeHandler } from '../../reverse_tunnel/server/agent_server';
import { AGENT_META_HEADER, HTTP_TUNNEL_PROTOCOL, webSocketAccept, type HttpTunnelAgentMeta } from '../protocol';
import type { HttpTunnelRegistry } from './connections';
import { httpTunnelConnectionsAccepted, httpTunnelConnectionsRefused } from './metrics';
import { bearerToken } from '../../../shared/proxy_credential';

export interface AcceptOptions {
  registry: HttpTunnelRegistry;
  /** Undefined for an unknown token; AgentRateLimitedError over the rate limit. */
  authenticateAgent(token: string): Promise<AuthenticatedAgent | undefined>;
  logger: Logger;
}

/** Dead agents are noticed by TCP keepalive, as the gRPC tunnel's pings notice them. */
const TCP_KEEPALIVE_MS = 55_000;

const SWITCHING = `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${HTTP_TUNNEL_PROTOCOL}\r\n\r\n`;

/** The 101 for the upgrade asked: the plain one, or the WebSocket handshake's answer with the subprotocol. */
function switching(req: http.IncomingMessage): string {
  const key = req.headers['sec-websocket-key'];
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || typeof key !== 'string') return SWITCHING;
  return (
    'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    `Sec-WebSocket-Accept: ${webSocketAccept(key)}\r\nSec-WebSocket-Protocol: ${HTTP_TUNNEL_PROTOCOL}\r\n\r\n`
  );
}

export function acceptHttpTunnel(options: AcceptOptions): AgentUpgradeHandler {
  const refused = {
    unauthenticated: httpTunnelConnectionsRefused.labels('unauthenticated'),
    rateLimited: httpTunnelConnectionsRefused.labels('rate_limited'),
    error: httpTunnelConnectionsRefused.labels('error'),
  };
  return (req, socket, head, authenticated) => {
    socket.on('error', () => socket.destroy());
    const token = bearerToken(req.headers.authorization);
    if (!token) {
      refused.unauthenticated.inc();
      return refuse(socket, 401, 'missing agent token (Authorization: Bearer <token>)');
    }
    options.authenticateAgent(token).then(
      (agent) => {
        if (!agent) {
          refused.unauthenticated.inc();
          return refuse(socket, 401, 'invalid or revoked agent token');
        }
        // agentk sends nothing before kas's first request: anything else is not our agentk.
        if (socket.destroyed || head.length > 0) return void socket.destroy();
        (socket as net.Socket).setKeepAlive?.(true, TCP_KEEPALIVE_MS);
        socket.write(switching(req));
        authenticated();
        httpTunnelConnectionsAccepted.inc();
        options.registry.add(agent.agentId, socket, agentMeta(req));
      },
      (err: unknown) => {
        if (err instanceof AgentRateLimitedError) {
          refused.rateLimited.inc();
          return refuse(socket, 429, err.message);
        }
        refused.error.inc();
        options.logger.error('agent connection admission failed', { err });
        refuse(socket, 500, 'internal error');
      },
    );
  };
}

function agentMeta(req: http.IncomingMessage): HttpTunnelAgentMeta | undefined {
  const value = req.headers[AGENT_META_HEADER];
  if (typeof value !== 'string') return undefined;
  try {
    const parsed = JSON.parse(value) as Partial<HttpTunnelAgentMeta>;
    const text = (v: unknown) => (typeof v === 'string' ? v.slice(0, 256) : '');
    const count = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined);
    return {
      version: text(parsed.version),
      podName: text(parsed.podName),
      podNamespace: text(parsed.podNamespace),
      instanceId: text(parsed.instanceId),
      minIdle: count(parsed.minIdle),
      idleTimeoutMs: count(parsed.idleTimeoutMs),
    };
  } catch {
    return undefined; // who it is is informational; the token decided
  }
}

function refuse(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 429 ? 'Too Many Requests' : 'Internal Server Error'}\r\n` +
      `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
