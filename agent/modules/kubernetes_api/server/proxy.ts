// kas: the Kubernetes API proxy. Authenticates the caller (`Bearer pat:<agent-id>:<token>` or
// `Bearer ci:<agent-id>:<token>`), asks B2's authorizeUser which access_as applies, takes an idle
// tunnel to the agent (waiting up to agentWaitTimeoutMs) and streams the request through it.
// kas never forwards the caller's credentials, cookies or kas's own headers; it adds Via.
// Its own errors are Kubernetes Status JSON; 401/403 from kas's auth carry X-Kas-Auth-Error: true.
// Watches, logs -f and upgraded connections (exec, attach, port-forward) run as long as both ends
// keep them open: the proxy path turns off socket idle timeouts.
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../../internal/log';
import { KUBERNETES_API_MAKE_REQUEST, headersToValues, valuesToHeaders, type ConnectRequest, type HeaderFrame } from '../../reverse_tunnel/protocol';
import { proxyRequestDuration } from '../../reverse_tunnel/server/metrics';
import { TunnelNotFoundError, type Tunnel, type TunnelRegistry } from '../../reverse_tunnel/server/registry';
import { isImpersonationHeader, type AccessAs } from '../access_as';
import { sendStatus, sendStatusOnSocket, type KasError } from './status';

export interface ProxyCredential {
  kind: 'pat' | 'ci';
  agentId: string;
  token: string;
}

export type ProxyAuthorization =
  | { allowed: true; accessAs: AccessAs; user?: { username: string; groups: string[] } }
  | { allowed: false; status: 401 | 403; message: string };

export interface KubernetesApiProxyOptions {
  /** Default '/k8s-proxy/'. */
  urlPathPrefix?: string;
  registry: TunnelRegistry;
  authorizeUser(credential: ProxyCredential): Promise<ProxyAuthorization>;
  /** How long a request waits for a free tunnel to its agent; default 20 s. */
  agentWaitTimeoutMs?: number;
  /** Names kas in Via and in error messages. */
  serverName: string;
  logger: Logger;
}

export type KubernetesApiProxy = ((req: http.IncomingMessage, res: http.ServerResponse) => void) & {
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
};

/** Headers of kas's own, never forwarded (besides credentials). */
export const KAS_HEADER_PREFIX = 'x-kas-';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie']);

interface PreparedRequest {
  tunnel: Tunnel;
  requestFrame: ConnectRequest | { requestInfo: NonNullable<import('../../reverse_tunnel/protocol').ConnectResponse['requestInfo']> };
  startedAt: bigint;
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
    waitMs: options.agentWaitTimeoutMs ?? 20_000,
  };
  const proxy = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    disableIdleTimeouts(req);
    prepare(req, false, abort.signal, options, settings)
      .then((prepared) => runHttpExchange(prepared, req, res, options))
      .catch((err: unknown) => answerFailure(err, options, (e) => sendStatus(res, options.serverName, e), process.hrtime.bigint()));
  };
  proxy.handleUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const abort = new AbortController();
    socket.once('close', () => abort.abort());
    socket.on('error', () => socket.destroy());
    disableIdleTimeouts(req);
    prepare(req, true, abort.signal, options, settings)
      .then((prepared) => runUpgradeExchange(prepared, socket, head, options))
      .catch((err: unknown) => answerFailure(err, options, (e) => sendStatusOnSocket(socket, options.serverName, e), process.hrtime.bigint()));
  };
  return proxy;
}

function normalizePrefix(prefix: string): string {
  const withLeading = prefix.startsWith('/') ? prefix : `/${prefix}`;
  return withLeading.endsWith('/') ? withLeading : `${withLeading}/`;
}

function disableIdleTimeouts(req: http.IncomingMessage): void {
  req.socket.setTimeout(0);
  req.socket.setKeepAlive(true, 30_000);
}

function answerFailure(err: unknown, options: KubernetesApiProxyOptions, send: (e: KasError) => void, startedAt: bigint): void {
  let kasError: KasError;
  if (err instanceof ProxyRefusal) kasError = err.kasError;
  else if (err instanceof TunnelNotFoundError) kasError = { status: 504, message: err.message };
  else if (err instanceof Error && err.name === 'TunnelWaitAbortedError') return; // nobody left to answer
  else {
    options.logger.error('k8s proxy request failed', { err });
    kasError = { status: 500, message: 'internal error' };
  }
  observe(startedAt, kasError.status);
  send(kasError);
}

function observe(startedAt: bigint, status: number): void {
  proxyRequestDuration.observe({ status: String(status) }, Number(process.hrtime.bigint() - startedAt) / 1e9);
}

/** Parses `Bearer pat:<agent-id>:<token>` / `Bearer ci:<agent-id>:<token>`. */
export function parseProxyCredential(authorization: string | undefined): ProxyCredential | undefined {
  const match = /^Bearer\s+(pat|ci):([^:\s]+):(\S+)$/i.exec(authorization?.trim() ?? '');
  if (!match) return undefined;
  return { kind: match[1]!.toLowerCase() as 'pat' | 'ci', agentId: match[2]!, token: match[3]! };
}

async function prepare(
  req: http.IncomingMessage,
  isUpgrade: boolean,
  signal: AbortSignal,
  options: KubernetesApiProxyOptions,
  settings: { prefix: string; waitMs: number },
): Promise<PreparedRequest> {
  const startedAt = process.hrtime.bigint();
  const url = req.url ?? '/';
  if (!url.startsWith(settings.prefix) && `${url}/` !== settings.prefix) {
    throw new ProxyRefusal({ status: 404, message: `not found: the Kubernetes API proxy serves paths under ${settings.prefix}` });
  }
  const credential = parseProxyCredential(req.headers.authorization);
  if (!credential) {
    throw new ProxyRefusal({ status: 401, authError: true, message: 'missing or malformed credentials: expected Authorization: Bearer pat:<agent-id>:<token> or Bearer ci:<agent-id>:<token>' });
  }
  const authorization = await authorize(credential, options);
  if (!('agent' in authorization.accessAs) && Object.keys(req.headers).some(isImpersonationHeader)) {
    throw new ProxyRefusal({ status: 403, authError: true, message: 'Impersonate-* headers are allowed only when the agent grants access_as agent' });
  }
  const tunnel = await options.registry.findTunnel(credential.agentId, settings.waitMs, signal);
  const requestInfo = {
    methodName: KUBERNETES_API_MAKE_REQUEST,
    meta: {},
    http: { method: req.method ?? 'GET', path: '/' + url.slice(settings.prefix.length), headers: forwardedHeaders(req, isUpgrade, options.serverName), upgrade: isUpgrade },
    caller: { kind: credential.kind, accessAsJson: JSON.stringify(authorization.accessAs), username: authorization.user?.username ?? '', groups: authorization.user?.groups ?? [] },
  };
  return { tunnel, requestFrame: { requestInfo }, startedAt };
}

async function authorize(credential: ProxyCredential, options: KubernetesApiProxyOptions): Promise<Extract<ProxyAuthorization, { allowed: true }>> {
  let result: ProxyAuthorization;
  try {
    result = await options.authorizeUser(credential);
  } catch (err) {
    options.logger.error('authorizeUser failed', { agentId: credential.agentId, err });
    throw new ProxyRefusal({ status: 500, message: 'could not check the credentials, try again' });
  }
  if (!result.allowed) throw new ProxyRefusal({ status: result.status, authError: true, message: result.message });
  return result;
}

function forwardedHeaders(req: http.IncomingMessage, isUpgrade: boolean, serverName: string) {
  const kept: Record<string, string[]> = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    const keepUpgrade = isUpgrade && name === 'upgrade';
    if (!keepUpgrade && (HOP_BY_HOP.has(name) || CREDENTIAL_HEADERS.has(name) || name.startsWith(KAS_HEADER_PREFIX))) continue;
    (kept[name] ??= []).push(req.rawHeaders[i + 1]!);
  }
  kept['via'] = [...(kept['via'] ?? []), `1.1 ${serverName}`];
  return headersToValues(kept);
}

function responseHeaders(header: HeaderFrame): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(valuesToHeaders(header.httpHeaders))) {
    if (name !== 'upgrade' && HOP_BY_HOP.has(name)) continue;
    out[name] = values;
  }
  return out;
}

function runHttpExchange(prepared: PreparedRequest, req: http.IncomingMessage, res: http.ServerResponse, options: KubernetesApiProxyOptions): void {
  const { tunnel, startedAt } = prepared;
  const { stream } = tunnel;
  let answered = false;
  const fail = (message: string) => {
    if (answered) return;
    answered = true;
    observe(startedAt, 502);
    sendStatus(res, options.serverName, { status: 502, message });
    tunnel.done();
  };
  stream.write(prepared.requestFrame);
  pumpClientBody(req, tunnel);
  stream.on('data', (frame: ConnectRequest) => {
    if (frame.header) {
      observe(startedAt, frame.header.status ?? 0);
      res.writeHead(frame.header.status ?? 502, frame.header.reason || undefined, responseHeaders(frame.header));
      res.flushHeaders();
    } else if (frame.message) {
      if (!res.write(frame.message.data ?? Buffer.alloc(0))) {
        stream.pause();
        res.once('drain', () => stream.resume());
      }
    } else if (frame.trailer) {
      answered = true;
      res.end();
      tunnel.done();
    } else if (frame.error) {
      options.logger.warn('agent could not serve a proxied request', { agentId: tunnel.agentId, code: frame.error.code, message: frame.error.message });
      fail(`the agent could not reach the Kubernetes API: ${frame.error.message ?? 'unknown error'}`);
    }
  });
  stream.on('error', () => fail('the tunnel to the agent broke'));
  stream.on('end', () => fail('the tunnel to the agent closed early'));
  res.once('close', () => {
    if (!answered) tunnel.done(); // the client went away: end the stream so agentk stops the upstream request
    answered = true;
  });
}

/** Client body → message frames with backpressure, then close-send. */
function pumpClientBody(source: http.IncomingMessage | Duplex, tunnel: Tunnel): void {
  const { stream } = tunnel;
  source.on('data', (chunk: Buffer) => {
    if (!stream.writable) return;
    if (!stream.write({ message: { data: chunk } })) {
      source.pause();
      stream.once('drain', () => source.resume());
    }
  });
  source.on('end', () => {
    if (stream.writable) stream.write({ closeSend: {} });
  });
}

function runUpgradeExchange(prepared: PreparedRequest, socket: Duplex, head: Buffer, options: KubernetesApiProxyOptions): void {
  const { tunnel, startedAt } = prepared;
  const { stream } = tunnel;
  let headerSeen = false;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    tunnel.done();
  };
  stream.write(prepared.requestFrame);
  if (head.length > 0) stream.write({ message: { data: head } });
  pumpClientBody(socket, tunnel);
  stream.on('data', (frame: ConnectRequest) => {
    if (frame.header) {
      headerSeen = true;
      observe(startedAt, frame.header.status ?? 0);
      socket.write(rawResponseHead(frame.header));
    } else if (frame.message) {
      if (!socket.write(frame.message.data ?? Buffer.alloc(0))) {
        stream.pause();
        socket.once('drain', () => stream.resume());
      }
    } else if (frame.trailer) {
      socket.end();
      finish();
    } else if (frame.error) {
      if (!headerSeen) sendStatusOnSocket(socket, options.serverName, { status: 502, message: `the agent could not reach the Kubernetes API: ${frame.error.message ?? 'unknown error'}` });
      else socket.destroy();
      finish();
    }
  });
  const broken = () => {
    if (done) return;
    if (!headerSeen) sendStatusOnSocket(socket, options.serverName, { status: 502, message: 'the tunnel to the agent broke' });
    else socket.destroy();
    finish();
  };
  stream.on('error', broken);
  stream.on('end', broken);
  socket.once('close', finish);
}

function rawResponseHead(header: HeaderFrame): string {
  const status = header.status ?? 502;
  const lines = [`HTTP/1.1 ${status} ${header.reason || (status === 101 ? 'Switching Protocols' : 'Response')}`];
  const headers = responseHeaders(header);
  if (status === 101) headers['connection'] = ['Upgrade'];
  else headers['connection'] = ['close']; // no chunked framing on a raw socket: the body ends with the connection
  for (const [name, values] of Object.entries(headers)) for (const value of values) lines.push(`${name}: ${value}`);
  return lines.join('\r\n') + '\r\n\r\n';
}
