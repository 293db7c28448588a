// kas: the proxy's direct route over reverse HTTP/1.1 connections (DirectRoute). The authorized
// request goes out as it came, on one of the agent's idle connections, through undici's raw
// dispatch handler (no ClientRequest/IncomingMessage per request on kas's agent side); the answer
// streams back into the client's response with backpressure. A request that finds the agent's
// connections all busy waits for one (agentk dials more as its idle ones run low), as a request
// waits for a tunnel stream. With no connection of the agent on this kas the route declines, and
// the proxy takes the tunnel (this replica's streams or another replica's).
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from '../../../internal/log';
import type { AuthorizedProxyRequest, DirectRoute } from '../../kubernetes_api/server/direct_route';
import { hasNoBody, isForwardedRequestHeader, isForwardedResponseHeader } from '../../kubernetes_api/server/proxy';
import { kasVia, sendStatus, sendStatusOnSocket, type KasError } from '../../kubernetes_api/server/status';
import { CALLER_HEADER, encodeCallerHeader } from '../protocol';
import { ResponseWriter } from '../response_writer';
import {
  HttpTunnelsGoneError,
  HttpTunnelWaitAbortedError,
  NoHttpTunnelError,
  type HttpTunnelConnection,
  type HttpTunnelRegistry,
} from './connections';
import { httpTunnelRequests } from './metrics';
import { UpgradeRelay } from '../upgrade_relay';

export interface HttpTunnelRouteOptions {
  registry: HttpTunnelRegistry;
  /** How long a request waits for a free connection to its agent; default 20 s. */
  agentWaitTimeoutMs?: number;
  /** Names kas in Via and in error messages. */
  serverName: string;
  logger: Logger;
}

/** Idempotent requests without a body move to another connection when theirs broke before any answer. */
const MAX_ATTEMPTS = 3;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

interface RouteContext {
  registry: HttpTunnelRegistry;
  waitMs: number;
  serverName: string;
  via: string;
  logger: Logger;
  counted: { http: { inc(): void }; upgrade: { inc(): void } };
}

export function httpTunnelRoute(options: HttpTunnelRouteOptions): DirectRoute {
  const context: RouteContext = {
    registry: options.registry,
    waitMs: options.agentWaitTimeoutMs ?? 20_000,
    serverName: options.serverName,
    via: kasVia(options.serverName),
    logger: options.logger,
    counted: { http: httpTunnelRequests.labels('http'), upgrade: httpTunnelRequests.labels('upgrade') },
  };
  return {
    serve: (request, req, res) => {
      if (!context.registry.serves(request.agentId)) return false;
      context.counted.http.inc();
      new HttpExchange(context, request, req, res).start();
      return true;
    },
    serveUpgrade: (request, req, socket, head) => {
      if (!context.registry.serves(request.agentId)) return false;
      context.counted.upgrade.inc();
      new UpgradeExchange(context, request, req, socket, head).start();
      return true;
    },
  };
}

/** The request's headers as kas forwards them (a flat name/value list for undici), Via and the caller added. */
function outgoingHeaders(context: RouteContext, request: AuthorizedProxyRequest, req: http.IncomingMessage): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let via: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    // upgrade: undici writes Connection and Upgrade itself from the request's `upgrade`; expect:
    // kas's server already answered the 100, and undici refuses the header.
    if (!isForwardedRequestHeader(name, false) || name === 'expect') continue;
    if (name === 'via') via = via ? `${via}, ${raw[i + 1]!}` : raw[i + 1]!;
    else out.push(name, raw[i + 1]!);
  }
  out.push('via', via ? `${via}, ${context.via}` : context.via, CALLER_HEADER, callerHeader(request));
  return out;
}

// The same few callers make most requests: encode each once.
const callerHeaders = new Map<string, string>();
function callerHeader(request: AuthorizedProxyRequest): string {
  const { caller } = request;
  const key = `${caller.kind}\n${caller.accessAsJson}\n${caller.username}\n${(caller.groups ?? []).join('\n')}`;
  let value = callerHeaders.get(key);
  if (!value) {
    value = encodeCallerHeader(caller);
    if (callerHeaders.size >= 256) callerHeaders.clear();
    callerHeaders.set(key, value);
  }
  return value;
}

/** The agent's response headers kas passes on, as a flat list for writeHead, kas's Via appended. */
function incomingHeaders(raw: Buffer[] | string[], via: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    if (isForwardedResponseHeader(name.toLowerCase())) out.push(name, raw[i + 1]!.toString('latin1'));
  }
  out.push('via', via);
  return out;
}

function failureOf(err: unknown): KasError {
  if (err instanceof NoHttpTunnelError) return { status: 504, message: err.message };
  if (err instanceof BrokenAfterSendError) return { status: 502, message: err.message };
  return { status: 502, message: 'the connection to the agent broke' };
}

/** One request/response over a pooled connection. */
class HttpExchange implements Dispatcher.DispatchHandler {
  private connection: HttpTunnelConnection | undefined;
  private abortDispatch: ((err?: Error) => void) | undefined;
  private resumeAgent: (() => void) | undefined;
  private answered = false;
  private done = false;
  private readonly writer: ResponseWriter;
  private attempts = 0;
  private readonly noBody: boolean;
  private readonly retryable: boolean;
  private waitAbort: AbortController | undefined;
  /** The request's wait budget for a connection, across its attempts. */
  private readonly deadline: number;

  constructor(
    private readonly context: RouteContext,
    private readonly request: AuthorizedProxyRequest,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
  ) {
    this.writer = new ResponseWriter(res, () => this.resumeAgent?.());
    this.noBody = hasNoBody(req);
    this.retryable = this.noBody && IDEMPOTENT.has(req.method ?? 'GET');
    this.deadline = Date.now() + context.waitMs;
  }

  start(): void {
    this.res.once('close', this.onClientClose);
    this.next();
  }

  private readonly onClientClose = () => {
    if (this.done) return;
    this.done = true;
    // Aborting an HTTP/1.1 exchange closes its connection: agentk then stops the upstream request.
    this.abortDispatch?.(new HttpTunnelWaitAbortedError('the client left'));
    this.waitAbort?.abort();
  };

  private next(): void {
    this.attempts++;
    const idle = this.context.registry.take(this.request.agentId);
    if (idle) return this.send(idle);
    this.waitAbort = new AbortController();
    const { agentId, useTunnel } = this.request;
    this.context.registry.wait(agentId, Math.max(0, this.deadline - Date.now()), this.waitAbort.signal, Boolean(useTunnel)).then(
      (connection) => {
        if (this.done) return this.context.registry.release(connection);
        this.send(connection);
      },
      (err: unknown) => (err instanceof HttpTunnelsGoneError && !this.done ? this.toTunnel() : this.fail(err)),
    );
  }

  /**
   * Nothing of the request reached an agentk that may act on it, and the agent has no connection
   * here any more (a liveness verdict, a restart): the proxy's tunnel path waits for another
   * agentk, or this one back, on any transport, for what is left of the budget.
   */
  private toTunnel(): void {
    this.done = true;
    this.request.useTunnel!();
  }

  private send(connection: HttpTunnelConnection): void {
    this.connection = connection;
    this.context.registry.sent(connection);
    connection.client.dispatch(
      {
        method: this.req.method ?? 'GET',
        path: this.request.path,
        headers: outgoingHeaders(this.context, this.request, this.req),
        body: this.noBody ? null : this.req,
      },
      this,
    );
  }

  private fail(err: unknown): void {
    if (this.done) return;
    this.done = true;
    if (err instanceof HttpTunnelWaitAbortedError) return;
    const failure = failureOf(err);
    this.request.observe(failure.status);
    sendStatus(this.res, this.context.serverName, failure);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortDispatch = abort;
    if (this.done) abort(new HttpTunnelWaitAbortedError('the client left'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.connection) this.context.registry.answered(this.connection);
    if (statusCode < 200) return true;
    this.answered = true;
    this.resumeAgent = resume;
    this.request.observe(statusCode);
    try {
      this.res.writeHead(statusCode, statusText || undefined, incomingHeaders(rawHeaders, this.context.via));
      this.writer.headWritten(rawHeaders);
    } catch {
      // A status line or header Node refuses: the agent's fault, answered as such.
      for (const name of this.res.getHeaderNames()) this.res.removeHeader(name);
      this.res.statusMessage = '';
      sendStatus(this.res, this.context.serverName, { status: 502, message: 'the agent sent a response head kas cannot serve' });
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
    if (this.connection) this.context.registry.release(this.connection);
  }

  onError(err: Error): void {
    const connection = this.connection;
    if (connection) {
      this.context.registry.answered(connection);
      this.context.registry.detach(connection);
    }
    if (this.done) return;
    if (!this.answered && this.retryable) {
      const serves = this.context.registry.serves(this.request.agentId);
      if (!serves && this.request.useTunnel) return this.toTunnel();
      if (serves && this.attempts < MAX_ATTEMPTS) {
        this.abortDispatch = undefined;
        return this.next();
      }
    }
    if (this.answered) {
      this.done = true;
      this.res.destroy();
      return;
    }
    this.context.logger.debug('request over agent connection failed', { agentId: this.request.agentId, err });
    if (this.retryable) return this.fail(err);
    // The request's bytes may have reached agentk, and it may have forwarded them (defect 10 of issue 13).
    this.fail(
      new BrokenAfterSendError(
        `the connection to the agent broke after kas sent the request; a ${this.req.method ?? 'request'} is not retried, the agent may have forwarded it`,
      ),
    );
  }
}

class BrokenAfterSendError extends Error {
  override name = 'BrokenAfterSendError';
}

/** An upgraded request (exec, attach, port-forward): the connection leaves the pool for its lifetime. */
class UpgradeExchange {
  private done = false;

  constructor(
    private readonly context: RouteContext,
    private readonly request: AuthorizedProxyRequest,
    private readonly req: http.IncomingMessage,
    private readonly socket: Duplex,
    private readonly head: Buffer,
  ) {}

  start(): void {
    const abort = new AbortController();
    this.socket.once('close', () => {
      this.done = true;
      abort.abort();
    });
    this.context.registry.wait(this.request.agentId, this.context.waitMs, abort.signal).then(
      (connection) => {
        this.context.registry.detach(connection);
        if (this.done) return void connection.client.destroy().catch(() => undefined);
        const relay = new UpgradeRelay(this.socket, this.head, {
          answered: (status) => this.request.observe(status),
          failed: (err) => {
            this.context.logger.debug('upgrade over agent connection failed', { agentId: this.request.agentId, err });
            this.fail(err);
          },
          forwards: isForwardedResponseHeader,
        });
        connection.client.dispatch(
          {
            method: this.req.method ?? 'GET',
            path: this.request.path,
            headers: outgoingHeaders(this.context, this.request, this.req),
            upgrade: this.req.headers.upgrade ?? 'websocket',
            body: null,
          },
          relay,
        );
      },
      (err: unknown) => this.fail(err),
    );
  }

  private fail(err: unknown): void {
    this.done = true;
    if (err instanceof HttpTunnelWaitAbortedError || this.socket.destroyed) return;
    const failure = failureOf(err);
    this.request.observe(failure.status);
    sendStatusOnSocket(this.socket, this.context.serverName, failure);
  }
}
