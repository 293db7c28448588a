// agentk: serves kas's requests on the reverse HTTP/1.1 connections with node:http (each dialed
// connection handed over with server.emit('connection', socket)) and forwards them to the
// Kubernetes API with the kubernetes_api module's upstream (agentk's credentials, one keep-alive
// pool) and its header rules (clientHeaders: impersonation from the caller kas names, the
// client's own Impersonate-* only with access_as agent). The answer streams back as it arrives,
// with backpressure both ways, through undici's raw dispatch handler.
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from '../../../internal/log';
import { clientHeaders } from '../../kubernetes_api/agent/forwarder';
import type { KubernetesApiUpstream, UpstreamTarget } from '../../kubernetes_api/agent/upstream';
import { sendStatus, sendStatusOnSocket } from '../../kubernetes_api/server/status';
import type { ValuesMap } from '../../reverse_tunnel/protocol';
import { CALLER_HEADER, decodeCallerHeader, isProbe } from '../protocol';
import { ResponseWriter } from '../response_writer';
import { UpgradeRelay } from '../upgrade_relay';

export interface HttpTunnelServerOptions {
  upstream: KubernetesApiUpstream;
  logger: Logger;
}

/** kas's private headers: read here, never sent upstream. */
const KAS_PRIVATE_PREFIX = 'x-kas-';

// Connection-level response headers stay on agentk's side of each hop.
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding']);

export function createHttpTunnelServer(options: HttpTunnelServerOptions): http.Server {
  const server = http.createServer({ noDelay: true }, (req, res) => serveRequest(options, req, res));
  // kas decides how long a connection lives and how long a watch stays quiet: no timeouts here.
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.timeout = 0;
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => serveUpgrade(options, req, socket, head));
  server.on('clientError', (_err, socket: Duplex) => socket.destroy());
  return server;
}

interface Prepared {
  headers: Record<string, string | string[]>;
}

/** The request's headers for the API server; undefined (and answered) when kas's caller header is unusable. */
function prepare(req: http.IncomingMessage): Prepared | { error: string } {
  const raw = req.rawHeaders;
  const values: ValuesMap = {};
  let callerValue: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name.startsWith(KAS_PRIVATE_PREFIX)) {
      if (name === CALLER_HEADER) callerValue = raw[i + 1];
      continue;
    }
    const entry = values[name];
    if (entry) entry.value!.push(raw[i + 1]!);
    else values[name] = { value: [raw[i + 1]!] };
  }
  if (callerValue === undefined) return { error: `kas sent no ${CALLER_HEADER}` };
  try {
    return { headers: clientHeaders(values, decodeCallerHeader(callerValue)) };
  } catch (err) {
    return { error: `invalid ${CALLER_HEADER}: ${(err as Error).message}` };
  }
}

function withTarget(upstream: KubernetesApiUpstream, use: (target: UpstreamTarget) => void, fail: (err: unknown) => void): void {
  // Credentials are re-read every few seconds; in between, the request leaves in this turn.
  const fresh = upstream.freshTarget();
  if (fresh) return use(fresh);
  upstream.target().then(use, fail);
}

function serveRequest(options: HttpTunnelServerOptions, req: http.IncomingMessage, res: http.ServerResponse): void {
  // kas asks whether this process lives: answered here, the cluster is not asked.
  if (isProbe(req.headers)) return void res.writeHead(204).end();
  const prepared = prepare(req);
  if ('error' in prepared) return answerError(res, 400, prepared.error);
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  withTarget(
    options.upstream,
    (target) => {
      const exchange = new UpstreamExchange(req, res, options.logger);
      target.dispatcher.dispatch(
        {
          method: req.method ?? 'GET',
          path: target.basePath + (req.url ?? '/'),
          headers: Object.assign(prepared.headers, target.credentialHeaders),
          body: hasBody ? req : null,
        },
        exchange,
      );
    },
    (err) => {
      options.logger.warn('tunneled request failed before reaching the Kubernetes API', { err });
      answerError(res, 500, `agentk could not prepare the request: ${(err as Error).name}`);
    },
  );
}

function serveUpgrade(options: HttpTunnelServerOptions, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const prepared = prepare(req);
  const refuse = (status: number, message: string) => sendStatusOnSocket(socket, 'agentk', { status, message });
  if ('error' in prepared) return refuse(400, prepared.error);
  withTarget(
    options.upstream,
    (target) => {
      const relay = new UpgradeRelay(socket, head, {
        answered: () => undefined,
        failed: (err) => {
          options.logger.warn('Kubernetes API upgrade failed', { err });
          refuse(502, `Kubernetes API unreachable (${errorCode(err)})`);
        },
        forwards: (name) => !DROPPED_RESPONSE_HEADERS.has(name),
      });
      target.dispatcher.dispatch(
        {
          method: req.method ?? 'GET',
          path: target.basePath + (req.url ?? '/'),
          headers: Object.assign(prepared.headers, target.credentialHeaders),
          upgrade: req.headers.upgrade ?? 'websocket',
          body: null,
        },
        relay,
      );
    },
    (err) => refuse(500, `agentk could not prepare the request: ${(err as Error).name}`),
  );
}

/** The code, not the text: users never see raw upstream error text. */
function errorCode(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? err.name;
}

/** agentk's own errors, as Kubernetes Status objects named after agentk (kas passes them on as they are). */
function answerError(res: http.ServerResponse, status: number, message: string): void {
  sendStatus(res, 'agentk', { status, message });
}

/** One request to the Kubernetes API, answered into kas's request on this connection. */
class UpstreamExchange implements Dispatcher.DispatchHandler {
  private abort: ((err?: Error) => void) | undefined;
  private resume: (() => void) | undefined;
  private done = false;
  private readonly writer: ResponseWriter;

  constructor(
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly logger: Logger,
  ) {
    this.writer = new ResponseWriter(res, () => this.resume?.());
    // kas's client left (kas closed the connection): the upstream request stops too.
    res.once('close', () => {
      if (!this.done) this.abort?.(new Error('kas closed the connection'));
      this.done = true;
    });
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.done) abort(new Error('kas closed the connection'));
    else this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true;
    this.resume = resume;
    const headers: string[] = [];
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1');
      if (!DROPPED_RESPONSE_HEADERS.has(name.toLowerCase())) headers.push(name, rawHeaders[i + 1]!.toString('latin1'));
    }
    try {
      this.res.writeHead(statusCode, statusText || undefined, headers);
      this.writer.headWritten(rawHeaders);
    } catch {
      // A status line or header Node refuses (the API server's fault): answered as agentk's error.
      for (const name of this.res.getHeaderNames()) this.res.removeHeader(name);
      this.res.statusMessage = '';
      this.done = true;
      this.abort?.(new Error('unusable response head'));
      answerError(this.res, 502, 'the Kubernetes API sent a response head agentk cannot pass on');
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.writer.write(chunk);
  }

  onComplete(): void {
    this.done = true;
    this.res.end();
  }

  onError(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.logger.warn('Kubernetes API request failed', { err });
    if (this.req.destroyed) return;
    answerError(this.res, 502, `Kubernetes API unreachable (${errorCode(err)})`);
  }
}
