// Bounds what a stranger's connection can hold on a listener whose clients authenticate inside
// the protocol (kas's agent port: the token travels in each gRPC call's metadata). Each accepted
// connection must finish its handshake (TLS, the HTTP/2 preface and SETTINGS, or the WebSocket
// upgrade) within handshakeTimeoutMs and be authenticated (kas accepted one of its calls) within
// authenticationTimeoutMs of being accepted; at most maxUnauthenticated connections may be
// waiting for that at once: a connection accepted at the cap closes the oldest waiting one. So
// descriptors cannot be exhausted from outside (an attacker without a token holds at most the
// cap, each for at most the authentication timeout), and silent sockets holding every place do
// not lock agents out (an agent authenticates within a few round trips; to push it out, a
// stranger would have to open the cap's worth of connections in that time).
import type { Socket } from 'node:net';
import { peerKey } from './listen';

export interface ConnectionGuardSettings {
  handshakeTimeoutMs: number;
  authenticationTimeoutMs: number;
  maxUnauthenticated: number;
}

/** kascfg defaults (agent.listen.handshake_timeout, authentication_timeout, max_unauthenticated_connections). */
export const DEFAULT_CONNECTION_GUARD: ConnectionGuardSettings = {
  handshakeTimeoutMs: 10_000,
  authenticationTimeoutMs: 30_000,
  maxUnauthenticated: 500,
};

export type GuardEnd = 'over_capacity' | 'handshake_timeout' | 'authentication_timeout';

interface Pending {
  socket: Socket;
  /** Ends what took the socket over (an HTTP/2 session), when something did. */
  destroy?: () => void;
  handshake?: NodeJS.Timeout;
  authentication?: NodeJS.Timeout;
}

export interface ConnectionGuardStats {
  /** Connections accepted but not yet authenticated. */
  unauthenticated: number;
  /** Connections closed by the guard, by reason. */
  closed: Record<GuardEnd, number>;
}

export class ConnectionGuard {
  private readonly pending = new Map<string, Pending>();
  private readonly closed: Record<GuardEnd, number> = { over_capacity: 0, handshake_timeout: 0, authentication_timeout: 0 };

  constructor(
    readonly settings: ConnectionGuardSettings,
    private readonly onClosed: (reason: GuardEnd) => void = () => undefined,
  ) {}

  /** Starts both deadlines for a fresh connection (closing the oldest waiting one at the cap); false when the socket is already gone. */
  admit(socket: Socket): boolean {
    const key = peerKey(socket);
    if (key === undefined) {
      socket.destroy(); // already gone
      return false;
    }
    for (const [oldestKey, oldest] of this.pending) {
      if (this.pending.size < this.settings.maxUnauthenticated) break;
      this.expire(oldestKey, oldest, 'over_capacity'); // insertion order: the first waited longest
    }
    const entry: Pending = { socket };
    entry.handshake = setTimeout(() => this.expire(key, entry, 'handshake_timeout'), this.settings.handshakeTimeoutMs);
    entry.authentication = setTimeout(() => this.expire(key, entry, 'authentication_timeout'), this.settings.authenticationTimeoutMs);
    this.pending.set(key, entry);
    socket.once('close', () => {
      if (this.pending.get(key) === entry) this.release(key);
    });
    return true;
  }

  /** Something took the socket over (`socket` may be the TLS socket): the guard ends it with `destroy`. */
  openedOn(socket: Socket, destroy: () => void): void {
    const entry = this.entryOf(socket);
    if (entry) entry.destroy = destroy;
  }

  /** The protocol is established (HTTP/2 SETTINGS received, or the WebSocket upgraded); `socket` may be the TLS socket. */
  handshakeDone(socket: Socket): void {
    const entry = this.entryOf(socket);
    if (entry) clearTimeout(entry.handshake);
  }

  /** kas accepted a call on the connection: it no longer counts against the cap or the deadlines. */
  authenticated(socket: Socket): void {
    const key = peerKey(socket);
    if (key !== undefined && this.entryOf(socket)) this.release(key);
  }

  isPending(socket: Socket): boolean {
    return this.entryOf(socket) !== undefined;
  }

  stats(): ConnectionGuardStats {
    return { unauthenticated: this.pending.size, closed: { ...this.closed } };
  }

  /** Clears every timer (the listener is closing; it destroys the sockets itself). */
  close(): void {
    for (const key of [...this.pending.keys()]) this.release(key);
  }

  private entryOf(socket: Socket): Pending | undefined {
    const key = peerKey(socket);
    return key === undefined ? undefined : this.pending.get(key);
  }

  private expire(key: string, entry: Pending, reason: GuardEnd): void {
    if (this.pending.get(key) !== entry) return;
    this.release(key);
    entry.destroy?.();
    this.end(entry.socket, reason);
  }

  private release(key: string): void {
    const entry = this.pending.get(key);
    if (!entry) return;
    clearTimeout(entry.handshake);
    clearTimeout(entry.authentication);
    this.pending.delete(key);
  }

  private end(socket: Socket, reason: GuardEnd): void {
    this.closed[reason]++;
    this.onClosed(reason);
    socket.destroy();
  }
}
