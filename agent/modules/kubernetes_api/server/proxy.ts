// kas: the Kubernetes API proxy. Authenticates the caller (`Bearer pat:<agent-id>:<token>` or
// `Bearer ci:<agent-id>:<token>`), asks B2's authorizeUser which access_as applies, takes an idle
// tunnel to the agent (waiting up to agentWaitTimeoutMs) and streams the request through it.
// kas never forwards the caller's credentials, cookies, the reference's agent id and CSRF headers
// and query parameters, or kas's own headers; it appends Via both ways and drops the cluster's CORS
// headers. Its own errors are Kubernetes Status JSON; its 401s carry Gitlab-Unauthorized: true.
// Watches, logs -f and upgraded connections (exec, attach, port-forward) run as long as both ends
// keep them open: the proxy path turns off socket idle timeouts.
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../../internal/log';
import { messageBytes, type ValuesMap, type HeaderFrame } from '../../reverse_tunnel/protocol';
import { encodeMakeRequestHeader, KUBERNETES_API_MAKE_REQUEST, type CallerInfo } from '../rpc';
import { proxyRequestDuration } from './metrics';
import { TunnelNotFoundError, type Tunnel, type TunnelFinder } from '../../reverse_tunnel/server/registry';
import { isImpersonationHeader, type AccessAs } from '../access_as';
import { kasIdentity, kasVia, sendStatus, sendStatusOnSocket, type KasError } from './status';
import { parseProxyCredential, type ProxyCredential } from '../../../shared/proxy_credential';
import { ClientBodyRelay, driveTunnel, TunnelExchangeError, type TunnelRequest } from './tunnel_exchange';

/** A credential and the connection's peer address (failed credentials are rate limited per address). */
export type ClientCredential = ProxyCredential & { clientAddress?: string };
import type { AuthorizedProxyRequest, DirectRoute } from './direct_route';

export type ProxyAuthorization =
  | { allowed: true; accessAs: AccessAs; user?: { username: string; groups: string[] } }
  | { allowed: false; status: 401 | 403; message: string }
  | { allowed: false; status: 429; message: string; retryAfterSeconds: number };

export interface KubernetesApiProxyOptions {
  /** Default '/k8s-proxy/'. */
  urlPathPrefix?: string;
  /** Where each request gets its tunnel to the agent. */
  tunnels: TunnelFinder;
  authorizeUser(credential: ClientCredential): Promise<ProxyAuthorization>;
  /** How long a request waits for a free tunnel to its agent; default 20 s. */
  agentWaitTimeoutMs?: number;
  /**
   * How long a request whose tunnel broke before any answer (and that may be replayed) waits for
   * another tunnel before its 502; default 2 s (agentk's first reconnect comes after 1 s).
   */
  replayWaitMs?: number;
  /** Names kas in Via and in error messages. */
  serverName: string;
  logger: Logger;
  /** Told of every answered request of a known agent (the REST API's tunnel figures). */
  onAnswered?: (agentId: string, status: number, seconds: number) => void;
  /** Tried before the tunnel: a direct connection to the agent (module http_tunnel). */
  directRoute?: DirectRoute;
}

export type KubernetesApiProxy = ((req: http.IncomingMessage, res: http.ServerResponse) => void) & {
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
};

/** Headers of kas's own, never forwarded (besides credentials). */
export const KAS_HEADER_PREFIX = 'x-kas-';

// One shared abort reason: abort() without one builds a DOMException (and its stack) per request.
const CLIENT_GONE = new Error('the client closed the connection');

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);
/** The caller's credentials, and what the reference's session-cookie access sends beside them. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'gitlab-agent-id', 'x-csrf-token']);
/** Query parameters of the reference's session-cookie access: never forwarded. */
const CREDENTIAL_QUERY_PARAMETERS = new Set(['gitlab-agent-id', 'gitlab-csrf-token']);
/** CORS is kas's to answer, not the cluster's: these never reach the client from upstream. */
const UPSTREAM_CORS_HEADERS = new Set([
  'access-control-allow-origin',
  'access-control-allow-headers',
  'access-control-allow-credentials',
  'access-control-allow-methods',
  'access-control-max-age',
]);
/** Safe to send twice (watches and logs -f are GETs): replayed after a tunnel broke before any answer. */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD']);
/** Every method there is, as the reference's preflight answer lists them. */
const PREFLIGHT_METHODS = 'GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH';

interface PreparedRequest extends TunnelRequest {
  startedAt: bigint;
  /** Appended to the response's Via. */
  via: string;
}

interface ProxySettings {
  prefix: string;
  via: string;
  /** Server on kas's own answers. */
  server: string;
  waitMs: number;
  replayWaitMs: number;
}

/**
 * Aborts a tunnel wait when the client leaves. Built only for a request that has to wait: an
 * AbortController and a close listener per request showed in kas's profile.
 */
class ClientWaitSignal {
  private controller: AbortController | undefined;

  /** `watchGone` calls its argument once the client is gone (at once if it already is). */
  constructor(private readonly watchGone: (onGone: () => void) => void) {}

  signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      this.watchGone(() => controller.abort(CLIENT_GONE));
    }
    return this.controller.signal;
  }
}

class ProxyRefusal extends Error {
  override name = 'ProxyRefusal';
  constructor(readonly kasError: KasError) {
    super(kasError.message);
  }
}

export function createKubernetesApiProxy(options: KubernetesApiProxyOptions): KubernetesApiProxy {
  const settings = {
    prefix: normalizePrefix(options.urlPathPrefix ?? '/k8s-proxy/'),
    via: kasVia(options.serverName),
    server: kasIdentity(options.serverName),
    waitMs: options.agentWaitTimeoutMs ?? 20_000,
    replayWaitMs: options.replayWaitMs ?? 2_000,
  };
  const proxy = (req: http.IncomingMessage, res: http.ServerResponse) => {
    // Only a client that left before its answer was complete can be waiting for a tunnel; aborting
    // after every complete response dispatched an abort event per request (5% of kas's CPU, profiled).
    const clientWait = new ClientWaitSignal((onGone) => {
      if (res.destroyed) return onGone();
      res.once('close', () => {
        if (!res.writableFinished) onGone();
      });
    });
    if (answeredCors(req, res, settings.server)) return;
    disableIdleTimeouts(req);
    const direct = options.directRoute && ((r: AuthorizedProxyRequest) => options.directRoute!.serve(r, req, res));
    const run = (prepared: Promise<PreparedRequest | undefined>) =>
      prepared
        .then((ready) => ready && runHttpExchange(ready, req, res, options))
        .catch((err: unknown) => answerFailure(err, options, (e) => sendStatus(res, options.serverName, e), process.hrtime.bigint()));
    void run(prepare(req, false, clientWait, options, settings, direct, run));
  };
  proxy.handleUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const clientWait = new ClientWaitSignal((onGone) => {
      if (socket.destroyed) return onGone();
      socket.once('close', onGone);
    });
    socket.on('error', () => socket.destroy());
    if (req.headers.origin !== undefined) {
      socket.end(`HTTP/1.1 403 Forbidden\r\nserver: ${settings.server}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      return;
    }
    disableIdleTimeouts(req);
    const direct = options.directRoute && ((r: AuthorizedProxyRequest) => options.directRoute!.serveUpgrade(r, req, socket, head));
    prepare(req, true, clientWait, options, settings, direct)
      .then((prepared) => prepared && runUpgradeExchange(prepared, socket, head, options))
      .catch((err: unknown) =>
        answerFailure(err, options, (e) => sendStatusOnSocket(socket, options.serverName, e), process.hrtime.bigint()),
      );
  };
  return proxy;
}

/**
 * CORS as the reference answers it. It allows only the origin of its GitLab (gitlab.external_url);
 * this kas has no GitLab, so no origin is allowed: a request with an Origin is refused (403, no
 * body, as the reference's), and a preflight (any OPTIONS) is answered here, never proxied.
 */
function answeredCors(req: http.IncomingMessage, res: http.ServerResponse, server: string): boolean {
  if (req.headers.origin !== undefined) {
    res.writeHead(403, { server, 'content-length': '0' });
    res.end();
    return true;
  }
  if (req.method !== 'OPTIONS') return false;
  const headers: Record<string, string> = {
    server,
    'access-control-allow-methods': PREFLIGHT_METHODS,
    'access-control-max-age': '86400',
    'content-length': '0',
  };
  const requested = req.headers['access-control-request-headers'];
  if (requested !== undefined) headers['access-control-allow-headers'] = requested;
  res.writeHead(200, headers);
  res.end();
  return true;
}

function normalizePrefix(prefix: string): string {
  const withLeading = prefix.startsWith('/') ? prefix : `/${prefix}`;
  return withLeading.endsWith('/') ? withLeading : `${withLeading}/`;
}

function disableIdleTimeouts(req: http.IncomingMessage): void {
  req.socket.setTimeout(0);
  req.socket.setKeepAlive(true, 30_000);
}

function answerFailure(
  err: unknown,
  options: KubernetesApiProxyOptions,
  send: (e: KasError) => void,
  startedAt: bigint,
  agentId?: string,
): void {
  let kasError: KasError;
  if (err instanceof ProxyRefusal) kasError = err.kasError;
  else if (err instanceof TunnelExchangeError) kasError = { status: err.status, message: err.message };
  else if (err instanceof TunnelNotFoundError) kasError = { status: 504, message: err.message };
  else if (err instanceof Error && err.name === 'TunnelWaitAbortedError')
    return; // nobody left to answer
  else {
    options.logger.error('k8s proxy request failed', { err });
    kasError = { status: 500, message: 'internal error' };
  }
  observe(startedAt, kasError.status, options, agentId);
  send(kasError);
}

type DurationByStatus = ReturnType<typeof proxyRequestDuration.labels>;
// One histogram child per status, bound once: observe({ status }) hashed a label object per request.
const durationByStatus = new Map<number, DurationByStatus>();

function observe(startedAt: bigint, status: number, options: KubernetesApiProxyOptions, agentId: string | undefined): void {
  let child = durationByStatus.get(status);
  if (!child) {
    child = proxyRequestDuration.labels(String(status));
    durationByStatus.set(status, child);
  }
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  child.observe(seconds);
  if (agentId !== undefined) options.onAnswered?.(agentId, status, seconds);
}

async function prepare(
  req: http.IncomingMessage,
  isUpgrade: boolean,
  clientWait: ClientWaitSignal,
  options: KubernetesApiProxyOptions,
  settings: ProxySettings,
  direct?: (request: AuthorizedProxyRequest) => boolean,
  /** Runs a request the direct route hands back (AuthorizedProxyRequest.useTunnel). */
  runTunnelled?: (prepared: Promise<PreparedRequest>) => void,
): Promise<PreparedRequest | undefined> {
  const startedAt = process.hrtime.bigint();
  const url = req.url ?? '/';
  if (!url.startsWith(settings.prefix) && `${url}/` !== settings.prefix) {
    throw new ProxyRefusal({ status: 400, message: `bad request: the Kubernetes API proxy serves paths under ${settings.prefix}` });
  }
  const authorizationHeader = soleAuthorization(req.rawHeaders);
  const credential = authorizationHeader === undefined ? undefined : parseProxyCredential(authorizationHeader);
  if (!credential) {
    throw new ProxyRefusal({
      status: 401,
      message: 'missing or malformed credentials: expected Authorization: Bearer pat:<agent-id>:<token> or Bearer ci:<agent-id>:<token>',
    });
  }
  const authorization = await authorize({ ...credential, clientAddress: req.socket.remoteAddress }, options);
  if (!('agent' in authorization.accessAs) && Object.keys(req.headers).some(isImpersonationHeader)) {
    throw new ProxyRefusal({
      status: 403,
      message: 'Impersonate-* headers are allowed only when the agent grants access_as agent',
    });
  }
  const caller = {
    kind: credential.kind,
    accessAsJson: accessAsJson(authorization.accessAs),
    username: authorization.user?.username ?? '',
    groups: authorization.user?.groups ?? [],
  };
  const path = withoutCredentialParameters('/' + url.slice(settings.prefix.length));
  const authorized = { agentId: credential.agentId, path, caller, startedAt };
  // Served over a direct connection to the agent (http_tunnel): nothing more to prepare here.
  if (
    direct?.({
      agentId: credential.agentId,
      path,
      caller,
      observe: (status) => observe(startedAt, status, options, credential.agentId),
      useTunnel:
        runTunnelled &&
        (() => {
          const leftMs = settings.waitMs - Number(process.hrtime.bigint() - startedAt) / 1e6;
          runTunnelled(prepareTunnel(req, isUpgrade, clientWait, options, settings, authorized, Math.max(0, leftMs)));
        }),
    })
  )
    return undefined;
  return prepareTunnel(req, isUpgrade, clientWait, options, settings, authorized, settings.waitMs);
}

/** The tunnel path of an authorized request: a tunnel to the agent within waitMs, and the request's first frame. */
async function prepareTunnel(
  req: http.IncomingMessage,
  isUpgrade: boolean,
  clientWait: ClientWaitSignal,
  options: KubernetesApiProxyOptions,
  settings: ProxySettings,
  { agentId, path, caller, startedAt }: { agentId: string; path: string; caller: CallerInfo; startedAt: bigint },
  waitMs: number,
): Promise<PreparedRequest> {
  // An idle tunnel here is claimed at once: no wait to abort, so no signal to build.
  const method = KUBERNETES_API_MAKE_REQUEST;
  const signal = options.tunnels.hasIdleTunnel(agentId, method) ? undefined : clientWait.signal();
  // Only a stream whose descriptor lists the Kubernetes API's method gets this request.
  const tunnel = await options.tunnels.findTunnel(agentId, waitMs, signal, method);
  const header = encodeMakeRequestHeader({
    http: {
      method: req.method ?? 'GET',
      path,
      headers: forwardedHeaders(req, isUpgrade, settings.via),
      upgrade: isUpgrade,
      noBody: !isUpgrade && hasNoBody(req),
    },
    caller,
  });
  const requestInfo = { methodName: method, meta: {}, header };
  const httpMethod = req.method ?? 'GET';
  return {
    tunnel,
    requestFrame: { requestInfo },
    startedAt,
    via: settings.via,
    agentId,
    httpMethod,
    waitMs,
    replayWaitMs: settings.replayWaitMs,
    clientWait,
    idempotent: !isUpgrade && IDEMPOTENT_METHODS.has(httpMethod),
  };
}

/**
 * The request's one Authorization header; undefined when there is none or more than one (two are
 * refused, not resolved: node keeps only the first in req.headers). A scan of rawHeaders: the
 * headersDistinct getter built an object of every header per request.
 */
function soleAuthorization(raw: string[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 13 || name.toLowerCase() !== 'authorization') continue;
    if (found !== undefined) return undefined;
    found = raw[i + 1]!;
  }
  return found;
}

// An agent's access_as is one object of its config (agent_registry/authorize.ts) until the config
// is replaced, which makes a new one: its JSON is made once per config, not per request.
const accessAsJsonOf = new WeakMap<AccessAs, string>();

function accessAsJson(accessAs: AccessAs): string {
  let json = accessAsJsonOf.get(accessAs);
  if (json === undefined) {
    json = JSON.stringify(accessAs);
    accessAsJsonOf.set(accessAs, json);
  }
  return json;
}

async function authorize(
  credential: ClientCredential,
  options: KubernetesApiProxyOptions,
): Promise<Extract<ProxyAuthorization, { allowed: true }>> {
  let result: ProxyAuthorization;
  try {
    result = await options.authorizeUser(credential);
  } catch (err) {
    options.logger.error('authorizeUser failed', { agentId: credential.agentId, err });
    throw new ProxyRefusal({ status: 500, message: 'could not check the credentials, try again' });
  }
  if (!result.allowed) {
    const retryAfterSeconds = result.status === 429 ? result.retryAfterSeconds : undefined;
    throw new ProxyRefusal({ status: result.status, message: result.message, retryAfterSeconds });
  }
  return result;
}

/** HTTP/1.1: a request without content-length or transfer-encoding has no body. */
export function hasNoBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}

/** Whether kas passes a client's request header (lower-case name) on to the agent. */
export function isForwardedRequestHeader(name: string, isUpgrade: boolean): boolean {
  if (isUpgrade && name === 'upgrade') return true;
  return !(HOP_BY_HOP.has(name) || CREDENTIAL_HEADERS.has(name) || name.startsWith(KAS_HEADER_PREFIX));
}

/** Whether kas passes an agent's response header (lower-case name) on to the client. */
export function isForwardedResponseHeader(name: string): boolean {
  return name === 'upgrade' || !(HOP_BY_HOP.has(name) || UPSTREAM_CORS_HEADERS.has(name));
}

/**
 * The path with the credential query parameters removed; the other parameters stay as the client
 * wrote them (the reference re-encodes the whole query, which changes nothing the API server reads).
 */
export function withoutCredentialParameters(path: string): string {
  const start = path.indexOf('?');
  if (start < 0 || !path.includes('gitlab-', start)) return path; // the common case: nothing to parse
  const kept = path
    .slice(start + 1)
    .split('&')
    .filter((pair) => !CREDENTIAL_QUERY_PARAMETERS.has(queryName(pair)));
  return kept.length > 0 ? `${path.slice(0, start)}?${kept.join('&')}` : path.slice(0, start);
}

function queryName(pair: string): string {
  const end = pair.indexOf('=');
  const raw = (end < 0 ? pair : pair.slice(0, end)).replaceAll('+', ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw; // not valid percent-encoding: no credential name, forwarded as it is
  }
}

/** The request headers kas forwards, straight into the wire's multi-valued map (one pass, no copies). */
function forwardedHeaders(req: http.IncomingMessage, isUpgrade: boolean, via: string): ValuesMap {
  const kept: Record<string, { value: string[] }> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!isForwardedRequestHeader(name, isUpgrade)) continue;
    const entry = kept[name];
    if (entry) entry.value.push(raw[i + 1]!);
    else kept[name] = { value: [raw[i + 1]!] };
  }
  if (kept['via']) kept['via'].value.push(via);
  else kept['via'] = { value: [via] };
  return kept;
}

/** Responses with a content-length up to this size are written in one piece when complete. */
const HOLD_COMPLETE_RESPONSE_BYTES = 256 * 1024;

function isSmallCompleteResponse(header: HeaderFrame): boolean {
  const length = Number(header.httpHeaders?.['content-length']?.value?.[0]);
  return Number.isInteger(length) && length <= HOLD_COMPLETE_RESPONSE_BYTES;
}

/** The agent's response headers kas passes on, kas's Via appended after the cluster's. */
function responseHeaders(header: HeaderFrame, via: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const values = header.httpHeaders;
  if (values) {
    for (const name of Object.keys(values)) {
      if (!isForwardedResponseHeader(name)) continue;
      out[name] = values[name]?.value ?? [];
    }
  }
  out['via'] = out['via'] ? [...out['via'], via] : [via];
  return out;
}

function runHttpExchange(
  prepared: PreparedRequest,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  options: KubernetesApiProxyOptions,
): void {
  const { startedAt } = prepared;
  let current = prepared.tunnel;
  let answered = false;
  const finish = (tunnel: Tunnel) => {
    answered = true;
    tunnel.done();
  };
  const fail = (message: string, tunnel: Tunnel) => {
    if (answered) return;
    observe(startedAt, 502, options, prepared.agentId);
    sendStatus(res, options.serverName, { status: 502, message });
    finish(tunnel);
  };
  let holding = false;
  driveTunnel(
    prepared,
    new ClientBodyRelay(req),
    {
      onFrame: (frame, tunnel) => {
        if (answered) return; // kas already answered (a refused head, an error): the rest is dropped
        current = tunnel;
        const { stream } = tunnel;
        if (frame.header) {
          if (!writeAgentHead(res, frame.header, prepared.via)) {
            fail('the agent sent a response head kas cannot serve', tunnel);
            return;
          }
          observe(startedAt, frame.header.status ?? 0, options, prepared.agentId);
          res.cork();
          holding = isSmallCompleteResponse(frame.header);
          // A small response of known length goes out in one write at the trailer (res.end()
          // uncorks): its frames often arrive over several event-loop turns, and flushing per
          // turn cost 3-4 writes per response (profiled). Anything else (watches, logs, large
          // bodies) flushes at the end of each turn, so a quiet watch gets its headers at once.
          if (!holding) {
            setImmediate(() => {
              res.uncork();
              if (!res.writableEnded) res.flushHeaders();
            });
          }
        } else if (frame.message) {
          if (res.destroyed) return; // the client left; the tunnel is being ended
          // While holding, memory is bounded by the content-length: no backpressure (no 'drain' comes while corked).
          if (!res.write(messageBytes(frame.message)) && !holding) {
            stream.pause();
            res.once('drain', () => stream.resume());
          }
        } else if (frame.trailer) {
          res.end();
          finish(tunnel);
        } else if (frame.error) {
          options.logger.warn('agent could not serve a proxied request', {
            agentId: tunnel.agentId,
            code: frame.error.code,
            message: frame.error.message,
          });
          fail(`the agent could not reach the Kubernetes API: ${frame.error.message ?? 'unknown error'}`, tunnel);
        }
      },
      onBroken: fail,
      onRetryFailed: (err) => {
        answered = true;
        answerFailure(err, options, (e) => sendStatus(res, options.serverName, e), startedAt, prepared.agentId);
      },
    },
    options.tunnels,
  );
  res.once('close', () => {
    // The client went away: ending the stream makes agentk stop the upstream request.
    if (!answered) finish(current);
  });
}

/**
 * Writes the agent's status line and headers; false when Node refuses them (a status outside
 * 100-999, characters not allowed in a reason or a header), which is the agent's fault and must
 * not take kas down. What was set before the refusal is cleared so the 502 carries none of it.
 */
function writeAgentHead(res: http.ServerResponse, header: HeaderFrame, via: string): boolean {
  try {
    res.writeHead(header.status ?? 502, header.reason || undefined, responseHeaders(header, via));
    return true;
  } catch {
    res.statusMessage = ''; // writeHead keeps a refused reason, and would refuse the 502 with it
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    return false;
  }
}

function runUpgradeExchange(prepared: PreparedRequest, socket: Duplex, head: Buffer, options: KubernetesApiProxyOptions): void {
  const { startedAt } = prepared;
  let current = prepared.tunnel;
  let headerSeen = false;
  let done = false;
  const finish = (tunnel: Tunnel) => {
    done = true;
    tunnel.done();
  };
  const broken = (message: string, tunnel: Tunnel) => {
    if (done) return;
    if (!headerSeen) sendStatusOnSocket(socket, options.serverName, { status: 502, message });
    else socket.destroy();
    finish(tunnel);
  };
  if (head.length > 0) socket.unshift(head);
  driveTunnel(
    prepared,
    new ClientBodyRelay(socket),
    {
      onFrame: (frame, tunnel) => {
        if (done) return;
        current = tunnel;
        const { stream } = tunnel;
        if (frame.header) {
          headerSeen = true;
          observe(startedAt, frame.header.status ?? 0, options, prepared.agentId);
          socket.write(rawResponseHead(frame.header, prepared.via));
        } else if (frame.message) {
          if (!socket.write(messageBytes(frame.message))) {
            stream.pause();
            socket.once('drain', () => stream.resume());
          }
        } else if (frame.trailer) {
          socket.end();
          finish(tunnel);
        } else if (frame.error) {
          broken(`the agent could not reach the Kubernetes API: ${frame.error.message ?? 'unknown error'}`, tunnel);
        }
      },
      onBroken: broken,
      onRetryFailed: (err) => {
        done = true;
        answerFailure(err, options, (e) => sendStatusOnSocket(socket, options.serverName, e), startedAt, prepared.agentId);
      },
    },
    options.tunnels,
  );
  socket.once('close', () => {
    if (!done) finish(current);
  });
}

function rawResponseHead(header: HeaderFrame, via: string): string {
  const status = header.status ?? 502;
  const lines = [`HTTP/1.1 ${status} ${header.reason || (status === 101 ? 'Switching Protocols' : 'Response')}`];
  const headers = responseHeaders(header, via);
  if (status === 101) headers['connection'] = ['Upgrade'];
  else headers['connection'] = ['close']; // no chunked framing on a raw socket: the body ends with the connection
  for (const [name, values] of Object.entries(headers)) for (const value of values) lines.push(`${name}: ${value}`);
  return lines.join('\r\n') + '\r\n\r\n';
}
