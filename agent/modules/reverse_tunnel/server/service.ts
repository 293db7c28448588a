// kas side of the tunnel RPC: authenticates the agent token of each HTTP/2 connection (cached
// for the connection, re-checked every minute), then parks each Connect stream in the
// TunnelRegistry once agentk has described itself.
import { Status, type StatusObject } from '../../../internal/grpc';
import { bearerToken } from '../../../shared/proxy_credential';
import type { Logger } from '../../../internal/log';
import { reverseTunnelServiceDefinition, type ConnectRequest, type ConnectResponse } from '../protocol';
import type { ConnectionContext, FrameGuard, GrpcServiceRegistrar, ServerCall } from './grpc_server';
import { agentConnectionsRefused, tunnelProtocolErrors } from './metrics';
import type { AgentIdentity, TunnelRegistry, TunnelStream } from './registry';
import { TunnelStreamMachine } from './stream_state';
import { KasReferenceTranslator, referenceAgentInfo } from '../reference/kas_translator';
import { referenceTunnelServiceDefinition } from '../reference/wire';

export interface ReverseTunnelServiceOptions {
  registry: TunnelRegistry;
  /**
   * Resolves an agent token (the token store, behind kas's per-token connection rate limit);
   * undefined means the token is not valid. Called once per agent connection and token, and
   * again when the connection's answer is older than TOKEN_RECHECK_MS.
   */
  authenticateAgent(token: string): Promise<AgentIdentity | undefined>;
  /** How long a connection reuses a successful check; default TOKEN_RECHECK_MS (tests shorten it). */
  tokenRecheckMs?: number;
  logger: Logger;
}

/**
 * How long one connection reuses a successful token check. Well inside the reference's 5 min
 * token cache, so a revoked token stops opening tunnel streams within a minute; checking on every
 * stream (one per proxied request) cost a lookup and a rate-limit count per request.
 */
export const TOKEN_RECHECK_MS = 60_000;

/**
 * For startAgentServer's `services`: our Connect, and the reference's (an agent built from the
 * reference's .proto files), whose frames are translated into ours before anything checks them.
 */
export function reverseTunnelService(options: ReverseTunnelServiceOptions): (server: GrpcServiceRegistrar) => void {
  return (server) => {
    const connect = (call: ServerCall) => {
      // Every frame agentk sends passes the stream's state machine as it arrives, from the first
      // (frames may come before the token check settles): the guard refuses (and the call ends)
      // anything but a descriptor first, so parkAfterDescriptor only ever sees one.
      call.frameGuard = tunnelFrameGuard(call, options.logger);
      acceptStream(call, options).catch((err: unknown) => {
        options.logger.error('tunnel stream setup failed', { err });
        failStream(call, Status.INTERNAL, 'tunnel setup failed');
      });
    };
    server.addService(reverseTunnelServiceDefinition, { Connect: connect });
    server.addService(referenceTunnelServiceDefinition, {
      Connect: (call: ServerCall) => {
        call.frameTranslator = new KasReferenceTranslator(() => referenceAgentInfo(call.connection));
        connect(call);
      },
    });
  };
}

/** The agent token from `authorization: Bearer <token>` metadata. */
function acceptStream(call: ServerCall, options: ReverseTunnelServiceOptions): Promise<void> {
  // Most streams reuse their connection's settled check: accepted at once, without the promise
  // turns of an await (a stream per proxied request).
  const settled = settledCheck(call, options);
  if (settled) {
    parkAfterDescriptor(call, settled, false, options);
    return Promise.resolve();
  }
  return authenticate(call, options).then((checked) => {
    if (checked && !call.cancelled) parkAfterDescriptor(call, checked.identity, checked.fresh, options);
  });
}

function parkAfterDescriptor(call: ServerCall, identity: AgentIdentity, fresh: boolean, options: ReverseTunnelServiceOptions): void {
  // Empty response headers tell agentk that its token was accepted on this connection. Streams
  // that reuse the connection's check leave them out (they go with the request): agentk counts
  // streams on an accepted connection as accepted, and this saves a write on kas and a wake-up
  // on agentk per proxied request. Older agents simply see the headers with the request.
  if (fresh) call.sendMetadata();
  streamAgents.set(call, identity.agentId);
  call.once('data', (first: ConnectRequest) => {
    if (first.descriptor) options.registry.register(identity, first.descriptor, call);
  });
  call.on('error', (err) => options.logger.debug('tunnel stream error', { agentId: identity.agentId, err }));
}

/** For log lines about a stream: its agent, once the token check named it. */
const streamAgents = new WeakMap<ServerCall, string>();

/** The tunnel's state machine as the call's frame guard; a refusal is logged and counted. */
function tunnelFrameGuard(call: ServerCall, logger: Logger): FrameGuard {
  const machine = new TunnelStreamMachine();
  return {
    received: (frame) => machine.received(frame as ConnectRequest),
    sent: (frame) => machine.sent(frame as ConnectResponse),
    rejected: (reason) => {
      tunnelProtocolErrors.inc();
      logger.warn('tunnel protocol error: the stream is closed', { agentId: streamAgents.get(call), state: machine.state, reason });
    },
  };
}

async function authenticate(
  call: ServerCall,
  options: ReverseTunnelServiceOptions,
): Promise<{ identity: AgentIdentity; fresh: boolean } | undefined> {
  const header = call.header('authorization');
  const token = bearerToken(header);
  if (!header || !token) {
    agentConnectionsRefused.inc();
    failStream(call, Status.UNAUTHENTICATED, 'missing agent token (authorization: Bearer <token>)');
    return undefined;
  }
  let identity: AgentIdentity | undefined;
  let fresh: boolean;
  try {
    const check = checkTokenForConnection(call.connection, header, token, options);
    fresh = check.fresh;
    identity = await check.identity;
  } catch (err) {
    options.logger.error('agent token check failed', { err });
    failStream(call, Status.UNAVAILABLE, 'agent token check failed, retry later');
    return undefined;
  }
  if (!identity) {
    agentConnectionsRefused.inc();
    failStream(call, Status.UNAUTHENTICATED, 'invalid agent token');
    return undefined;
  }
  return { identity, fresh };
}

interface TokenCheck {
  at: number;
  identity: Promise<AgentIdentity | undefined>;
  /** Set once the check succeeded. */
  accepted?: AgentIdentity;
}

/** Per connection: token checks by the raw authorization header (no parsing for a known header). */
const TOKEN_CHECKS_KEY = 'reverse_tunnel.tokenChecks';

function tokenChecks(connection: ConnectionContext): Map<string, TokenCheck> {
  let checks = connection.cache.get(TOKEN_CHECKS_KEY) as Map<string, TokenCheck> | undefined;
  if (!checks) {
    checks = new Map();
    connection.cache.set(TOKEN_CHECKS_KEY, checks);
  }
  return checks;
}

/** The identity of a successful check of this call's header that is still within its recheck period. */
function settledCheck(call: ServerCall, options: ReverseTunnelServiceOptions): AgentIdentity | undefined {
  const header = call.header('authorization');
  if (header === undefined) return undefined;
  const check = tokenChecks(call.connection).get(header);
  if (!check?.accepted || Date.now() - check.at >= (options.tokenRecheckMs ?? TOKEN_RECHECK_MS)) return undefined;
  return check.accepted;
}

/**
 * One check per connection and token (concurrent streams share it). Refusals and failures are
 * not kept: the next stream asks again.
 */
function checkTokenForConnection(
  connection: ConnectionContext,
  header: string,
  token: string,
  options: ReverseTunnelServiceOptions,
): { identity: Promise<AgentIdentity | undefined>; fresh: boolean } {
  const checks = tokenChecks(connection);
  const cached = checks.get(header);
  const now = Date.now();
  if (cached && now - cached.at < (options.tokenRecheckMs ?? TOKEN_RECHECK_MS)) return { identity: cached.identity, fresh: false };
  const check: TokenCheck = { at: now, identity: options.authenticateAgent(token) };
  checks.set(header, check);
  const forget = () => {
    if (checks.get(header) === check) checks.delete(header);
  };
  check.identity.then((identity) => {
    if (identity) check.accepted = identity;
    else forget();
  }, forget);
  return { identity: check.identity, fresh: true };
}

/** Ends a server stream with a gRPC status. */
export function failStream(stream: TunnelStream | ServerCall, code: Status, details: string): void {
  const error: Partial<StatusObject> = { code, details };
  stream.emit('error', error);
}
