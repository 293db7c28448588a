// kas side of the tunnel RPC: authenticates each Connect stream by its agent token, then
// parks it in the TunnelRegistry once agentk has described itself.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../../internal/log';
import { reverseTunnelServiceDefinition, type ConnectRequest } from '../protocol';
import { agentConnectionsRefused } from './metrics';
import type { AgentIdentity, TunnelRegistry, TunnelStream } from './registry';

export interface ReverseTunnelServiceOptions {
  registry: TunnelRegistry;
  /** Resolves an agent token (B2's token store); undefined means the token is not valid. */
  authenticateAgent(token: string): Promise<AgentIdentity | undefined>;
  logger: Logger;
}

/** For startAgentServer's `services`. */
export function reverseTunnelService(options: ReverseTunnelServiceOptions): (server: grpc.Server) => void {
  return (server) => {
    server.addService(reverseTunnelServiceDefinition, {
      Connect: (stream: TunnelStream) => {
        acceptStream(stream, options).catch((err: unknown) => {
          options.logger.error('tunnel stream setup failed', { err });
          failStream(stream, grpc.status.INTERNAL, 'tunnel setup failed');
        });
      },
    });
  };
}

/** The agent token from `authorization: Bearer <token>` metadata. */
export function agentTokenFromMetadata(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  const match = typeof value === 'string' ? /^Bearer\s+(\S+)$/i.exec(value) : null;
  return match?.[1];
}

async function acceptStream(stream: TunnelStream, options: ReverseTunnelServiceOptions): Promise<void> {
  const identity = await authenticate(stream, options);
  if (!identity) return;
  // Empty response headers tell agentk that the stream is up and its token accepted.
  stream.sendMetadata(new grpc.Metadata());
  stream.once('data', (first: ConnectRequest) => {
    if (!first.descriptor) {
      failStream(stream, grpc.status.INVALID_ARGUMENT, 'the first message on a tunnel must be the agent descriptor');
      return;
    }
    options.registry.register(identity, first.descriptor, stream);
  });
  stream.on('error', (err) => options.logger.debug('tunnel stream error', { agentId: identity.agentId, err }));
}

async function authenticate(stream: TunnelStream, options: ReverseTunnelServiceOptions): Promise<AgentIdentity | undefined> {
  const token = agentTokenFromMetadata(stream.metadata);
  if (!token) {
    agentConnectionsRefused.inc();
    failStream(stream, grpc.status.UNAUTHENTICATED, 'missing agent token (authorization: Bearer <token>)');
    return undefined;
  }
  let identity: AgentIdentity | undefined;
  try {
    identity = await options.authenticateAgent(token);
  } catch (err) {
    options.logger.error('agent token check failed', { err });
    failStream(stream, grpc.status.UNAVAILABLE, 'agent token check failed, retry later');
    return undefined;
  }
  if (!identity) {
    agentConnectionsRefused.inc();
    failStream(stream, grpc.status.UNAUTHENTICATED, 'invalid agent token');
  }
  return identity;
}

/** Ends a server stream with a gRPC status (grpc-js turns an 'error' event into the status). */
export function failStream(stream: TunnelStream, code: grpc.status, details: string): void {
  const error: Partial<grpc.StatusObject> = { code, details };
  stream.emit('error', error);
}
