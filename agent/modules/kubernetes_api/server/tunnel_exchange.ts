// kas: one proxied request on the tunnel, and when it moves to another tunnel stream. The rules
// (README of reverse_tunnel, "Replay"):
//   - never written (the stream died before kas wrote to it), or agentk ended the stream cleanly
//     before any answer (it retired a surplus idle stream kas had just claimed: agentk never reads
//     a request on a stream it retires): replayed whatever the method, until the request's wait
//     budget is spent;
//   - the tunnel broke (error, reset, connection gone, a frozen agentk's connection closed by the
//     liveness ping) after kas wrote the request and before any answer: only GET, HEAD and
//     OPTIONS (watches and logs -f included) are replayed, for at most replayWaitMs; any other
//     method may already have reached the cluster and fails with 502 at once;
//   - once agentk answered (a header or an error frame), never: the break ends the response;
//   - a protocol error (the stream's state machine refused a frame): never; 502.
// A request that sees no answer within FIRST_BYTE_PROBE_MS pings its tunnel's connection: a
// frozen agentk's connection is closed within the ping timeout, and the rules above apply.
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ConnectRequest, ConnectResponse } from '../../reverse_tunnel/protocol';
import { tunnelReplays } from '../../reverse_tunnel/server/metrics';
import { offersMethod, TunnelNotFoundError, type Tunnel, type TunnelFinder } from '../../reverse_tunnel/server/registry';

/** What the exchange needs of a prepared request. */
export interface TunnelRequest {
  tunnel: Tunnel;
  requestFrame: ConnectResponse & { requestInfo: { methodName: string } };
  agentId: string;
  /** The HTTP method, for error messages. */
  httpMethod: string;
  /** The request's wait budget for a tunnel (a declined stream's replay may use what is left). */
  waitMs: number;
  /** How long a replay after a broken tunnel waits for another tunnel. */
  replayWaitMs: number;
  clientWait: { signal(): AbortSignal };
  /** GET/HEAD/OPTIONS without upgrade: safe to resend after a tunnel broke before any answer. */
  idempotent: boolean;
}

export interface TunnelExchangeHandlers {
  onFrame(frame: ConnectRequest, tunnel: Tunnel): void;
  /** The request cannot go on: answer 502 with this message (or cut a response already started). */
  onBroken(message: string, tunnel: Tunnel): void;
  /** No tunnel for a replay (a 502 refusal), or the client left while waiting. */
  onRetryFailed(err: unknown): void;
}

/** A kas answer that is not the cluster's: mapped to a Status by the proxy. */
export class TunnelExchangeError extends Error {
  override name = 'TunnelExchangeError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** No answer this long after kas sent the request: ping the tunnel's connection. */
export const FIRST_BYTE_PROBE_MS = 1000;
/** Declined streams in a row one request may move across (agentk retiring many at once). */
const MAX_DECLINED_REPLAYS = 100;
const MAX_REPLAY_BYTES = 1024 * 1024;

/**
 * Client bytes (request body, or an upgraded connection's bytes) → message frames on the current
 * tunnel, with backpressure. Until agentk answers, it keeps a copy (up to 1 MiB), so that the
 * request can be replayed on another tunnel stream.
 */
export class ClientBodyRelay {
  private tunnel: Tunnel | undefined;
  private replay: Buffer[] | undefined = [];
  private replayBytes = 0;
  private ended = false;

  constructor(private readonly source: http.IncomingMessage | Duplex) {
    source.on('data', (chunk: Buffer) => this.forward(chunk));
    source.on('end', () => {
      this.ended = true;
      this.sendCloseSend();
    });
  }

  get canReplay(): boolean {
    return this.replay !== undefined;
  }

  attach(tunnel: Tunnel): void {
    this.tunnel = tunnel;
    for (const chunk of this.replay ?? []) tunnel.stream.write({ message: { data: chunk } });
    if (this.ended) this.sendCloseSend();
    this.source.resume();
  }

  /** agentk answered: it has the request, a replay can no longer happen. */
  acknowledge(): void {
    this.replay = undefined;
  }

  private forward(chunk: Buffer): void {
    if (this.replay) {
      this.replayBytes += chunk.length;
      if (this.replayBytes <= MAX_REPLAY_BYTES) this.replay.push(chunk);
      else this.replay = undefined;
    }
    const stream = this.tunnel?.stream;
    if (!stream?.writable) return;
    if (!stream.write({ message: { data: chunk } })) {
      this.source.pause();
      stream.once('drain', () => this.source.resume());
    }
  }

  private sendCloseSend(): void {
    const stream = this.tunnel?.stream;
    if (stream?.writable) stream.write({ closeSend: {} });
  }
}

function isProtocolError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { protocolError?: unknown }).protocolError === true;
}

/** Sends the request on the prepared tunnel, routes agentk's frames to the handlers, and replays per the rules above. */
export function driveTunnel(request: TunnelRequest, relay: ClientBodyRelay, handlers: TunnelExchangeHandlers, tunnels: TunnelFinder): void {
  const method = request.requestFrame.requestInfo.methodName;
  const deadline = Date.now() + request.waitMs;
  let declined = 0;
  const replay = (tunnel: Tunnel, reason: 'declined' | 'broken') => {
    tunnelReplays.inc({ reason });
    tunnel.done();
    const waitMs = reason === 'declined' ? Math.max(deadline - Date.now(), request.replayWaitMs) : request.replayWaitMs;
    tunnels.findTunnel(request.agentId, waitMs, request.clientWait.signal(), method).then(start, (err: unknown) => {
      if (!(err instanceof TunnelNotFoundError)) return handlers.onRetryFailed(err);
      handlers.onRetryFailed(
        new TunnelExchangeError(502, `the tunnel to agent ${request.agentId} broke and no other tunnel came within ${waitMs} ms`),
      );
    });
  };
  const start = (tunnel: Tunnel) => {
    // A finder that cannot filter (another replica's tunnel) may hand out a stream of an agentk
    // that does not serve this method: kas never sends it such a request.
    if (!offersMethod(tunnel.descriptor, method)) return handlers.onBroken(`agent ${request.agentId} does not offer ${method}`, tunnel);
    // Claimed while its connection was going down (its close came before this ran): agentk never
    // saw the request, and the stream will report nothing more.
    if (!tunnel.stream.writable) {
      if (relay.canReplay && declined++ < MAX_DECLINED_REPLAYS) return replay(tunnel, 'declined');
      return handlers.onBroken('the tunnel to the agent broke', tunnel);
    }
    runAttempt(tunnel);
  };
  const runAttempt = (tunnel: Tunnel) => {
    let answered = false;
    let over = false; // this attempt ended (replayed or failed): later events of its stream are stale
    const probe = setTimeout(() => {
      if (!answered && !over) tunnel.stream.probeConnection?.();
    }, FIRST_BYTE_PROBE_MS);
    const leave = () => {
      over = true;
      clearTimeout(probe);
    };
    // request_info, a body already read and close_send in one HTTP/2 write (one wake-up for agentk).
    tunnel.stream.cork();
    tunnel.stream.write(request.requestFrame);
    relay.attach(tunnel);
    process.nextTick(() => tunnel.stream.uncork());
    tunnel.stream.on('data', (frame: ConnectRequest) => {
      if (over) return;
      if (!answered) {
        answered = true;
        clearTimeout(probe);
        relay.acknowledge();
      }
      handlers.onFrame(frame, tunnel);
    });
    const closedEarly = () => {
      if (over) return; // a reset came right behind the end: handled as broken
      leave();
      // A clean end before any answer: agentk retired the stream without reading the request.
      if (!answered && relay.canReplay && declined++ < MAX_DECLINED_REPLAYS) return replay(tunnel, 'declined');
      handlers.onBroken('the tunnel to the agent closed early', tunnel);
    };
    tunnel.stream.on('end', () => {
      if (over) return;
      if (answered) return closedEarly();
      // Node's stream.close(code) on the agent's side sends END_STREAM and then RST_STREAM: a
      // cancel, which may follow a request the agent read, looks like a retirement for a moment.
      // Both arrive in one read; once it is handled (a turn later), a reset has shown as an error.
      setImmediate(closedEarly);
    });
    const broken = (err: unknown) => {
      if (over) return;
      leave();
      if (isProtocolError(err)) return handlers.onBroken('the agent broke the tunnel protocol', tunnel);
      if (!answered && request.idempotent && relay.canReplay) return replay(tunnel, 'broken');
      handlers.onBroken(
        answered
          ? 'the tunnel to the agent broke'
          : `the tunnel to the agent broke after kas sent the request; a ${request.httpMethod} is not retried, the agent may have forwarded it`,
        tunnel,
      );
    };
    tunnel.stream.on('error', broken);
    // A stream kas itself closed without an error for its users: broken all the same.
    tunnel.stream.once('close', () => broken(undefined));
  };
  start(request.tunnel);
}
