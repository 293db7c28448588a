// agentk: serves one tunneled Kubernetes API request. The body streams from kas to the API and
// the response streams back frame by frame as it arrives (watch events, logs -f), with
// backpressure both ways. Upgrades (exec, attach, port-forward) continue after the 101 as raw
// bytes in both directions until either side closes.
import * as grpc from '@grpc/grpc-js';
import type * as http from 'node:http';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { Logger } from '../../../internal/log';
import type { TunnelClientStream } from '../../reverse_tunnel/agent/dial';
import type { TunnelRequestHandler } from '../../reverse_tunnel/agent/pool';
import {
  KUBERNETES_API_MAKE_REQUEST,
  valuesToHeaders,
  type ConnectResponse,
  type ConnectRequest,
  type RequestInfo,
  type ValuesMap,
} from '../../reverse_tunnel/protocol';
import { impersonationHeaders, isImpersonationHeader, parseAccessAs } from '../access_as';
import { requestModuleFor, type KubernetesApiUpstream } from './upstream';

export interface ForwarderOptions {
  upstream: KubernetesApiUpstream;
  logger: Logger;
}

// Never forwarded from the client: per-connection headers and credentials (the kubeconfig's apply).
const DROPPED_REQUEST_HEADERS = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'authorization', 'cookie', 'proxy-authorization']);

export function createKubernetesApiForwarder(options: ForwarderOptions): TunnelRequestHandler {
  return (stream, request) => {
    // Frames after the request wait in the stream until the upstream request exists.
    stream.pause();
    forward(stream, request, options).catch((err: unknown) => {
      options.logger.warn('tunneled request failed before reaching the Kubernetes API', { err });
      sendError(stream, grpc.status.INTERNAL, `agentk could not prepare the request: ${(err as Error).name}`);
    });
  };
}

async function forward(stream: TunnelClientStream, request: RequestInfo, options: ForwarderOptions): Promise<void> {
  const httpRequest = request.http;
  if (request.methodName !== KUBERNETES_API_MAKE_REQUEST || !httpRequest) {
    sendError(stream, grpc.status.UNIMPLEMENTED, `agentk does not offer ${request.methodName ?? '(no method)'}`);
    return;
  }
  let headers: Record<string, string[]>;
  try {
    headers = upstreamHeaders(httpRequest.headers, request, Boolean(httpRequest.upgrade));
  } catch (err) {
    sendError(stream, grpc.status.INVALID_ARGUMENT, (err as Error).message);
    return;
  }
  const target = await options.upstream.requestOptions();
  const basePath = target.url.pathname.replace(/\/$/, '');
  const upstreamRequest = requestModuleFor(target.url).request({
    protocol: target.url.protocol,
    hostname: target.url.hostname.replace(/^\[|\]$/g, ''),
    port: target.url.port || undefined,
    method: httpRequest.method || 'GET',
    path: basePath + (httpRequest.path || '/'),
    headers: { ...headers, ...target.headers },
    auth: target.auth,
    agent: target.agent,
  });
  const exchange = new Exchange(stream, upstreamRequest, Boolean(httpRequest.upgrade), options.logger);
  exchange.start(Boolean(httpRequest.noBody));
}

function upstreamHeaders(values: ValuesMap | undefined, request: RequestInfo, isUpgrade: boolean): Record<string, string[]> {
  const caller = request.caller;
  const impersonation = impersonationHeaders(parseAccessAs(caller?.accessAsJson), caller?.username ? { username: caller.username, groups: caller.groups ?? [] } : undefined);
  const headers: Record<string, string[]> = {};
  for (const [name, list] of Object.entries(valuesToHeaders(values))) {
    if (DROPPED_REQUEST_HEADERS.has(name)) continue;
    if (impersonation && isImpersonationHeader(name)) continue; // only access_as agent lets the client impersonate
    headers[name] = list;
  }
  if (isUpgrade) {
    headers['connection'] = ['Upgrade'];
    headers['upgrade'] = valuesToHeaders(values)['upgrade'] ?? ['websocket'];
  }
  return { ...headers, ...impersonation };
}

function sendError(stream: TunnelClientStream, code: grpc.status, message: string): void {
  if (stream.writable) {
    stream.write({ error: { code, message } });
    stream.end();
  }
  stream.resume();
}

/** One request's two-way traffic between the tunnel stream and the Kubernetes API. */
class Exchange {
  private upgraded: Duplex | undefined;
  private pendingBeforeUpgrade: Array<Buffer | 'close'> = [];
  private headerSent = false;
  private finished = false;

  constructor(
    private readonly stream: TunnelClientStream,
    private readonly upstreamRequest: http.ClientRequest,
    private readonly isUpgrade: boolean,
    private readonly logger: Logger,
  ) {}

  start(noBody: boolean): void {
    const { stream, upstreamRequest } = this;
    upstreamRequest.on('response', (res) => this.onResponse(res));
    upstreamRequest.on('upgrade', (res, socket, head) => this.onUpgrade(res, socket, head));
    upstreamRequest.on('error', (err) => this.onUpstreamError(err));
    // kas ended or cancelled the stream: the client is gone, so is the upstream request.
    stream.on('end', () => this.abort());
    stream.on('error', () => this.abort());
    stream.on('data', (frame: ConnectResponse) => this.onFrame(frame));
    // An upgrade request has no body (bytes flow after the 101). A request kas saw without a body
    // goes out now: waiting for close_send cost a frame round through both event loops.
    if (this.isUpgrade || noBody) upstreamRequest.end();
    stream.resume();
  }

  private onFrame(frame: ConnectResponse): void {
    if (frame.message) {
      const data = asBuffer(frame.message.data);
      if (this.upgraded) this.writeWithBackpressure(this.upgraded, data);
      else if (this.isUpgradePending()) this.pendingBeforeUpgrade.push(data);
      else if (!this.upstreamRequest.writableEnded) this.writeWithBackpressure(this.upstreamRequest, data);
    } else if (frame.closeSend) {
      if (this.upgraded) this.upgraded.end();
      else if (this.isUpgradePending()) this.pendingBeforeUpgrade.push('close');
      else if (!this.upstreamRequest.writableEnded) this.upstreamRequest.end();
    }
  }

  private isUpgradePending(): boolean {
    return this.isUpgrade && !this.headerSent;
  }

  private writeWithBackpressure(target: Writable, data: Buffer): void {
    if (!target.write(data)) {
      this.stream.pause();
      target.once('drain', () => this.stream.resume());
    }
  }

  private onResponse(res: http.IncomingMessage): void {
    this.sendHeader(res);
    this.pipeToTunnel(res);
  }

  private onUpgrade(res: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    this.sendHeader(res);
    this.upgraded = socket;
    socket.on('error', (err) => this.logger.debug('upgraded connection error', { err }));
    if (head.length > 0) this.stream.write({ message: { data: head } });
    for (const pending of this.pendingBeforeUpgrade) {
      if (pending === 'close') socket.end();
      else socket.write(pending);
    }
    this.pendingBeforeUpgrade = [];
    this.pipeToTunnel(socket);
  }

  private sendHeader(res: http.IncomingMessage): void {
    this.headerSent = true;
    // Header, body and trailer of a response that arrived in one read leave in one HTTP/2 write:
    // written one by one they cost kas a wake-up each (strace: 3 writes per small response).
    // Later chunks of a streamed response (watch, logs -f) are written as they come.
    this.stream.cork();
    setImmediate(() => this.stream.uncork());
    this.stream.write({ header: { status: res.statusCode ?? 502, reason: res.statusMessage ?? '', httpHeaders: rawHeadersToValues(res.rawHeaders) } });
  }

  /** Upstream bytes → message frames, as they arrive; then the trailer. */
  private pipeToTunnel(source: Readable): void {
    source.on('data', (chunk: Buffer) => {
      if (!this.stream.write({ message: { data: chunk } } satisfies ConnectRequest)) {
        source.pause();
        this.stream.once('drain', () => source.resume());
      }
    });
    source.on('end', () => this.finish());
    source.on('close', () => this.finish());
    source.on('error', (err) => this.onUpstreamError(err));
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.stream.writable) {
      this.stream.write({ trailer: {} });
      this.stream.end();
    }
  }

  private onUpstreamError(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.logger.warn('Kubernetes API request failed', { err });
    // The code, not the text: kas never shows raw upstream error text to clients.
    const code = (err as NodeJS.ErrnoException).code ?? err.name;
    if (this.stream.writable) {
      this.stream.write({ error: { code: grpc.status.UNAVAILABLE, message: `Kubernetes API unreachable (${code})` } });
      this.stream.end();
    }
  }

  private abort(): void {
    if (this.finished) return;
    this.finished = true;
    // After an upgrade the request object no longer owns the socket: destroy the socket itself.
    if (this.upgraded) this.upgraded.destroy();
    else this.upstreamRequest.destroy();
  }
}

/** Decoded bytes fields are already Buffers on Node (views into the received frame): no copy. */
function asBuffer(data: Uint8Array | undefined | null): Buffer {
  if (!data) return Buffer.alloc(0);
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function rawHeadersToValues(raw: string[]): ValuesMap {
  const out: ValuesMap = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    (out[name] ??= { value: [] }).value!.push(raw[i + 1] ?? '');
  }
  return out;
}
