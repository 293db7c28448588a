// agentk: serves one tunneled Kubernetes API request. The body streams from kas to the API and
// the response streams back frame by frame as it arrives (watch, logs -f), with backpressure
// both ways. Upgrades (exec, attach, port-forward) continue after the 101 as raw bytes in both
// directions until either side closes.
//
// The upstream request goes through undici's low-level dispatch handler (onConnect, onHeaders,
// onData, onComplete, onError, onUpgrade): no IncomingMessage/ClientRequest streams per request,
// response headers as raw name/value buffers, pause by returning false from onData. The
// onResponse* style handler is undici's newer surface, but undici wraps it per request and parses
// the headers into an object first; the raw one is what its HTTP/1.1 client calls natively.
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { Status } from '../../../internal/grpc';
import type { Dispatcher } from 'undici';
import type { Logger } from '../../../internal/log';
import type { TunnelClientStream } from '../../reverse_tunnel/agent/dial';
import type { TunnelRequestHandler } from '../../reverse_tunnel/agent/pool';
import { answerTunnelError } from '../../reverse_tunnel/agent/services';
import { messageBytes, type ConnectRequest, type ConnectResponse, type ValuesMap } from '../../reverse_tunnel/protocol';
import { decodeMakeRequestHeader, type CallerInfo, type HttpRequest } from '../rpc';
import { impersonationHeaders, isImpersonationHeader, parseAccessAs, type AccessAs } from '../access_as';
import type { KubernetesApiUpstream, UpstreamTarget } from './upstream';

export interface ForwarderOptions {
  upstream: KubernetesApiUpstream;
  logger: Logger;
}

// Never forwarded from the client: per-connection headers, credentials (the kubeconfig's apply),
// and Expect (kas's HTTP server already answered 100-continue; undici refuses the header).
const DROPPED_REQUEST_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'authorization',
  'cookie',
  'proxy-authorization',
  'expect',
]);

/** How much of a response may wait in a tunnel stream before the upstream is paused. */
const TUNNEL_BACKLOG_BYTES = 256 * 1024;

/** The tunnel stream ended or failed before the answer: kas's client went away. */
class ClientGoneError extends Error {
  override name = 'ClientGoneError';
}

export function createKubernetesApiForwarder(options: ForwarderOptions): TunnelRequestHandler {
  return (stream, request) => {
    let httpRequest: HttpRequest | null | undefined;
    let headers: Record<string, string | string[]>;
    try {
      const header = decodeMakeRequestHeader(request.header);
      httpRequest = header.http;
      if (!httpRequest) throw new Error('the request has no HTTP request');
      headers = clientHeaders(httpRequest.headers, header.caller ?? undefined);
    } catch (err) {
      answerTunnelError(stream, Status.INVALID_ARGUMENT, (err as Error).message);
      return;
    }
    const exchange = new Exchange(stream, httpRequest, headers, options.logger);
    // Credentials are re-read every few seconds; in between, the request leaves in this turn.
    const target = options.upstream.freshTarget();
    if (target) return exchange.start(target);
    // Frames after the request wait in the stream until the upstream request exists.
    stream.pause();
    options.upstream.target().then(
      (fresh) => {
        exchange.start(fresh);
        stream.resume();
      },
      (err: unknown) => exchange.failPreparation(err),
    );
  };
}

/** The client's headers that go upstream; impersonation (access_as) replaces the client's own Impersonate-*. */
export function clientHeaders(values: ValuesMap | undefined, caller: CallerInfo | undefined): Record<string, string | string[]> {
  const impersonation = impersonationHeaders(
    accessAsOf(caller?.accessAsJson),
    caller?.username ? { username: caller.username, groups: caller.groups ?? [] } : undefined,
  );
  const headers: Record<string, string | string[]> = {};
  for (const name in values) {
    const list = values[name]?.value;
    if (!list?.length || DROPPED_REQUEST_HEADERS.has(name)) continue;
    if (impersonation && isImpersonationHeader(name)) continue; // only access_as agent lets the client impersonate
    // A single value as a string: undici takes content-length only so, and copies arrays.
    headers[name] = list.length === 1 ? list[0]! : list;
  }
  return impersonation ? Object.assign(headers, impersonation) : headers;
}

// kas sends the same few access_as documents with every request: parse each once.
const parsedAccessAs = new Map<string, AccessAs>();
const PARSED_ACCESS_AS_LIMIT = 256;

function accessAsOf(json: string | undefined): AccessAs {
  if (!json) return parseAccessAs(json);
  let accessAs = parsedAccessAs.get(json);
  if (!accessAs) {
    accessAs = parseAccessAs(json); // throws for bad input: not cached
    if (parsedAccessAs.size >= PARSED_ACCESS_AS_LIMIT) parsedAccessAs.clear();
    parsedAccessAs.set(json, accessAs);
  }
  return accessAs;
}

/** Request body frames → undici (a Readable: undici reads it as the upstream socket takes bytes). */
class TunnelRequestBody extends Readable {
  constructor(private readonly stream: TunnelClientStream) {
    super();
  }

  override _read(): void {
    this.stream.resume();
  }

  add(data: Buffer): void {
    if (!this.push(data)) this.stream.pause();
  }
}

const uncork = (stream: TunnelClientStream) => stream.uncork();

/** One request's two-way traffic between the tunnel stream and the Kubernetes API: an undici dispatch handler. */
class Exchange implements Dispatcher.DispatchHandler {
  private readonly isUpgrade: boolean;
  private body: TunnelRequestBody | undefined;
  private abortUpstream: ((err?: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;
  private upgraded: Duplex | undefined;
  private pendingBeforeUpgrade: Array<Buffer | 'close'> | undefined;
  private connected = false;
  private finished = false;
  private clientGone = false;

  constructor(
    private readonly stream: TunnelClientStream,
    private readonly httpRequest: HttpRequest,
    private readonly headers: Record<string, string | string[]>,
    private readonly logger: Logger,
  ) {
    this.isUpgrade = Boolean(httpRequest.upgrade);
  }

  start(target: UpstreamTarget): void {
    const { stream } = this;
    const httpRequest = this.httpRequest;
    // kas ended or cancelled the stream: the client is gone, so is the upstream request.
    stream.on('end', () => this.onClientGone());
    stream.on('error', () => this.onClientGone());
    stream.on('data', (frame: ConnectResponse) => this.onFrame(frame));
    if (this.isUpgrade) this.pendingBeforeUpgrade = [];
    // An upgrade request has no body (bytes flow after the 101); a request kas saw without a body
    // goes out now: waiting for close_send cost a frame round through both event loops.
    else if (!httpRequest.noBody) this.body = new TunnelRequestBody(stream);
    target.dispatcher.dispatch(
      {
        method: httpRequest.method || 'GET',
        path: target.basePath + (httpRequest.path || '/'),
        headers: Object.assign(this.headers, target.credentialHeaders),
        body: this.body ?? null,
        upgrade: this.isUpgrade ? upgradeProtocol(httpRequest.headers) : null,
      },
      this,
    );
  }

  /** Reading the kubeconfig's credentials failed: nothing went upstream. */
  failPreparation(err: unknown): void {
    this.logger.warn('tunneled request failed before reaching the Kubernetes API', { err });
    this.finished = true;
    answerTunnelError(this.stream, Status.INTERNAL, `agentk could not prepare the request: ${(err as Error).name}`);
  }

  // ---- tunnel → upstream

  private onFrame(frame: ConnectResponse): void {
    if (frame.message) {
      const data = messageBytes(frame.message);
      if (this.upgraded) this.writeToUpgraded(data);
      else if (this.pendingBeforeUpgrade) this.pendingBeforeUpgrade.push(data);
      else this.body?.add(data);
    } else if (frame.closeSend) {
      if (this.upgraded) this.upgraded.end();
      else if (this.pendingBeforeUpgrade) this.pendingBeforeUpgrade.push('close');
      else this.body?.push(null);
    }
  }

  private writeToUpgraded(data: Buffer): void {
    if (!this.upgraded!.write(data)) {
      this.stream.pause();
      this.upgraded!.once('drain', () => this.stream.resume());
    }
  }

  private onClientGone(): void {
    if (this.finished) return;
    this.finished = true;
    this.clientGone = true;
    // After an upgrade undici no longer owns the socket: destroy the socket itself.
    if (this.upgraded) this.upgraded.destroy();
    else this.abortUpstream?.(new ClientGoneError('the client went away'));
    this.body?.destroy();
  }

  // ---- undici's dispatch handler: upstream → tunnel

  onConnect(abort: (err?: Error) => void): void {
    this.connected = true;
    if (this.clientGone) abort(new ClientGoneError('the client went away'));
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true; // 100 Continue, 103 Early Hints: not the answer
    this.resumeUpstream = resume;
    this.sendHeader(statusCode, statusText, rawHeaders);
    return true;
  }

  onData(chunk: Buffer): boolean {
    // undici can report empty pieces (chunked encoding); an empty message frame decodes on
    // kas's side as protobufjs's default for bytes (an empty array), not as a Buffer.
    if (chunk.length === 0) return true;
    // Backpressure at a backlog, not at the first write HTTP/2 did not take whole: pausing undici
    // for every 16 KiB piece cost about a millisecond each (a logs -f stream fell from ~150 to
    // 13 MB/s); the backlog is bounded per stream all the same.
    if (this.stream.write({ message: { data: chunk } } satisfies ConnectRequest) || this.stream.writableLength < TUNNEL_BACKLOG_BYTES)
      return true;
    this.stream.once('drain', this.onTunnelDrain);
    return false;
  }

  private readonly onTunnelDrain = () => this.resumeUpstream?.();

  onComplete(): void {
    this.finish();
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    this.sendHeader(statusCode, http.STATUS_CODES[statusCode] ?? '', rawHeaders ?? []);
    this.upgraded = socket;
    socket.on('error', (err) => this.logger.debug('upgraded connection error', { err }));
    for (const pending of this.pendingBeforeUpgrade ?? []) {
      if (pending === 'close') socket.end();
      else socket.write(pending);
    }
    this.pendingBeforeUpgrade = undefined;
    // undici put bytes that came with the 101 back into the socket (unshift): they arrive as data.
    socket.on('data', (chunk: Buffer) => {
      if (!this.stream.write({ message: { data: chunk } } satisfies ConnectRequest)) {
        socket.pause();
        this.stream.once('drain', () => socket.resume());
      }
    });
    socket.on('end', () => this.finish());
    socket.on('close', () => this.finish());
  }

  onError(err: Error): void {
    if (this.finished) return;
    if (!this.connected && isPreparationError(err)) return this.failPreparation(err); // e.g. InvalidArgumentError: a header or path undici refuses
    this.finished = true;
    this.logger.warn('Kubernetes API request failed', { err });
    // The code, not the text: kas never shows raw upstream error text to clients.
    const code = (err as NodeJS.ErrnoException).code ?? err.name;
    if (this.stream.writable) {
      this.stream.write({ error: { code: Status.UNAVAILABLE, message: `Kubernetes API unreachable (${code})` } });
      this.stream.end();
    }
  }

  private sendHeader(status: number, reason: string, rawHeaders: Buffer[] | string[]): void {
    // Header, body and trailer of a response that arrived in one read leave in one HTTP/2 write:
    // written one by one they cost kas a wake-up each (strace: 3 writes per small response).
    // Later chunks of a streamed response (watch, logs -f) are written as they come.
    this.stream.cork();
    setImmediate(uncork, this.stream);
    this.stream.write({ header: { status, reason, httpHeaders: rawHeadersToValues(rawHeaders) } });
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.stream.writable) {
      this.stream.write({ trailer: {} });
      this.stream.end();
    }
  }
}

/** undici's argument checks (invalid header value or path, unsupported header): agentk's request, not the API, failed. */
function isPreparationError(err: Error): boolean {
  const code = (err as { code?: string }).code;
  return code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED';
}

function upgradeProtocol(values: ValuesMap | undefined): string {
  return values?.['upgrade']?.value?.[0] ?? 'websocket';
}

// Connection-level response headers stay on agentk's connection (kas drops them too, and sets
// its own Connection for a 101); Upgrade is kept: kas writes it back on an upgraded connection.
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding']);

/** undici's raw response headers (name, value, name, value…) → the wire's map; names lower-cased, every value kept. */
function rawHeadersToValues(raw: Buffer[] | string[]): ValuesMap {
  const out: ValuesMap = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = latin1(raw[i]!).toLowerCase();
    if (DROPPED_RESPONSE_HEADERS.has(name)) continue;
    const value = latin1(raw[i + 1]!);
    const entry = out[name];
    if (entry) entry.value!.push(value);
    else out[name] = { value: [value] };
  }
  return out;
}

const latin1 = (bytes: Buffer | string): string => (typeof bytes === 'string' ? bytes : bytes.toString('latin1'));
