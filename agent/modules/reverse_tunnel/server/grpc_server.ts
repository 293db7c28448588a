// A small gRPC server on node:http2 for kas's agent listener. grpc-js's server built several
// objects per call (call, metadata, interceptor chain, status handling): at one tunnel stream per
// proxied request that was most of kas's CPU. This serves the streaming methods agentk calls with
// one object-mode Duplex per call and stays wire-compatible with any gRPC client (a stock grpc-js
// client is tested against it).
// Handlers keep the grpc-js calling convention they were written for: addService(definition,
// implementation); a call has `metadata`, `request` (server-streaming), `cancelled`, write/end,
// `sendMetadata`, and `call.emit('error', { code, details })` ends the call with that status.
import * as grpc from '@grpc/grpc-js';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { Duplex } from 'node:stream';
import type { Logger } from '../../../internal/log';
import { GRPC_CONTENT_TYPE, GrpcWireError, MessageDecoder, encodeGrpcMessage, frameMessage, headersFromMetadata, metadataFromHeaders } from '../grpc_wire';

/** What a feature needs to register its RPCs (a grpc-js Server offers the same method). */
export interface GrpcServiceRegistrar {
  addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void;
}

/** Per HTTP/2 connection: what handlers may remember while the connection lives (a checked token). */
export interface ConnectionContext {
  readonly id: number;
  readonly cache: Map<string, unknown>;
}

export interface NativeGrpcServerOptions {
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  maxConnectionAgeMs: number;
  maxConnectionAgeGraceMs: number;
  /** HTTP/2 receive window per stream and per connection. */
  flowControlWindow: number;
  logger: Logger;
}

type AnyMethod = grpc.MethodDefinition<unknown, unknown>;
type CallHandler = (call: ServerCall) => void;

const { NGHTTP2_CANCEL } = http2.constants;

export class NativeGrpcServer implements GrpcServiceRegistrar {
  private readonly methods = new Map<string, { definition: AnyMethod; handler: CallHandler }>();
  private readonly http2Server: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private nextConnectionId = 1;

  constructor(private readonly options: NativeGrpcServerOptions) {
    this.http2Server = http2.createServer({
      settings: { initialWindowSize: options.flowControlWindow },
      // Many streams with wide windows per connection: nghttp2's 10 MB default refused streams under load.
      maxSessionMemory: 256,
    });
    this.http2Server.on('session', (session: http2.ServerHttp2Session) => this.onSession(session));
    this.http2Server.on('stream', (stream, headers) => this.onStream(stream, headers));
  }

  addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
    for (const [name, definition] of Object.entries(service)) {
      const handler = implementation[name];
      if (typeof handler !== 'function') throw new TypeError(`no implementation for ${definition.path}`);
      if (!definition.responseStream) throw new TypeError(`${definition.path}: only streaming responses are served here`);
      this.methods.set(definition.path, { definition: definition as AnyMethod, handler: handler as unknown as CallHandler });
    }
  }

  /** Serves HTTP/2 on a connected socket (plain TCP, TLS, or a loopback socket carrying a WebSocket's bytes). */
  handleConnection(socket: net.Socket): void {
    this.http2Server.emit('connection', socket);
  }

  close(): void {
    for (const session of this.sessions) session.destroy();
    this.sessions.clear();
    this.http2Server.close();
  }

  private onSession(session: http2.ServerHttp2Session): void {
    this.sessions.add(session);
    const context: ConnectionContext = { id: this.nextConnectionId++, cache: new Map() };
    sessionContexts.set(session, context);
    session.on('error', (err) => this.options.logger.debug('agent connection error', { err }));
    try {
      session.setLocalWindowSize(this.options.flowControlWindow);
    } catch {
      // already closing: nothing to tune
    }
    const stopTimers = this.startConnectionTimers(session);
    session.once('close', () => {
      stopTimers();
      this.sessions.delete(session);
    });
  }

  /** Keepalive pings, and max connection age: GOAWAY, then a grace period for calls in flight. */
  private startConnectionTimers(session: http2.ServerHttp2Session): () => void {
    const { keepaliveTimeMs, keepaliveTimeoutMs, maxConnectionAgeMs, maxConnectionAgeGraceMs } = this.options;
    let pingTimeout: NodeJS.Timeout | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    const pinger = setInterval(() => {
      if (pingTimeout || session.closed) return;
      pingTimeout = setTimeout(() => session.destroy(), keepaliveTimeoutMs);
      const acknowledged = () => {
        clearTimeout(pingTimeout);
        pingTimeout = undefined;
      };
      if (!session.ping(acknowledged)) acknowledged();
    }, keepaliveTimeMs);
    // ±10% so that agents connected together do not all come back at the same instant.
    const ageMs = maxConnectionAgeMs * (0.9 + Math.random() * 0.2);
    const ageTimer = setTimeout(() => {
      session.close(); // GOAWAY with the last stream kas accepted; those run on
      graceTimer = setTimeout(() => session.destroy(), maxConnectionAgeGraceMs);
    }, ageMs);
    return () => {
      clearInterval(pinger);
      clearTimeout(pingTimeout);
      clearTimeout(ageTimer);
      clearTimeout(graceTimer);
    };
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => undefined); // the call sees the stream close and handles it
    const contentType = headers['content-type'] ?? '';
    if (headers[':method'] !== 'POST' || !contentType.startsWith(GRPC_CONTENT_TYPE)) {
      stream.respond({ ':status': 415, 'content-type': 'text/plain' }, { endStream: false });
      stream.end('This is the kas agent endpoint: it speaks gRPC.\n');
      return;
    }
    const method = this.methods.get(headers[':path'] ?? '');
    if (!method) {
      respondTrailersOnly(stream, grpc.status.UNIMPLEMENTED, `unknown method ${headers[':path'] ?? ''}`);
      return;
    }
    const context = sessionContexts.get(stream.session as http2.ServerHttp2Session) ?? { id: 0, cache: new Map() };
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
      call.sendStatus(grpc.status.INTERNAL, 'internal error');
      call.destroy();
    }
  }
}

const sessionContexts = new WeakMap<http2.ServerHttp2Session, ConnectionContext>();

function respondTrailersOnly(stream: http2.ServerHttp2Stream, code: grpc.status, details: string): void {
  if (stream.closed || stream.headersSent) return;
  stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE, 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(details) }, { endStream: true });
}

interface StatusLike {
  code?: number;
  details?: string;
  message?: string;
}

/**
 * One server call: object-mode Duplex, decoded requests in, responses out. end() finishes with
 * status OK; emit('error', { code, details }) finishes with that status (as with grpc-js). When
 * the client cancels or its connection goes, it emits 'cancelled' and an 'error'.
 */
export class ServerCall extends Duplex {
  cancelled = false;
  /** The request message of a server-streaming call. */
  request: unknown = undefined;
  private headersSent = false;
  private statusSent = false;
  private trailers: http2.OutgoingHttpHeaders = { 'grpc-status': '0' };
  private readonly decoder = new MessageDecoder();
  private requestListener: (() => void) | undefined;
  private parsedMetadata: grpc.Metadata | undefined;

  constructor(
    private readonly h2: http2.ServerHttp2Stream,
    private readonly requestHeaders: http2.IncomingHttpHeaders,
    private readonly definition: AnyMethod,
    readonly connection: ConnectionContext,
  ) {
    super({ objectMode: true, allowHalfOpen: true });
    h2.on('data', (chunk: Buffer) => this.onData(chunk));
    h2.on('end', () => this.onEnd());
    h2.on('wantTrailers', () => h2.sendTrailers(this.trailers));
    h2.on('close', () => this.onTransportClosed());
    this.on('error', (err: StatusLike) => this.sendStatus(err.code ?? grpc.status.UNKNOWN, err.details ?? err.message ?? 'error'));
  }

  /** The call's request metadata (parsed on first use: most tunnel streams need only the token). */
  get metadata(): grpc.Metadata {
    this.parsedMetadata ??= metadataFromHeaders(this.requestHeaders);
    return this.parsedMetadata;
  }

  /** One request header, without building Metadata. */
  header(name: string): string | undefined {
    const value = this.requestHeaders[name];
    return Array.isArray(value) ? value[0] : value;
  }

  /** Sends the response headers now (they otherwise go with the first message or the status). */
  sendMetadata(metadata?: grpc.Metadata): void {
    this.ensureHeaders(headersFromMetadata(metadata));
  }

  /** For server-streaming methods: runs once the request message arrived. */
  onceRequest(listener: () => void): void {
    this.requestListener = listener;
  }

  /** Ends the call with a status (no-op once a status went out or the stream is gone). */
  sendStatus(code: grpc.status, details: string): void {
    if (this.statusSent || this.h2.closed || this.h2.destroyed) return;
    this.statusSent = true;
    if (!this.headersSent) {
      this.headersSent = true;
      respondTrailersOnly(this.h2, code, details);
      return;
    }
    this.trailers = code === grpc.status.OK ? { 'grpc-status': '0' } : { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(details) };
    this.h2.end();
  }

  override _write(message: unknown, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.writeFrames([message], callback);
  }

  override _writev(chunks: Array<{ chunk: unknown }>, callback: (err?: Error | null) => void): void {
    this.writeFrames(chunks.map((c) => c.chunk), callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.sendStatus(grpc.status.OK, '');
    callback();
  }

  override _read(): void {
    if (this.h2.isPaused()) this.h2.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // Destroyed before a status went out (an error, or the call abandoned): reset the stream.
    if (!this.statusSent && !this.h2.closed) this.h2.close(NGHTTP2_CANCEL);
    callback(err);
  }

  private writeFrames(messages: unknown[], callback: (err?: Error | null) => void): void {
    if (this.statusSent || this.h2.closed || this.h2.destroyed) return callback(); // the call is over: dropped
    let data: Buffer;
    try {
      const frames = messages.map((m) => frameMessage(this.definition.responseSerialize(m)));
      data = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
    } catch (err) {
      return callback(err as Error);
    }
    this.ensureHeaders();
    if (this.h2.write(data)) callback();
    else this.h2.once('drain', () => callback());
  }

  private ensureHeaders(extra: Record<string, string[]> = {}): void {
    if (this.headersSent || this.h2.closed) return;
    this.headersSent = true;
    this.h2.respond({ ...extra, ':status': 200, 'content-type': GRPC_CONTENT_TYPE }, { waitForTrailers: true });
  }

  private onData(chunk: Buffer): void {
    let messages: Buffer[];
    try {
      messages = this.decoder.push(chunk);
    } catch (err) {
      this.failAndClose(err as GrpcWireError);
      return;
    }
    for (const bytes of messages) {
      let message: unknown;
      try {
        message = this.definition.requestDeserialize(bytes);
      } catch {
        this.failAndClose(new GrpcWireError(grpc.status.INTERNAL, 'could not parse the request message'));
        return;
      }
      if (!this.definition.requestStream) {
        this.acceptSingleRequest(message);
        continue;
      }
      if (!this.push(message)) this.h2.pause();
    }
  }

  private acceptSingleRequest(message: unknown): void {
    if (this.request !== undefined) return; // a second request on a server-streaming call: ignored
    this.request = message;
    const listener = this.requestListener;
    this.requestListener = undefined;
    listener?.();
  }

  private onEnd(): void {
    if (this.decoder.bufferedBytes > 0) {
      this.failAndClose(new GrpcWireError(grpc.status.INTERNAL, 'the request stream ended in the middle of a message'));
      return;
    }
    if (!this.definition.requestStream && this.request === undefined) {
      this.failAndClose(new GrpcWireError(grpc.status.INVALID_ARGUMENT, 'the call ended without a request message'));
      return;
    }
    this.push(null);
  }

  private failAndClose(err: GrpcWireError): void {
    this.sendStatus(err.code, err.message);
    this.destroy();
  }

  private onTransportClosed(): void {
    if (this.statusSent) {
      if (!this.destroyed) this.destroy();
      return;
    }
    // Closed before kas answered with a status: the client cancelled, or its connection went.
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
    if (!this.destroyed) this.destroy(new GrpcWireError(grpc.status.CANCELLED, 'the call was cancelled by the client or its connection closed'));
  }
}
