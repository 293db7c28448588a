// A small gRPC server on node:http2 for kas's agent listener. grpc-js's server built several
// objects per call (call, metadata, interceptor chain, status handling): at one tunnel stream per
// proxied request that was most of kas's CPU. This serves the streaming methods agentk calls with
// one object-mode Duplex per call and stays wire-compatible with any gRPC client (a stock grpc-js
// client is tested against it).
// Handlers keep the grpc-js calling convention: addService(definition, implementation); a call has `metadata`, `request` (server-streaming and unary), `cancelled`, write/end,
// `sendMetadata`, and `call.emit('error', { code, details })` ends the call with that status. A
// unary answer is the same wire as a stream of one message: its handler writes once, then end().
import { Status, type Metadata, type MethodDefinition, type ServiceDefinition } from '../../../internal/grpc';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { EventEmitter } from 'node:events';
import { setAwakeTimeout, type AwakeTimeout } from '../../../internal/awake_timeout';
import type { Logger } from '../../../internal/log';
import {
  GRPC_CONTENT_TYPE,
  GrpcWireError,
  MAX_RECEIVED_MESSAGE_BYTES,
  MessageDecoder,
  encodeGrpcMessage,
  frameMessage,
  headersFromMetadata,
  metadataFromHeaders,
} from '../grpc_wire';

/** A method's implementation: gets each call (server-streaming and unary: once its request arrived). */
export type CallHandler = (call: ServerCall) => void;

/** What a feature needs to register its RPCs (as a grpc-js Server's addService). */
export interface GrpcServiceRegistrar {
  addService(service: ServiceDefinition, implementation: Record<string, CallHandler>): void;
}

/** Per HTTP/2 connection: what handlers may remember while the connection lives (a checked token). */
export interface ConnectionContext {
  readonly id: number;
  readonly cache: Map<string, unknown>;
  /** Called when a call on the connection gets response headers, i.e. kas accepted it (refusals are trailers-only). */
  readonly accepted?: () => void;
  /** A liveness ping is out and not yet answered: the peer may be frozen. */
  readonly suspect: boolean;
  /** Pings the peer now (unless a ping is already out); no answer within the timeout closes the connection. */
  probe(): void;
  /** kas judged the peer dead (an unanswered ping, or its agentk process judged dead on another transport). */
  readonly dead: boolean;
  /** Judges the peer dead and closes the connection (its calls fail). */
  close(): void;
}

/**
 * A per-call protocol check (the tunnel's state machine): every decoded message passes
 * `received` before anyone sees it; a string is a protocol error that ends the call.
 */
export interface FrameGuard {
  received(message: unknown): string | undefined;
  sent(message: unknown): void;
  /** Called once with the protocol error that ended the call (to log it). */
  rejected(reason: string): void;
}

/**
 * Translates between a method's own messages and the frames its handler works with (the
 * reference's agent protocol onto the tunnel's own frames): one message may stand for none or
 * several frames, both ways. Received frames pass the frame guard after translation; a string is
 * a protocol error that ends the call.
 */
export interface FrameTranslator {
  /** The frames one received message stands for, in order. */
  inbound(message: unknown): unknown[] | string;
  /** The peer half-closed: the frames that implies (often none). */
  inboundEnd(): unknown[] | string;
  /** The messages one frame the handler writes becomes. */
  outbound(frame: unknown): unknown[];
}

/** The 'error' a call emits when its frame guard refused a frame. */
export interface ProtocolErrorStatus {
  code: Status;
  details: string;
  protocolError: true;
}

/** What the listener learns about a connection it handed over (its connection guard). */
export interface ConnectionHooks {
  /**
   * The HTTP/2 session took the socket over; `destroy` ends it. (Destroying the socket alone
   * then leaves the descriptor open: the session holds its handle.)
   */
  opened(destroy: () => void): void;
  /** The client's HTTP/2 SETTINGS arrived: the preface is complete. */
  handshakeDone(): void;
  /** kas accepted a call on it (the first time only). */
  accepted(): void;
}

export interface NativeGrpcServerOptions {
  /** A connection on which nothing was received for this long is pinged. */
  keepaliveTimeMs: number;
  /** A ping not answered within this closes the connection (a frozen or vanished peer). */
  keepaliveTimeoutMs: number;
  maxConnectionAgeMs: number;
  maxConnectionAgeGraceMs: number;
  /** HTTP/2 receive window per stream and per connection. */
  flowControlWindow: number;
  logger: Logger;
}

type AnyMethod = MethodDefinition<unknown, unknown>;

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;

export class NativeGrpcServer implements GrpcServiceRegistrar {
  private readonly methods = new Map<string, { definition: AnyMethod; handler: CallHandler }>();
  private readonly http2Server: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private nextConnectionId = 1;
  private handedOver: ConnectionHooks | undefined;

  constructor(private readonly options: NativeGrpcServerOptions) {
    this.http2Server = http2.createServer({
      settings: { initialWindowSize: options.flowControlWindow },
      // Many streams with wide windows per connection: nghttp2's 10 MB default refused streams under load.
      maxSessionMemory: 256,
    });
    this.http2Server.on('session', (session: http2.ServerHttp2Session) => this.onSession(session));
    this.http2Server.on('stream', (stream, headers) => this.onStream(stream, headers));
  }

  addService(service: ServiceDefinition, implementation: Record<string, CallHandler>): void {
    for (const [name, definition] of Object.entries(service)) {
      const handler = implementation[name];
      if (typeof handler !== 'function') throw new TypeError(`no implementation for ${definition.path}`);
      this.methods.set(definition.path, { definition: definition as AnyMethod, handler });
    }
  }

  /** Serves HTTP/2 on a connected socket (plain TCP, TLS, or a loopback socket carrying a WebSocket's bytes). */
  handleConnection(socket: net.Socket, hooks?: ConnectionHooks): void {
    // node:http2 makes the session synchronously in its 'connection' listener: onSession takes the hooks.
    this.handedOver = hooks;
    try {
      this.http2Server.emit('connection', socket);
    } finally {
      this.handedOver = undefined;
    }
  }

  close(): void {
    for (const session of this.sessions) session.destroy();
    this.sessions.clear();
    this.http2Server.close();
  }

  private onSession(session: http2.ServerHttp2Session): void {
    this.sessions.add(session);
    const hooks = this.handedOver;
    if (hooks) {
      hooks.opened(() => session.destroy());
      session.once('remoteSettings', () => hooks.handshakeDone());
    }
    let accepted = false;
    const onAccepted = () => {
      if (accepted) return;
      accepted = true;
      hooks?.accepted();
    };
    session.on('error', (err) => this.options.logger.debug('agent connection error', { err }));
    try {
      session.setLocalWindowSize(this.options.flowControlWindow);
    } catch {
      // already closing: nothing to tune
    }
    const liveness = new ConnectionLiveness(session, this.options);
    const context: ConnectionContext = {
      id: this.nextConnectionId++,
      cache: new Map(),
      get suspect() {
        return liveness.pingOut;
      },
      probe: () => liveness.ping(),
      get dead() {
        return liveness.dead;
      },
      close: () => liveness.fail(),
      accepted: onAccepted,
    };
    sessionContexts.set(session, context);
    const stopAgeTimers = this.startAgeTimers(session);
    session.once('close', () => {
      liveness.stop();
      stopAgeTimers();
      this.sessions.delete(session);
    });
  }

  /** Max connection age: GOAWAY, then a grace period for calls in flight. */
  private startAgeTimers(session: http2.ServerHttp2Session): () => void {
    const { maxConnectionAgeMs, maxConnectionAgeGraceMs } = this.options;
    let graceTimer: NodeJS.Timeout | undefined;
    // ±10% so that agents connected together do not all come back at the same instant.
    const ageMs = maxConnectionAgeMs * (0.9 + Math.random() * 0.2);
    const ageTimer = setTimeout(() => {
      session.close(); // GOAWAY with the last stream kas accepted; those run on
      graceTimer = setTimeout(() => session.destroy(), maxConnectionAgeGraceMs);
    }, ageMs);
    return () => {
      clearTimeout(ageTimer);
      clearTimeout(graceTimer);
    };
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', ignoreStreamError); // the call sees the stream close and handles it
    const contentType = headers['content-type'] ?? '';
    if (headers[':method'] !== 'POST' || !contentType.startsWith(GRPC_CONTENT_TYPE)) {
      stream.respond({ ':status': 415, 'content-type': 'text/plain' }, { endStream: false });
      stream.end('This is the kas agent endpoint: it speaks gRPC.\n');
      return;
    }
    const method = this.methods.get(headers[':path'] ?? '');
    if (!method) {
      respondTrailersOnly(stream, Status.UNIMPLEMENTED, `unknown method ${headers[':path'] ?? ''}`);
      return;
    }
    const context = sessionContexts.get(stream.session as http2.ServerHttp2Session) ?? DETACHED_CONTEXT;
    const call = new ServerCall(stream, headers, method.definition, context);
    const run = () => this.runHandler(method.handler, call, method.definition.path);
    if (method.definition.requestStream) run();
    else call.onceRequest(run);
  }

  /** A handler that throws ends its call with INTERNAL; the listener and other calls go on. */
  private runHandler(handler: CallHandler, call: ServerCall, path: string): void {
    try {
      handler(call);
    } catch (err) {
      this.options.logger.error('agent RPC handler failed', { method: path, err });
      call.sendStatus(Status.INTERNAL, 'internal error');
      call.destroy();
    }
  }
}

/** For a stream whose session kas no longer tracks (it is closing). */
const DETACHED_CONTEXT: ConnectionContext = {
  id: 0,
  cache: new Map(),
  suspect: false,
  probe: () => undefined,
  dead: false,
  close: () => undefined,
};

/** An h2 stream's own 'error' is seen as its 'close'; one shared listener for every stream. */
const ignoreStreamError = (): void => undefined;

const sessionContexts = new WeakMap<http2.ServerHttp2Session, ConnectionContext>();

/**
 * Notices a frozen or vanished agent within seconds: a stopped process keeps its TCP connection
 * open (the kernel still acknowledges), so only an unanswered HTTP/2 PING tells. A connection on
 * which nothing arrived for keepaliveTimeMs is pinged, and a caller may ping at once (a request
 * that sees no first byte); no answer within keepaliveTimeoutMs destroys the connection, which
 * fails its calls (kas then replays what it may) and takes its idle streams out of routing.
 * Silence is measured by the socket's bytesRead, so a busy connection is never pinged.
 */
class ConnectionLiveness {
  private pingTimer: AwakeTimeout | undefined;
  private readonly checker: NodeJS.Timeout;
  private lastBytesRead = -1;
  dead = false;

  constructor(
    private readonly session: http2.ServerHttp2Session,
    private readonly options: Pick<NativeGrpcServerOptions, 'keepaliveTimeMs' | 'keepaliveTimeoutMs' | 'logger'>,
  ) {
    this.checker = setInterval(() => this.pingIfSilent(), options.keepaliveTimeMs);
  }

  get pingOut(): boolean {
    return this.pingTimer !== undefined;
  }

  ping(): void {
    const { session } = this;
    if (this.pingTimer || session.closed || session.destroyed) return;
    // Time kas itself was stalled does not count against the agent (awake_timeout.ts).
    this.pingTimer = setAwakeTimeout(() => {
      this.options.logger.warn('an agent connection did not answer a ping in time; closing it', {
        timeoutMs: this.options.keepaliveTimeoutMs,
      });
      this.fail();
    }, this.options.keepaliveTimeoutMs);
    const answered = () => {
      this.pingTimer?.cancel();
      this.pingTimer = undefined;
    };
    try {
      if (!session.ping(answered)) answered();
    } catch {
      answered(); // the session is going away: its close does the rest
    }
  }

  /** The peer is dead: its calls see the connection close with `dead` set (the tunnel registry tells the other transport). */
  fail(): void {
    this.dead = true;
    this.session.destroy();
  }

  stop(): void {
    clearInterval(this.checker);
    this.pingTimer?.cancel();
    this.pingTimer = undefined;
  }

  private pingIfSilent(): void {
    const bytesRead = this.session.socket?.bytesRead ?? 0;
    const silent = bytesRead === this.lastBytesRead;
    this.lastBytesRead = bytesRead;
    if (silent) this.ping();
  }
}

function respondTrailersOnly(stream: http2.ServerHttp2Stream, code: Status, details: string): void {
  if (stream.closed || stream.headersSent) return;
  stream.respond(
    { ':status': 200, 'content-type': GRPC_CONTENT_TYPE, 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(details) },
    { endStream: true },
  );
}

interface StatusLike {
  code?: number;
  details?: string;
  message?: string;
}

type Listener = (...args: any[]) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * One server call, with the surface of an object-mode Duplex that the tunnel's users rely on
 * (decoded requests as 'data', 'end', 'close', 'error', 'cancelled', 'drain'; write/end/cork/
 * uncork/pause/resume/destroy) but no stream machinery of its own: writes are encoded straight
 * into the HTTP/2 stream (cork/uncork and backpressure are the HTTP/2 stream's), and decoded
 * frames are emitted as they arrive. Two object-mode Duplex layers per proxied request (their
 * buffers, ticks and listeners) were the largest share of kas's CPU per request.
 * end() finishes with status OK; emit('error', { code, details }) finishes with that status (as
 * with grpc-js). When the client cancels or its connection goes, it emits 'cancelled' and an 'error'.
 * As with a Readable, frames wait (and the HTTP/2 stream is paused) until a 'data' listener or
 * resume(); pause() holds them again.
 */
export class ServerCall extends EventEmitter {
  cancelled = false;
  destroyed = false;
  /** The request message of a server-streaming call. */
  request: unknown = undefined;
  private ended = false;
  /** null: nobody read yet; false: paused by the reader; true: frames are emitted as they arrive. */
  private flowing: boolean | null = null;
  /** Frames decoded while not flowing, in order. */
  private queued: unknown[] = [];
  private draining = false;
  private drainScheduled = false;
  private endReceived = false;
  private endEmitted = false;
  private closeEmitted = false;
  private drainArmed = false;
  private corked = 0;
  private corkedFrames: Buffer[] = [];
  private headersSent = false;
  private statusSent = false;
  private trailers: http2.OutgoingHttpHeaders = OK_TRAILERS;
  private readonly decoder = new MessageDecoder(MAX_RECEIVED_MESSAGE_BYTES);
  /** The method's protocol check, when its handler installed one (the tunnel's state machine). */
  frameGuard: FrameGuard | undefined;
  /** Set by a handler whose method's messages are not the frames it works with (see FrameTranslator). */
  frameTranslator: FrameTranslator | undefined;
  private requestListener: (() => void) | undefined;
  private parsedMetadata: Metadata | undefined;

  constructor(
    private readonly h2: http2.ServerHttp2Stream,
    private readonly requestHeaders: http2.IncomingHttpHeaders,
    private readonly definition: AnyMethod,
    readonly connection: ConnectionContext,
  ) {
    super();
    h2.on('data', (chunk: Buffer) => this.onData(chunk));
    h2.on('end', () => this.onEnd());
    h2.on('wantTrailers', () => h2.sendTrailers(this.trailers));
    h2.on('close', () => this.onTransportClosed());
    super.on('error', (err: StatusLike) => this.sendStatus(err.code ?? Status.UNKNOWN, err.details ?? err.message ?? 'error'));
  }

  /** The call's request metadata (parsed on first use: most tunnel streams need only the token). */
  get metadata(): Metadata {
    this.parsedMetadata ??= metadataFromHeaders(this.requestHeaders);
    return this.parsedMetadata;
  }

  /** False as soon as the HTTP/2 stream is gone (its 'close' comes a tick later). */
  get writable(): boolean {
    return !this.ended && !this.destroyed && !this.h2.destroyed && !this.h2.closed;
  }

  get writableEnded(): boolean {
    return this.ended;
  }

  /** Whether the call's connection has a liveness ping out (its peer may be frozen). */
  get connectionSuspect(): boolean {
    return this.connection.suspect;
  }

  /** Pings the call's connection now: a frozen peer's connection is closed within the ping timeout. */
  probeConnection(): void {
    this.connection.probe();
  }

  /** Whether kas closed the call's connection because it judged the peer dead. */
  get connectionDead(): boolean {
    return this.connection.dead;
  }

  /** Judges the call's peer dead: its connection closes, with every call on it. */
  closeConnection(): void {
    this.connection.close();
  }

  /** One request header, without building Metadata. */
  header(name: string): string | undefined {
    const value = this.requestHeaders[name];
    return Array.isArray(value) ? value[0] : value;
  }

  /** A 'data' listener starts the flow of frames, as on a Readable. */
  override on(event: string | symbol, listener: Listener): this {
    super.on(event, listener);
    if (event === 'data' && this.flowing === null) this.resume();
    return this;
  }

  override addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }

  pause(): this {
    this.flowing = false;
    return this;
  }

  /** Held frames (and a held 'end') follow on the next tick, as on a Readable: listeners added right after still see them. */
  resume(): this {
    this.flowing = true;
    if (this.queued.length > 0 || (this.endReceived && !this.endEmitted)) this.scheduleDrain();
    else if (!this.destroyed && this.h2.isPaused()) this.h2.resume();
    return this;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    process.nextTick(() => {
      this.drainScheduled = false;
      this.drainQueue();
      if (this.flowing === true && !this.destroyed && this.queued.length === 0 && this.h2.isPaused()) this.h2.resume();
    });
  }

  isPaused(): boolean {
    return this.flowing === false;
  }

  /** Sends the response headers now (they otherwise go with the first message or the status). */
  sendMetadata(metadata?: Metadata): void {
    this.ensureHeaders(metadata ? headersFromMetadata(metadata) : undefined);
  }

  /** For server-streaming methods: runs once the request message arrived. */
  onceRequest(listener: () => void): void {
    this.requestListener = listener;
  }

  /** Writes one response message; false when the HTTP/2 stream's buffer is full ('drain' follows). */
  write(message: unknown): boolean {
    if (this.ended || this.destroyed) return false;
    if (this.statusSent || this.h2.closed || this.h2.destroyed) return true; // the call is over: dropped
    this.frameGuard?.sent(message);
    let data: Buffer;
    try {
      data = this.frameTranslator
        ? this.translateOutbound(this.frameTranslator, message)
        : frameMessage(this.definition.responseSerialize(message));
    } catch (err) {
      this.destroy(err as Error);
      return false;
    }
    if (this.corked > 0) {
      this.corkedFrames.push(data);
      return true;
    }
    return this.writeToStream(data);
  }

  private translateOutbound(translator: FrameTranslator, frame: unknown): Buffer {
    const messages = translator.outbound(frame).map((message) => frameMessage(this.definition.responseSerialize(message)));
    return messages.length === 1 ? messages[0]! : Buffer.concat(messages);
  }

  private writeToStream(data: Buffer): boolean {
    this.ensureHeaders();
    if (this.h2.write(data)) return true;
    if (!this.drainArmed) {
      this.drainArmed = true;
      this.h2.once('drain', () => {
        this.drainArmed = false;
        this.emit('drain');
      });
    }
    return false;
  }

  /** Finishes the call with status OK (after what was written). */
  end(): this {
    if (this.ended) return this;
    this.ended = true;
    this.corked = 0;
    this.flushCorked();
    this.sendStatus(Status.OK, '');
    return this;
  }

  /** Holds written frames until uncork(): they then go out in one HTTP/2 write (one wake-up for the peer). */
  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked === 0 || --this.corked > 0) return;
    this.flushCorked();
  }

  private flushCorked(): void {
    const frames = this.corkedFrames;
    if (frames.length === 0) return;
    this.corkedFrames = [];
    if (this.statusSent || this.h2.closed || this.h2.destroyed) return;
    this.writeToStream(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  }

  /** Abandons the call: resets the HTTP/2 stream if no status went out; 'error' (if err) and 'close' follow. */
  destroy(err?: Error | null): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.queued = [];
    if (!this.statusSent && !this.h2.closed) this.h2.close(NGHTTP2_CANCEL);
    process.nextTick(() => {
      if (err) this.emit('error', err);
      this.emitClose();
    });
    return this;
  }

  /** Ends the call with a status (no-op once a status went out or the stream is gone). */
  sendStatus(code: Status, details: string): void {
    if (this.statusSent || this.h2.closed || this.h2.destroyed) return;
    this.statusSent = true;
    if (!this.headersSent) {
      this.headersSent = true;
      respondTrailersOnly(this.h2, code, details);
      return;
    }
    if (code !== Status.OK) this.trailers = { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(details) };
    this.h2.end();
  }

  private ensureHeaders(extra?: Record<string, string[]>): void {
    if (this.headersSent || this.h2.closed) return;
    this.headersSent = true;
    this.connection.accepted?.();
    this.h2.respond(extra ? { ...extra, ...RESPONSE_HEADERS } : RESPONSE_HEADERS, RESPOND_OPTIONS); // node copies them
  }

  private onData(chunk: Buffer): void {
    const failure = this.decoder.decode(chunk, this.definition.requestDeserialize, this.receive, 'could not parse the request message');
    if (failure) this.failAndClose(failure);
  }

  private readonly receive = (message: unknown): void => {
    if (!this.definition.requestStream) this.acceptSingleRequest(message);
    else this.deliver(message);
  };

  private deliver(message: unknown): void {
    if (this.destroyed) return;
    if (!this.frameTranslator) return this.deliverFrame(message);
    this.deliverTranslated(this.frameTranslator.inbound(message));
  }

  private deliverTranslated(frames: unknown[] | string): void {
    if (typeof frames === 'string') return this.failProtocol(frames);
    for (const frame of frames) {
      if (this.destroyed) return;
      this.deliverFrame(frame);
    }
  }

  private deliverFrame(message: unknown): void {
    const problem = this.frameGuard?.received(message);
    if (problem !== undefined) {
      this.failProtocol(problem);
      return;
    }
    if (this.flowing === true && this.queued.length === 0) {
      this.emit('data', message);
      return;
    }
    this.queued.push(message);
    if (!this.h2.isPaused()) this.h2.pause();
  }

  /** Emits queued frames while flowing (a listener may pause again), then a pending 'end'. */
  private drainQueue(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.flowing === true && this.queued.length > 0 && !this.destroyed) this.emit('data', this.queued.shift());
    } finally {
      this.draining = false;
    }
    this.maybeEmitEnd();
  }

  private maybeEmitEnd(): void {
    if (!this.endReceived || this.endEmitted || this.destroyed || this.flowing !== true || this.queued.length > 0) return;
    this.endEmitted = true;
    this.emit('end');
  }

  private acceptSingleRequest(message: unknown): void {
    if (this.request !== undefined) return; // a second request on a server-streaming call: ignored
    this.request = message;
    const listener = this.requestListener;
    this.requestListener = undefined;
    listener?.();
  }

  private onEnd(): void {
    // Node ends the readable side of a stream the peer reset (RST_STREAM) or whose connection went
    // away too: that is a cancel, not the peer's clean half-close. Told apart here, because a
    // half-close before any answer means "agentk never read the request" (kas replays any method)
    // and a reset does not (kas replays only idempotent requests).
    if (this.h2.aborted || this.h2.destroyed || (this.h2.rstCode ?? NGHTTP2_NO_ERROR) !== NGHTTP2_NO_ERROR) {
      this.onTransportClosed();
      return;
    }
    if (this.decoder.bufferedBytes > 0) {
      this.failAndClose(new GrpcWireError(Status.INTERNAL, 'the request stream ended in the middle of a message'));
      return;
    }
    if (!this.definition.requestStream && this.request === undefined) {
      this.failAndClose(new GrpcWireError(Status.INVALID_ARGUMENT, 'the call ended without a request message'));
      return;
    }
    if (this.frameTranslator) {
      this.deliverTranslated(this.frameTranslator.inboundEnd());
      if (this.destroyed) return;
    }
    this.endReceived = true;
    this.maybeEmitEnd();
  }

  /**
   * A frame the guard refused, or a message kas cannot read (unparsable, compressed, oversized,
   * cut mid-message): the peer broke the protocol. The call ends with that status, its users see
   * an 'error' marked protocolError (never replayed), and the HTTP/2 stream is reset shortly after
   * the status so that a peer that keeps sending holds no stream.
   */
  private failProtocol(reason: string, code: Status = Status.INVALID_ARGUMENT): void {
    if (this.destroyed) return;
    this.frameGuard?.rejected(reason);
    this.frameGuard = undefined;
    const status: ProtocolErrorStatus = { code, details: reason, protocolError: true };
    this.emit('error', status);
    this.destroy();
    this.resetSoon();
  }

  private failAndClose(err: GrpcWireError): void {
    this.failProtocol(err.message, err.code);
  }

  /** After a failure status: the status gets a moment to leave, then a peer still sending is cut off. */
  private resetSoon(): void {
    const h2 = this.h2;
    if (h2.closed) return;
    setTimeout(() => {
      if (!h2.closed) h2.close(NGHTTP2_CANCEL);
    }, FAILED_STREAM_RESET_MS).unref();
  }

  private onTransportClosed(): void {
    this.queued = [];
    if (!this.statusSent && !this.destroyed) {
      // Closed before kas answered with a status: the client cancelled, or its connection went.
      this.cancelled = true;
      this.destroyed = true;
      this.emit('cancelled', 'cancelled');
      this.emit('error', new GrpcWireError(Status.CANCELLED, 'the call was cancelled by the client or its connection closed'));
    }
    this.destroyed = true;
    this.emitClose();
  }

  private emitClose(): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.emit('close');
  }
}

const FAILED_STREAM_RESET_MS = 1000;
const OK_TRAILERS: http2.OutgoingHttpHeaders = Object.freeze({ 'grpc-status': '0' });
const RESPONSE_HEADERS = Object.freeze({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE });
const RESPOND_OPTIONS = Object.freeze({ waitForTrailers: true });
