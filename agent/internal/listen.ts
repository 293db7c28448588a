import type * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Slow and idle clients on an HTTP/1.1 listener (kascfg `<listener>.listen.read_header_timeout`
 * and `idle_timeout`, named after Go's http.Server fields). Neither applies while a response is
 * being served, so watches and logs -f run as long as both ends want.
 */
export interface HttpTimeouts {
  /** From accepting the connection (or finishing a response) to the end of the next request's headers; TLS handshake included. */
  readHeaderTimeoutMs: number;
  /** How long a keep-alive connection may wait for its next request. */
  idleTimeoutMs: number;
  /** Connections still waiting for their first request's headers at once; past it, the oldest waiting is closed. */
  maxPendingConnections: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { readHeaderTimeoutMs: 10_000, idleTimeoutMs: 60_000, maxPendingConnections: 1_000 };

/** Binds `host:port` (":port" = all interfaces) and resolves with the bound address; applies `timeouts` first. */
export function listen(server: http.Server, address: string, timeouts: HttpTimeouts = DEFAULT_HTTP_TIMEOUTS): Promise<string> {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address.trim());
  if (!match) return Promise.reject(new Error(`invalid listen address "${address}"`));
  const host = match[1] ?? match[2] ?? '';
  applyHttpTimeouts(server, timeouts);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(match[3]), host || undefined, () => {
      server.off('error', reject);
      const bound = server.address() as AddressInfo;
      const shownHost = host || bound.address;
      resolve(shownHost.includes(':') ? `[${shownHost}]:${bound.port}` : `${shownHost}:${bound.port}`);
    });
  });
}

/**
 * Node times out headers only once their first byte arrived (headersTimeout, checked every
 * connectionsCheckingInterval, 30 s by default) and never a connection that sends nothing; so
 * each connection also gets a deadline for its first request's headers. Call before listen():
 * the checking interval is read when the server starts listening. requestTimeout is left as the
 * caller set it (the Kubernetes API proxy turns it off for long uploads).
 */
export function applyHttpTimeouts(server: http.Server, timeouts: HttpTimeouts): void {
  const { readHeaderTimeoutMs, idleTimeoutMs, maxPendingConnections } = timeouts;
  if (server.requestTimeout > 0 && server.requestTimeout < readHeaderTimeoutMs) server.requestTimeout = readHeaderTimeoutMs;
  server.headersTimeout = readHeaderTimeoutMs;
  server.keepAliveTimeout = idleTimeoutMs;
  // Node checks header deadlines on this interval: a tenth of the deadline keeps the overshoot small.
  (server as http.Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
    50,
    Math.min(1000, Math.floor(readHeaderTimeoutMs / 10)),
  );
  armFirstRequestDeadline(server, readHeaderTimeoutMs, maxPendingConnections);
}

/**
 * One connection on a listener, known by its peer's address and port: a TLS server's raw socket
 * (what 'connection' gives) and its TLS socket (what requests arrive on) share them, and Node
 * links the two only internally. Undefined once the socket is gone.
 */
export function peerKey(socket: Socket): string | undefined {
  return socket.remotePort === undefined ? undefined : `${socket.remoteAddress ?? ''}|${socket.remotePort}`;
}

/**
 * Destroys a connection whose first request's headers are not complete `ms` after it was accepted
 * (the TLS handshake counts), and, when one is accepted while `max` others are still waiting for
 * theirs, the oldest of those: so sockets that send nothing hold at most `max` descriptors, each
 * for at most `ms`, kas keeps accepting (a backlog full of them would delay legitimate connections
 * past their own deadline), and silent sockets holding every place do not lock clients out (a
 * client sends its headers within a round trip; to push it out, a stranger would have to open
 * `max` connections in that time).
 */
function armFirstRequestDeadline(server: http.Server, ms: number, max: number): void {
  const deadlines = new Map<string, { socket: Socket; timer: NodeJS.Timeout }>();
  const keyOf = peerKey;
  server.on('connection', (socket: Socket) => {
    const key = keyOf(socket);
    if (key === undefined) return;
    for (const [oldestKey, oldest] of deadlines) {
      if (deadlines.size < max) break;
      clearTimeout(oldest.timer);
      deadlines.delete(oldestKey); // insertion order: the first waited longest
      oldest.socket.destroy();
    }
    const timer = setTimeout(() => socket.destroy(), ms);
    const entry = { socket, timer };
    deadlines.set(key, entry);
    socket.once('close', () => {
      clearTimeout(timer);
      if (deadlines.get(key) === entry) deadlines.delete(key);
    });
  });
  const headersArrived = (req: http.IncomingMessage) => {
    const key = keyOf(req.socket);
    const entry = key === undefined ? undefined : deadlines.get(key);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    deadlines.delete(key!);
  };
  server.on('request', headersArrived);
  server.on('upgrade', headersArrived);
}

/** How a client on this host reaches a listener: one bound to every interface is reached on loopback. */
export function reachableAddress(address: string): string {
  const port = address.slice(address.lastIndexOf(':') + 1);
  return address.startsWith('0.0.0.0:') || address.startsWith('[::]:') || address.startsWith(':') ? `127.0.0.1:${port}` : address;
}
