// The routing replica's side of a cross-replica tunnel. It keeps, per peer replica, a bounded
// pool of open WebSockets to the peer's private API and reuses them request after request
// (frames.ts): no TCP (and TLS) handshake and no HTTP upgrade per proxied request. A claimed
// remote tunnel is a Duplex carrying the same frames and events as a tunnel of this replica's
// own, so the Kubernetes API proxy streams through it unchanged. A connection goes back to the
// pool only after a clean end on both sides; one that broke, or whose request was abandoned, is
// discarded.
import { Duplex } from 'node:stream';
import WebSocket from 'ws';
import type { Logger } from '../../../internal/log';
import type { ConnectRequest, ConnectResponse } from '../../reverse_tunnel/protocol';
import type { Tunnel, TunnelStream } from '../../reverse_tunnel/server/registry';
import { decodeMessage, sendControl, sendFrame, type Control } from './frames';
import { signPrivateApiToken } from './token';

/** Gives up on a replica that does not answer the handshake (gone, or its host unreachable). */
const HANDSHAKE_TIMEOUT_MS = 3_000;
/** Gives up on a claim the peer does not answer (its host vanished under an open connection). */
const CLAIM_TIMEOUT_MS = 3_000;
/** Idle connections kept per peer; more are closed when they come back. */
export const MAX_IDLE_CONNECTIONS_PER_PEER = 8;
/** An idle connection unused this long is closed (the peer may have scaled away). */
const IDLE_TIMEOUT_MS = 60_000;
/** After this replica finished a request, how long the peer has to finish its side before the connection is dropped. */
const END_TIMEOUT_MS = 10_000;
/** Tokens live a minute; one is signed at most this often. */
const TOKEN_REUSE_MS = 10_000;

export interface PrivateApiClientOptions {
  secret: Buffer;
  /** PEM CA certificates that sign the peers' private API certificates (https:// peers). */
  caPem?: string;
  logger: Logger;
}

type ClaimAnswer =
  { kind: 'ready'; control: Extract<Control, { kas: 'ready' }> } | { kind: 'none' } | { kind: 'closed' } | { kind: 'unanswered' };

/** One WebSocket to a peer, lent to one request at a time. */
class PeerConnection {
  /** Who receives the next messages: a pending claim or an active tunnel stream. */
  receiver: ((data: WebSocket.RawData, isBinary: boolean) => void) | undefined;
  onClosed: (() => void) | undefined;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly peerUrl: string,
  ) {
    ws.on('message', (data, isBinary) => this.receiver?.(data, isBinary));
    ws.on('close', () => this.onClosed?.());
    ws.on('error', () => ws.terminate());
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  discard(): void {
    clearTimeout(this.idleTimer);
    this.receiver = undefined;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }

  /** Sends a claim and resolves with the answer, or `closed` when the connection died first. */
  claim(agentId: string, token: string): Promise<ClaimAnswer> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.discard();
        settle({ kind: 'unanswered' });
      }, CLAIM_TIMEOUT_MS);
      const settle = (answer: ClaimAnswer) => {
        clearTimeout(timer);
        this.receiver = undefined;
        this.onClosed = undefined;
        resolve(answer);
      };
      this.onClosed = () => settle({ kind: 'closed' });
      this.receiver = (data, isBinary) => {
        const control = controlOf(data, isBinary);
        if (control?.kas === 'ready') settle({ kind: 'ready', control });
        else if (control?.kas === 'none') settle({ kind: 'none' });
        else {
          this.discard();
          settle({ kind: 'closed' });
        }
      };
      sendControl(this.ws, { kas: 'claim', agentId, token });
    });
  }
}

function controlOf(data: WebSocket.RawData, isBinary: boolean): Control | undefined {
  try {
    const decoded = decodeMessage(data, isBinary);
    return 'control' in decoded ? decoded.control : undefined;
  } catch {
    return undefined;
  }
}

export class PrivateApiClient {
  private readonly idle = new Map<string, PeerConnection[]>();
  private readonly opened = new Map<string, number>();
  private token: { value: string; at: number } | undefined;
  private closed = false;

  constructor(private readonly options: PrivateApiClientOptions) {}

  /**
   * An idle tunnel of the replica at `peerUrl`, or undefined when it has none or cannot be
   * reached (then `onUnreachable` is called: the caller can stop asking it for a while).
   */
  async claimRemoteTunnel(peerUrl: string, agentId: string, onUnreachable?: () => void): Promise<Tunnel | undefined> {
    const pooled = this.takeIdle(peerUrl);
    if (pooled) {
      const answer = await pooled.claim(agentId, this.currentToken());
      if (answer.kind === 'unanswered') {
        onUnreachable?.();
        return undefined;
      }
      // A pooled connection may have died since it was used: one more try on a fresh one.
      if (answer.kind !== 'closed') return this.use(pooled, agentId, answer);
    }
    const fresh = await this.connect(peerUrl);
    if (!fresh) {
      onUnreachable?.();
      return undefined;
    }
    const answer = await fresh.claim(agentId, this.currentToken());
    if (answer.kind === 'unanswered') onUnreachable?.();
    return this.use(fresh, agentId, answer);
  }

  /** Connections opened to the peer so far (for tests and the benchmark). */
  connectionsOpened(peerUrl: string): number {
    return this.opened.get(peerUrl) ?? 0;
  }

  idleConnections(peerUrl: string): number {
    return this.idle.get(peerUrl)?.length ?? 0;
  }

  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) for (const connection of list) connection.discard();
    this.idle.clear();
  }

  private use(connection: PeerConnection, agentId: string, answer: ClaimAnswer): Tunnel | undefined {
    if (answer.kind === 'none') this.release(connection);
    if (answer.kind === 'closed' || answer.kind === 'unanswered') connection.discard();
    if (answer.kind !== 'ready') return undefined;
    const stream = new RemoteTunnelStream(connection, (reusable) => (reusable ? this.release(connection) : connection.discard()));
    return remoteTunnel(stream, agentId, answer.control);
  }

  private takeIdle(peerUrl: string): PeerConnection | undefined {
    const list = this.idle.get(peerUrl);
    for (let connection = list?.pop(); connection; connection = list?.pop()) {
      clearTimeout(connection.idleTimer);
      if (connection.open) return connection;
      connection.discard();
    }
    return undefined;
  }

  private release(connection: PeerConnection): void {
    const list = this.idle.get(connection.peerUrl) ?? [];
    if (this.closed || !connection.open || list.length >= MAX_IDLE_CONNECTIONS_PER_PEER) return connection.discard();
    list.push(connection);
    this.idle.set(connection.peerUrl, list);
    const forget = () => {
      const index = list.indexOf(connection);
      if (index >= 0) list.splice(index, 1);
      connection.discard();
    };
    connection.onClosed = forget;
    connection.receiver = () => forget(); // nothing may arrive on an idle connection
    connection.idleTimer = setTimeout(forget, IDLE_TIMEOUT_MS);
    connection.idleTimer.unref();
  }

  private currentToken(): string {
    const now = Date.now();
    if (!this.token || now - this.token.at > TOKEN_REUSE_MS) this.token = { value: signPrivateApiToken(this.options.secret, now), at: now };
    return this.token.value;
  }

  /** A new connection, or undefined (logged) when the peer cannot be reached or refuses. */
  private connect(peerUrl: string): Promise<PeerConnection | undefined> {
    let url: string;
    try {
      url = `${peerUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/tunnels`;
      new URL(url);
    } catch {
      this.options.logger.warn('a replica advertises a malformed private API URL', { replica: peerUrl });
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      const ws = new WebSocket(url, {
        headers: { authorization: `Bearer ${this.currentToken()}` },
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
        perMessageDeflate: false,
        ca: this.options.caPem,
      });
      const fail = (reason: string, fields: Record<string, unknown> = {}) => {
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        this.options.logger.warn(reason, { replica: peerUrl, ...fields });
        resolve(undefined);
      };
      ws.once('unexpected-response', (_req, res) => {
        const hint = res.statusCode === 401 ? ' (do the replicas share private_api.authentication_secret_file?)' : '';
        fail(`another replica refused this one's private API connection: HTTP ${res.statusCode}${hint}`);
      });
      ws.once('error', (err: NodeJS.ErrnoException) => fail(describeConnectError(err), { code: err.code }));
      ws.once('open', () => {
        ws.removeAllListeners();
        this.opened.set(peerUrl, this.connectionsOpened(peerUrl) + 1);
        resolve(new PeerConnection(ws, peerUrl));
      });
    });
  }
}

const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
]);

function describeConnectError(err: NodeJS.ErrnoException): string {
  if (err.code && TLS_VERIFY_CODES.has(err.code)) {
    return `cannot verify the TLS certificate of another replica's private API (${err.code}: ${err.message}); check private_api.listen.ca_certificate_file`;
  }
  return `cannot reach another replica's private API: ${err.message}`;
}

/** The remote tunnel stream: object-mode frames in both directions, like a local tunnel stream. */
class RemoteTunnelStream extends Duplex {
  private routingEnded = false;
  private peerEnded = false;
  private settled = false;
  private endTimer: NodeJS.Timeout | undefined;

  /** `finished(reusable)` is called once: the connection goes back to the pool or away. */
  constructor(
    private readonly connection: PeerConnection,
    private readonly finished: (reusable: boolean) => void,
  ) {
    super({ objectMode: true, allowHalfOpen: true });
    connection.receiver = (data, isBinary) => this.receive(data, isBinary);
    connection.onClosed = () => {
      if (!this.settled) this.destroy(new Error('the connection to the other replica closed'));
    };
  }

  private receive(data: WebSocket.RawData, isBinary: boolean): void {
    let decoded: ReturnType<typeof decodeMessage<ConnectRequest>>;
    try {
      decoded = decodeMessage<ConnectRequest>(data, isBinary);
    } catch {
      this.destroy(new Error('the other replica sent a malformed message'));
      return;
    }
    if ('control' in decoded) return this.onControl(decoded.control);
    // Once this side finished (done()), nobody reads any more: drop what still arrives.
    if (this.routingEnded) return;
    if (!this.push(decoded.frame)) this.connection.ws.pause();
  }

  private onControl(control: Control): void {
    if (control.kas === 'end') {
      this.peerEnded = true;
      if (!this.routingEnded) this.push(null);
      this.settleIfBothEnded();
    } else {
      this.destroy(new Error(control.kas === 'error' ? control.reason : `unexpected ${control.kas} from the other replica`));
    }
  }

  override _read(): void {
    this.connection.ws.resume();
  }

  override _write(frame: ConnectResponse, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (!this.connection.open) return callback(new Error('the other replica closed the tunnel'));
    sendFrame(this.connection.ws, frame, (err) => callback(err ?? null));
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.routingEnded = true;
    if (this.connection.open) sendControl(this.connection.ws, { kas: 'end' });
    this.connection.ws.resume();
    this.endTimer = setTimeout(() => this.destroy(new Error('the other replica did not finish the request')), END_TIMEOUT_MS);
    this.endTimer.unref();
    this.settleIfBothEnded();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.settle(false);
    callback(err);
  }

  private settleIfBothEnded(): void {
    if (this.routingEnded && this.peerEnded) this.settle(true);
  }

  private settle(reusable: boolean): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.endTimer);
    this.connection.receiver = undefined;
    this.connection.onClosed = undefined;
    this.finished(reusable && this.connection.open);
  }
}

function remoteTunnel(stream: RemoteTunnelStream, agentId: string, ready: Extract<Control, { kas: 'ready' }>): Tunnel {
  let finished = false;
  return {
    agentId,
    descriptor: ready.descriptor,
    stream: stream as unknown as TunnelStream,
    done: () => {
      if (finished) return;
      finished = true;
      if (!stream.writableEnded && !stream.destroyed) stream.end();
    },
  };
}
