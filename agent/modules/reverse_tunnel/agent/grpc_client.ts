// agentk's gRPC client for tunnel streams, on node:http2 directly. agentk opens one Connect
// stream per proxied request; a grpc-js client call per stream (call object, metadata,
// interceptors, status machinery) was most of agentk's CPU in the benchmark's profiles.
// One HTTP/2 session at a time: dialled on first use, replaced when kas sends GOAWAY (max
// connection age) or the connection drops; calls opened meanwhile wait for the next session.
// A call behaves as a grpc-js ClientDuplexStream does where agentk relies on it: 'metadata' when
// kas accepted the stream, messages as 'data', 'end', then 'error' (status not OK) and 'status',
// and cancel().
import { Metadata, Status, type StatusObject } from '../../../internal/grpc';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { EventEmitter } from 'node:events';
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
  private lastHeaders: { path: string; metadata: Record<string, string>; headers: http2.OutgoingHttpHeaders } | undefined;

  constructor(private readonly options: NativeGrpcChannelOptions) {}

  /** Starts a call; request headers go out as soon as a session is up. */
  openCall<Req, Res>(path: string, metadata: Record<string, string>, codec: CallCodec<Req, Res>): ClientCall<Req, Res> {
    const call = new ClientCall<Req, Res>(codec);
    const headers = this.requestHeaders(path, metadata);
    const session = this.session;
    if (session && !session.closed && !session.destroyed) this.startCall(call, session, headers);
    else
      this.currentSession().then(
        (ready) => this.startCall(call, ready, headers),
        (err: Error) => call.failToStart(err),
      );
    return call;
  }

  private startCall<Req, Res>(call: ClientCall<Req, Res>, session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): void {
    try {
      call.attach(session.request(headers, { waitForTrailers: false }), this.acceptanceOf(session));
    } catch (err) {
      call.failToStart(err as Error); // the session closed in between
    }
  }

  /** The request headers of a call; the tunnel opens every stream with the same ones (Node copies them). */
  private requestHeaders(path: string, metadata: Record<string, string>): http2.OutgoingHttpHeaders {
    const cached = this.lastHeaders;
    if (cached && cached.path === path && cached.metadata === metadata) return cached.headers;
    const headers = {
      ...metadata,
      ':method': 'POST',
      ':path': path,
      ':scheme': this.options.scheme,
      ':authority': this.options.authority,
      'content-type': GRPC_CONTENT_TYPE,
      te: 'trailers',
    };
    this.lastHeaders = { path, metadata, headers };
    return headers;
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

/** A call's end: `fromKas` when kas sent the status (not a reset, a drop or a local cancel). */
export type CallStatus = StatusObject & { fromKas?: boolean };

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

/**
 * What a call tells its owner (agentk's pool) directly, instead of through events and listeners:
 * one observer object per call instead of six listeners and their closures, per proxied request.
 */
export interface CallObserver<Res> {
  /** kas accepted the stream (or a stream on the same connection, see SessionAcceptance). */
  onAccepted(): void;
  /** The first message from kas; later ones go to 'data' listeners. */
  onFirstMessage(message: Res): void;
  /** end() handed agentk's last frames and END_STREAM to HTTP/2 (a turn later, as 'finish'). */
  onEndSent(): void;
  /** The call is over (once). */
  onFinished(status: CallStatus): void;
}

export interface CallCodec<Req, Res> {
  serialize: (value: Req) => Uint8Array;
  /** Called unbound. undefined: the message stands for nothing the reader sees (a translating codec holds it). */
  deserialize: (bytes: Buffer) => Res | undefined;
  /** Optional: a message already framed as buffers to write in order (zero-copy paths), or undefined. */
  frameParts?(value: Req): Buffer[] | undefined;
}

/**
 * A client call: requests out, decoded responses in. It offers the part of a Duplex's surface
 * that agentk's pool and forwarder use (write/cork/uncork/end/writable, pause/resume, events
 * 'metadata', 'data', 'end', 'drain', 'finish', 'error', 'status', 'close') without being a
 * stream.Duplex: agentk opens one call per proxied request, and an object-mode Duplex per call
 * (two state machines, write callbacks and ticks per message, a second buffer in front of the
 * HTTP/2 stream's own) showed as a large share of agentk's CPU per request. Writes go straight
 * to the HTTP/2 stream, whose cork/uncork and 'drain' give the batching and backpressure.
 */
export class ClientCall<Req, Res> extends EventEmitter {
  private h2: http2.ClientHttp2Stream | undefined;
  /** Frames written before the HTTP/2 stream exists (the descriptor, while the session dials). */
  private pendingParts: Buffer[] | undefined;
  private corks = 0;
  private endRequested = false;
  private finishEmitted = false;
  private status: CallStatus | undefined;
  private metadataEmitted = false;
  private acceptance: SessionAcceptance | undefined;
  private stopWaitingForAcceptance: (() => void) | undefined;
  private cancelRequested = false;
  private finished = false;
  /** false after pause(): messages then wait in `inbox` and HTTP/2 stops reading (flow control). */
  private flowing = true;
  private inbox: Res[] | undefined;
  private flushScheduled = false;
  private remoteEnded = false;
  private endEmitted = false;
  private waitingForDrain = false;
  private observer: CallObserver<Res> | undefined;
  private firstMessageSeen = false;
  private readonly decoder = new MessageDecoder();
  private readonly deliverMessage = (message: Res | undefined): void => {
    if (message !== undefined) this.deliver(message);
  };

  constructor(private readonly codec: CallCodec<Req, Res>) {
    super();
  }

  /** Sets the call's owner; its first message then goes to the observer, not to 'data'. */
  observe(observer: CallObserver<Res>): void {
    this.observer = observer;
  }

  /** Until end() is called or the call is over (as Writable#writable). */
  get writable(): boolean {
    return !this.endRequested && !this.finished;
  }

  get writableEnded(): boolean {
    return this.endRequested;
  }

  get destroyed(): boolean {
    return this.finished;
  }

  /** Bytes written but not yet taken by the connection (HTTP/2 buffer or not yet attached), as Writable#writableLength. */
  get writableLength(): number {
    if (this.h2) return this.h2.writableLength;
    return this.pendingParts?.reduce((sum, part) => sum + part.length, 0) ?? 0;
  }

  /** Stops the call (RST_STREAM CANCEL); it ends with status CANCELLED. */
  cancel(): void {
    this.cancelRequested = true;
    if (this.h2 && !this.h2.closed) this.h2.close(NGHTTP2_CANCEL);
    else if (!this.h2) this.finish({ code: Status.CANCELLED, details: 'Cancelled on client', metadata: new Metadata() });
  }

  /** As cancel(): a stream torn down from agentk's side. */
  destroy(): this {
    if (!this.finished) this.cancel();
    return this;
  }

  /**
   * Frames the message and hands it to HTTP/2. false: HTTP/2's buffer is full, wait for 'drain'.
   * Writes after end() or after the call finished are dropped (the peer is gone or done).
   */
  write(message: Req): boolean {
    if (this.endRequested || this.finished) return true;
    let parts: Buffer[];
    try {
      parts = this.codec.frameParts?.(message) ?? [frameMessage(this.codec.serialize(message))];
    } catch (err) {
      this.failLocally(`agentk could not encode a message: ${(err as Error).message}`);
      return true;
    }
    const h2 = this.h2;
    if (!h2) {
      (this.pendingParts ??= []).push(...parts);
      return true;
    }
    if (h2.closed || h2.destroyed || h2.writableEnded) return true;
    let flowing = true;
    if (parts.length === 1) flowing = h2.write(parts[0]);
    else {
      h2.cork(); // all parts in one writev
      for (const part of parts) flowing = h2.write(part);
      h2.uncork();
    }
    if (!flowing) this.awaitDrain(h2);
    return flowing;
  }

  /** Writes until the matching uncork() leave in one HTTP/2 write. */
  cork(): void {
    this.corks++;
    this.h2?.cork();
  }

  uncork(): void {
    if (this.corks === 0) return;
    this.corks--;
    this.h2?.uncork();
  }

  /** Half-closes agentk's side (END_STREAM after the frames written so far); 'finish' follows. */
  end(message?: Req): this {
    if (message !== undefined) this.write(message);
    if (this.endRequested) return this;
    this.endRequested = true;
    this.corks = 0; // as Writable#end: ending uncorks
    if (this.h2) this.endH2(this.h2);
    else if (this.finished) this.emitFinish();
    return this;
  }

  pause(): this {
    this.flowing = false;
    return this;
  }

  resume(): this {
    this.flowing = true;
    if (this.inbox?.length || (this.remoteEnded && !this.endEmitted)) this.scheduleFlush();
    else if (this.h2?.isPaused()) this.h2.resume();
    return this;
  }

  isPaused(): boolean {
    return !this.flowing;
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
    for (let i = 0; i < this.corks; i++) h2.cork();
    const pending = this.pendingParts;
    this.pendingParts = undefined;
    if (pending) {
      h2.cork();
      for (const part of pending) h2.write(part);
      h2.uncork();
    }
    if (this.endRequested) this.endH2(h2);
  }

  /** kas accepted a call on this connection: this one counts as accepted too (see SessionAcceptance). */
  presumeAccepted(): void {
    if (this.finished || this.metadataEmitted || this.status) return;
    this.metadataEmitted = true;
    this.observer?.onAccepted();
    if (this.listenerCount('metadata') > 0) this.emit('metadata', new Metadata());
  }

  /** The session could not be dialled (or closed before the call started). */
  failToStart(err: Error): void {
    this.finish({ code: Status.UNAVAILABLE, details: `cannot reach kas: ${err.message}`, metadata: new Metadata() });
  }

  private endH2(h2: http2.ClientHttp2Stream): void {
    if (!h2.closed && !h2.writableEnded) h2.end();
    if (this.observer || this.listenerCount('finish') > 0) process.nextTick(() => this.emitFinish());
  }

  private emitFinish(): void {
    if (this.finishEmitted) return;
    this.finishEmitted = true;
    this.observer?.onEndSent();
    this.emit('finish');
  }

  private awaitDrain(h2: http2.ClientHttp2Stream): void {
    if (this.waitingForDrain) return;
    this.waitingForDrain = true;
    h2.once('drain', () => {
      this.waitingForDrain = false;
      this.emit('drain');
    });
  }

  private failLocally(details: string): void {
    this.status ??= { code: Status.INTERNAL, details, metadata: new Metadata() };
    if (this.h2) {
      if (!this.h2.closed) this.h2.close(NGHTTP2_CANCEL);
    } else this.finish(this.status);
  }

  private onResponseHeaders(headers: http2.IncomingHttpHeaders): void {
    const status = Number(headers[':status']);
    if (status !== 200) {
      this.status = { code: Status.UNKNOWN, details: `kas answered HTTP ${status} instead of gRPC`, metadata: new Metadata() };
      return;
    }
    if (headers['grpc-status'] !== undefined) {
      this.recordStatus(headers); // trailers-only: the call failed (or finished) at once
      return;
    }
    this.acceptance?.markAccepted();
    if (this.metadataEmitted) return;
    this.metadataEmitted = true;
    this.observer?.onAccepted();
    if (this.listenerCount('metadata') > 0) this.emit('metadata', metadataFromHeaders(headers));
  }

  private recordStatus(trailers: http2.IncomingHttpHeaders): void {
    this.status ??= {
      code: parseGrpcStatus(trailers['grpc-status']),
      details: decodeGrpcMessage(trailers['grpc-message']),
      metadata: metadataFromHeaders(trailers),
      fromKas: true,
    };
  }

  private onData(chunk: Buffer): void {
    const failure = this.decoder.decode(chunk, this.codec.deserialize, this.deliverMessage, 'could not parse a message from kas');
    if (!failure) return;
    this.status = { code: Status.INTERNAL, details: failure.message, metadata: new Metadata() };
    this.h2?.close(NGHTTP2_CANCEL);
  }

  /** A message to the reader now, or into the inbox while paused (HTTP/2 stops reading then). */
  private deliver(message: Res): void {
    const observer = this.observer;
    if (observer && !this.firstMessageSeen) {
      this.firstMessageSeen = true;
      observer.onFirstMessage(message);
      return;
    }
    if (this.flowing && !this.inbox?.length) {
      this.emit('data', message);
      return;
    }
    (this.inbox ??= []).push(message);
    if (!this.flowing) this.h2?.pause();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => {
      this.flushScheduled = false;
      this.flushInbox();
    });
  }

  /** After resume(): queued messages in order, then 'end' if kas finished meanwhile. */
  private flushInbox(): void {
    const inbox = this.inbox;
    while (this.flowing && inbox && inbox.length > 0) this.emit('data', inbox.shift()!);
    if (!this.flowing) return;
    if (this.remoteEnded) this.emitEnd();
    else if (this.h2?.isPaused()) this.h2.resume();
  }

  private emitEnd(): void {
    if (this.endEmitted) return;
    this.endEmitted = true;
    this.emit('end');
  }

  private onEnd(): void {
    this.remoteEnded = true;
    if (this.flowing && !this.inbox?.length) this.emitEnd();
    // kas finished the call while agentk still had its side open (e.g. the client went away):
    // nothing more will be read, so the stream closes here rather than staying half-open.
    const h2 = this.h2;
    if (h2 && !h2.closed && !h2.writableEnded) h2.close(NGHTTP2_NO_ERROR);
  }

  private finish(status: CallStatus): void {
    if (this.finished) return;
    this.finished = true;
    this.remoteEnded = true;
    this.stopWaitingForAcceptance?.();
    this.pendingParts = undefined;
    const ok = status.code === Status.OK;
    if (!ok) this.inbox = undefined; // as a destroyed stream: undelivered messages are dropped
    if (this.flowing && !this.inbox?.length) this.emitEnd();
    // With an observer, nobody may listen for 'error' (an idle pool stream): the observer hears it.
    if (!ok && (!this.observer || this.listenerCount('error') > 0))
      this.emit('error', Object.assign(new Error(`${status.code} ${Status[status.code] ?? ''}: ${status.details}`), status));
    this.observer?.onFinished(status);
    this.emit('status', status);
    // Messages the reader has not taken yet (it paused for backpressure) are still delivered.
    if (ok && this.inbox?.length) this.once('end', () => process.nextTick(() => this.emit('close')));
    else process.nextTick(() => this.emit('close'));
  }
}

function statusFromReset(rstCode: number | undefined, cancelledHere: boolean): StatusObject {
  const metadata = new Metadata();
  if (cancelledHere) return { code: Status.CANCELLED, details: 'Cancelled on client', metadata };
  if (rstCode === NGHTTP2_REFUSED_STREAM) return { code: Status.UNAVAILABLE, details: 'kas refused the stream', metadata };
  if (rstCode === NGHTTP2_CANCEL) return { code: Status.CANCELLED, details: 'kas cancelled the stream', metadata };
  return {
    code: Status.UNAVAILABLE,
    details: `the stream to kas closed without a status (HTTP/2 code ${rstCode ?? 'none'})`,
    metadata,
  };
}
