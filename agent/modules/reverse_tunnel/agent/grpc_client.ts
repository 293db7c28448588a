// agentk's gRPC client for tunnel streams, on node:http2 directly. agentk opens one Connect
// stream per proxied request; a grpc-js client call per stream (call object, metadata,
// interceptors, status machinery) was most of agentk's CPU in the benchmark's profiles.
// One HTTP/2 session at a time: dialled on first use, replaced when kas sends GOAWAY (max
// connection age) or the connection drops; calls opened meanwhile wait for the next session.
// A call behaves as a grpc-js ClientDuplexStream does where agentk relies on it: 'metadata' when
// kas accepted the stream, messages as 'data', 'end', then 'error' (status not OK) and 'status',
// and cancel().
import * as grpc from '@grpc/grpc-js';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { Duplex } from 'node:stream';
import type { Logger } from '../../../internal/log';
import { GRPC_CONTENT_TYPE, MessageDecoder, decodeGrpcMessage, frameMessage, metadataFromHeaders, parseGrpcStatus } from '../grpc_wire';

export interface NativeGrpcChannelOptions {
  /** :authority of every call (kas's host:port, or the TLS server name). */
  authority: string;
  scheme: 'http' | 'https';
  /** Dials kas: a connected socket ready for HTTP/2 (TLS already negotiated h2). */
  connect(): Promise<net.Socket>;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** HTTP/2 receive window per stream and per connection (request bodies, exec stdin). */
  flowControlWindow: number;
  logger: Logger;
}

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

export class NativeGrpcChannel {
  private session: http2.ClientHttp2Session | undefined;
  private connecting: Promise<http2.ClientHttp2Session> | undefined;
  private readonly sessions = new Set<http2.ClientHttp2Session>();
  private readonly acceptance = new WeakMap<http2.ClientHttp2Session, SessionAcceptance>();
  private closed = false;

  constructor(private readonly options: NativeGrpcChannelOptions) {}

  /** Starts a call; request headers go out as soon as a session is up. */
  openCall<Req, Res>(path: string, metadata: Record<string, string>, codec: CallCodec<Req, Res>): ClientCall<Req, Res> {
    const call = new ClientCall<Req, Res>(codec);
    const headers = { ...metadata, ':method': 'POST', ':path': path, ':scheme': this.options.scheme, ':authority': this.options.authority, 'content-type': GRPC_CONTENT_TYPE, te: 'trailers' };
    const start = (session: http2.ClientHttp2Session) => {
      try {
        call.attach(session.request(headers, { waitForTrailers: false }), this.acceptanceOf(session));
      } catch (err) {
        call.failToStart(err as Error); // the session closed in between
      }
    };
    if (this.session && !this.session.closed && !this.session.destroyed) start(this.session);
    else this.currentSession().then(start, (err: Error) => call.failToStart(err));
    return call;
  }

  private acceptanceOf(session: http2.ClientHttp2Session): SessionAcceptance {
    let acceptance = this.acceptance.get(session);
    if (!acceptance) {
      acceptance = new SessionAcceptance();
      this.acceptance.set(session, acceptance);
    }
    return acceptance;
  }

  close(): void {
    this.closed = true;
    for (const session of this.sessions) session.destroy();
    this.sessions.clear();
    this.session = undefined;
  }

  private currentSession(): Promise<http2.ClientHttp2Session> {
    if (this.closed) return Promise.reject(new Error('the channel to kas is closed'));
    this.connecting ??= this.dial().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async dial(): Promise<http2.ClientHttp2Session> {
    const socket = await this.options.connect();
    if (this.closed) {
      socket.destroy();
      throw new Error('the channel to kas is closed');
    }
    const session = http2.connect(`${this.options.scheme}://${this.options.authority}`, {
      createConnection: () => socket,
      settings: { initialWindowSize: this.options.flowControlWindow, enablePush: false },
      maxSessionMemory: 256,
    });
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
      session.once('close', () => reject(new Error('kas closed the connection during the HTTP/2 handshake')));
    });
    this.adopt(session);
    return session;
  }

  private adopt(session: http2.ClientHttp2Session): void {
    this.session = session;
    this.sessions.add(session);
    session.on('error', (err) => this.options.logger.debug('kas connection error', { err }));
    try {
      session.setLocalWindowSize(this.options.flowControlWindow);
    } catch {
      // already closing
    }
    const retire = () => {
      if (this.session === session) this.session = undefined;
    };
    session.on('goaway', retire); // kas recycles the connection: calls in flight finish, new ones go elsewhere
    const stopKeepalive = this.startKeepalive(session);
    session.once('close', () => {
      retire();
      stopKeepalive();
      this.sessions.delete(session);
    });
  }

  private startKeepalive(session: http2.ClientHttp2Session): () => void {
    let pingTimeout: NodeJS.Timeout | undefined;
    const pinger = setInterval(() => {
      if (pingTimeout || session.closed) return;
      pingTimeout = setTimeout(() => session.destroy(), this.options.keepaliveTimeoutMs);
      const acknowledged = () => {
        clearTimeout(pingTimeout);
        pingTimeout = undefined;
      };
      if (!session.ping(acknowledged)) acknowledged();
    }, this.options.keepaliveTimeMs);
    return () => {
      clearInterval(pinger);
      clearTimeout(pingTimeout);
    };
  }
}

type WriteCallback = (err?: Error | null) => void;

/** A call's end: `fromKas` when kas sent the status (not a reset, a drop or a local cancel). */
export type CallStatus = grpc.StatusObject & { fromKas?: boolean };

/**
 * Whether kas accepted a call on this connection. kas checks the agent token once per connection
 * and then leaves out the accept headers of further tunnel streams (they go with the request):
 * calls on an accepted connection count as accepted ('metadata'), and a later refusal still ends
 * them with kas's status.
 */
export class SessionAcceptance {
  private accepted = false;
  private readonly waiting = new Set<{ presumeAccepted(): void }>();

  get isAccepted(): boolean {
    return this.accepted;
  }

  markAccepted(): void {
    if (this.accepted) return;
    this.accepted = true;
    for (const call of this.waiting) call.presumeAccepted();
    this.waiting.clear();
  }

  waitFor(call: { presumeAccepted(): void }): () => void {
    this.waiting.add(call);
    return () => this.waiting.delete(call);
  }
}

export interface CallCodec<Req, Res> {
  serialize(value: Req): Uint8Array;
  deserialize(bytes: Buffer): Res;
  /** Optional: a message already framed as buffers to write in order (zero-copy paths), or undefined. */
  frameParts?(value: Req): Buffer[] | undefined;
}

/** A client call: object-mode Duplex, requests out, decoded responses in. */
export class ClientCall<Req, Res> extends Duplex {
  private h2: http2.ClientHttp2Stream | undefined;
  private waitingWrite: { parts: Buffer[]; callback: WriteCallback } | undefined;
  private waitingFinal: WriteCallback | undefined;
  private status: CallStatus | undefined;
  private metadataEmitted = false;
  private acceptance: SessionAcceptance | undefined;
  private stopWaitingForAcceptance: (() => void) | undefined;
  private cancelRequested = false;
  private finished = false;
  private readonly decoder = new MessageDecoder();

  constructor(private readonly codec: CallCodec<Req, Res>) {
    // No autoDestroy: the call ends when its status is known (after 'end' and the trailers).
    super({ objectMode: true, allowHalfOpen: true, autoDestroy: false });
  }

  /** Stops the call (RST_STREAM CANCEL); it ends with status CANCELLED. */
  cancel(): void {
    this.cancelRequested = true;
    if (this.h2 && !this.h2.closed) this.h2.close(NGHTTP2_CANCEL);
    else if (!this.h2) this.finish({ code: grpc.status.CANCELLED, details: 'Cancelled on client', metadata: new grpc.Metadata() });
  }

  attach(h2: http2.ClientHttp2Stream, acceptance: SessionAcceptance = new SessionAcceptance()): void {
    if (this.finished || this.cancelRequested) {
      h2.close(NGHTTP2_CANCEL);
      return;
    }
    this.h2 = h2;
    this.acceptance = acceptance;
    if (acceptance.isAccepted) process.nextTick(() => this.presumeAccepted());
    else this.stopWaitingForAcceptance = acceptance.waitFor(this);
    h2.on('response', (headers) => this.onResponseHeaders(headers));
    h2.on('trailers', (trailers) => this.recordStatus(trailers));
    h2.on('data', (chunk: Buffer) => this.onData(chunk));
    h2.on('end', () => this.onEnd());
    h2.on('error', () => undefined); // 'close' follows, with the reason in rstCode
    h2.on('close', () => this.finish(this.status ?? statusFromReset(h2.rstCode, this.cancelRequested)));
    const write = this.waitingWrite;
    this.waitingWrite = undefined;
    if (write) this.writeNow(write.parts, write.callback);
    const final = this.waitingFinal;
    this.waitingFinal = undefined;
    if (final) this._final(final);
  }

  /** kas accepted a call on this connection: this one counts as accepted too (see SessionAcceptance). */
  presumeAccepted(): void {
    if (this.finished || this.metadataEmitted || this.status) return;
    this.metadataEmitted = true;
    this.emit('metadata', new grpc.Metadata());
  }

  /** The session could not be dialled (or closed before the call started). */
  failToStart(err: Error): void {
    this.finish({ code: grpc.status.UNAVAILABLE, details: `cannot reach kas: ${err.message}`, metadata: new grpc.Metadata() });
  }

  override _write(message: Req, _encoding: BufferEncoding, callback: WriteCallback): void {
    this.frameAndWrite([message], callback);
  }

  override _writev(chunks: Array<{ chunk: Req }>, callback: WriteCallback): void {
    this.frameAndWrite(chunks.map((c) => c.chunk), callback);
  }

  override _final(callback: WriteCallback): void {
    if (!this.h2) {
      if (this.finished) callback();
      else this.waitingFinal = callback;
      return;
    }
    if (!this.h2.closed && !this.h2.writableEnded) this.h2.end();
    callback();
  }

  override _read(): void {
    if (this.h2?.isPaused()) this.h2.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.h2 && !this.h2.closed) this.h2.close(NGHTTP2_CANCEL);
    callback(err);
  }

  private frameAndWrite(messages: Req[], callback: WriteCallback): void {
    let parts: Buffer[];
    try {
      parts = messages.flatMap((m) => this.codec.frameParts?.(m) ?? [frameMessage(this.codec.serialize(m))]);
    } catch (err) {
      return callback(err as Error);
    }
    if (this.h2) this.writeNow(parts, callback);
    else if (this.finished) callback();
    else this.waitingWrite = { parts, callback };
  }

  /** All parts in one HTTP/2 write (corked: Http2Stream takes them as one writev). */
  private writeNow(parts: Buffer[], callback: WriteCallback): void {
    const h2 = this.h2!;
    if (h2.closed || h2.destroyed || h2.writableEnded) return callback(); // the call is over: dropped
    if (parts.length > 1) h2.cork();
    let flowing = true;
    for (const part of parts) flowing = h2.write(part);
    if (parts.length > 1) h2.uncork();
    if (flowing) callback();
    else h2.once('drain', () => callback());
  }

  private onResponseHeaders(headers: http2.IncomingHttpHeaders): void {
    const status = Number(headers[':status']);
    if (status !== 200) {
      this.status = { code: grpc.status.UNKNOWN, details: `kas answered HTTP ${status} instead of gRPC`, metadata: new grpc.Metadata() };
      return;
    }
    if (headers['grpc-status'] !== undefined) {
      this.recordStatus(headers); // trailers-only: the call failed (or finished) at once
      return;
    }
    this.acceptance?.markAccepted();
    if (this.metadataEmitted) return;
    this.metadataEmitted = true;
    this.emit('metadata', metadataFromHeaders(headers));
  }

  private recordStatus(trailers: http2.IncomingHttpHeaders): void {
    this.status ??= { code: parseGrpcStatus(trailers['grpc-status']), details: decodeGrpcMessage(trailers['grpc-message']), metadata: metadataFromHeaders(trailers), fromKas: true };
  }

  private onData(chunk: Buffer): void {
    let messages: Buffer[];
    try {
      messages = this.decoder.push(chunk);
    } catch (err) {
      this.status = { code: grpc.status.INTERNAL, details: (err as Error).message, metadata: new grpc.Metadata() };
      this.h2?.close(NGHTTP2_CANCEL);
      return;
    }
    for (const bytes of messages) {
      let message: Res;
      try {
        message = this.codec.deserialize(bytes);
      } catch {
        this.status = { code: grpc.status.INTERNAL, details: 'could not parse a message from kas', metadata: new grpc.Metadata() };
        this.h2?.close(NGHTTP2_CANCEL);
        return;
      }
      if (!this.push(message)) this.h2?.pause();
    }
  }

  private onEnd(): void {
    this.push(null);
    // kas finished the call while agentk still had its side open (e.g. the client went away):
    // nothing more will be read, so the stream closes here rather than staying half-open.
    const h2 = this.h2;
    if (h2 && !h2.closed && !h2.writableEnded) h2.close(NGHTTP2_NO_ERROR);
  }

  private finish(status: CallStatus): void {
    if (this.finished) return;
    this.finished = true;
    this.stopWaitingForAcceptance?.();
    if (!this.readableEnded) this.push(null);
    const waiting = this.waitingWrite;
    this.waitingWrite = undefined;
    waiting?.callback();
    const final = this.waitingFinal;
    this.waitingFinal = undefined;
    final?.();
    if (status.code !== grpc.status.OK) this.emit('error', Object.assign(new Error(`${status.code} ${grpc.status[status.code] ?? ''}: ${status.details}`), status));
    this.emit('status', status);
    // Messages the reader has not taken yet (it paused for backpressure) are still delivered.
    if (status.code === grpc.status.OK && this.readableLength > 0) this.once('end', () => this.destroy());
    else this.destroy();
  }
}

function statusFromReset(rstCode: number | undefined, cancelledHere: boolean): grpc.StatusObject {
  const metadata = new grpc.Metadata();
  if (cancelledHere) return { code: grpc.status.CANCELLED, details: 'Cancelled on client', metadata };
  if (rstCode === NGHTTP2_REFUSED_STREAM) return { code: grpc.status.UNAVAILABLE, details: 'kas refused the stream', metadata };
  if (rstCode === NGHTTP2_CANCEL) return { code: grpc.status.CANCELLED, details: 'kas cancelled the stream', metadata };
  return { code: grpc.status.UNAVAILABLE, details: `the stream to kas closed without a status (HTTP/2 code ${rstCode ?? 'none'})`, metadata };
}
