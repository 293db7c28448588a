// The v2 agent transport's wire ("reverse HTTP/1.1"): agentk dials kas's agent listener (TCP or
// TLS with ALPN http/1.1 for grpc(s):// addresses, the ws(s):// URL's host and path otherwise) and
// asks, in plain HTTP/1.1, to upgrade the connection:
//
//   GET <path> HTTP/1.1                 (the ws(s):// URL's path; "/" for grpc(s)://)
//   Connection: Upgrade
//   Upgrade: kas-tunnel-v2
//   Authorization: Bearer <agent token>   checked once for the connection (admission + rate limit)
//   X-Kas-Agent-Meta: <JSON AgentMeta>
//
// On ws(s):// addresses the upgrade is a WebSocket handshake (RFC 6455) instead, so that load
// balancers that pass only WebSocket upgrades pass it: `Upgrade: websocket`, Sec-WebSocket-Key
// and -Version, and `Sec-WebSocket-Protocol: kas-tunnel-v2`; kas answers with the key's
// Sec-WebSocket-Accept and that subprotocol. The subprotocol's bytes are the same as after the
// plain upgrade: HTTP/1.1 without WebSocket framing (a proxy that passed the handshake relays
// bytes; framing each request would cost a mask and a copy per chunk at both ends).
//
// kas answers 101 Switching Protocols (or a plain error status: 401, 429, or the 400/426 a kas
// without the module gives, or a 101 without the subprotocol from a WebSocket endpoint that only
// bridges gRPC, after which agentk keeps to the gRPC tunnel). From then on the roles
// turn around: kas is the HTTP/1.1 client and agentk the server, one request at a time per
// connection (keep-alive, no pipelining). Each request is a Kubernetes API request as kas
// forwards it; kas adds X-Kas-Caller (who calls and the access_as that applies). agentk takes
// X-Kas-* only from this authenticated connection (kas strips them from its clients' requests)
// and never sends them on. An upgraded request (exec, attach, port-forward) keeps its connection
// until it ends; agentk dials a new one to refill the pool.
//
// Liveness: kas probes an agentk that went silent with `OPTIONS / HTTP/1.1` carrying
// `X-Kas-Probe: 1` on one of its idle connections; agentk answers 204 itself, without touching
// the cluster (kas strips X-Kas-* from its clients, so only kas can send it). An agentk without
// the probe answers it 400 (no X-Kas-Caller), also without touching the cluster: any answer counts.
import { createHash } from 'node:crypto';
import { decodeMakeRequestHeader, encodeMakeRequestHeader, type CallerInfo } from '../kubernetes_api/rpc';

export const HTTP_TUNNEL_PROTOCOL = 'kas-tunnel-v2';
export const AGENT_META_HEADER = 'x-kas-agent-meta';
export const CALLER_HEADER = 'x-kas-caller';
export const PROBE_HEADER = 'x-kas-probe';

/** Whether a request on a tunnel connection is kas's liveness probe (answered by agentk itself). */
export function isProbe(headers: NodeJS.Dict<string | string[]>): boolean {
  return headers[PROBE_HEADER] !== undefined;
}

/** Who the dialing agentk is (as the gRPC tunnel's descriptor carries it). */
export interface HttpTunnelAgentMeta {
  version: string;
  podName: string;
  podNamespace: string;
  instanceId: string;
  /**
   * The pool rules kas applies to the agent's idle connections: kas, which hands them out, closes
   * those beyond minIdle after idleTimeoutMs (were agentk to close them, a request kas sent in the
   * same instant would be lost).
   */
  minIdle?: number;
  idleTimeoutMs?: number;
}

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2). */
export function webSocketAccept(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

/** CallerInfo as a header value: the Kubernetes API module's protobuf message, base64. */
export function encodeCallerHeader(caller: CallerInfo): string {
  return Buffer.from(encodeMakeRequestHeader({ caller })).toString('base64');
}

// agentk sees the same few callers again and again: decode each header value once.
const decodedCallers = new Map<string, CallerInfo>();
const DECODED_CALLERS_LIMIT = 256;

/** Throws for a value that is not a caller header kas wrote. */
export function decodeCallerHeader(value: string): CallerInfo {
  let caller = decodedCallers.get(value);
  if (caller) return caller;
  caller = decodeMakeRequestHeader(Buffer.from(value, 'base64')).caller ?? {};
  if (decodedCallers.size >= DECODED_CALLERS_LIMIT) decodedCallers.clear();
  decodedCallers.set(value, caller);
  return caller;
}

/** Responses up to this length (content-length) are written in one piece when complete. */
const HOLD_COMPLETE_RESPONSE_BYTES = 256 * 1024;

/** Whether undici's raw response headers name a content-length within HOLD_COMPLETE_RESPONSE_BYTES. */
export function smallContentLength(rawHeaders: Buffer[]): boolean {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 14 && name.toString('latin1').toLowerCase() === 'content-length') {
      const length = Number(rawHeaders[i + 1]!.toString('latin1'));
      return Number.isInteger(length) && length <= HOLD_COMPLETE_RESPONSE_BYTES;
    }
  }
  return false;
}
