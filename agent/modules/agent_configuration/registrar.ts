// kas side of the reference's AgentRegistrar/Register: newer reference agents register each
// agentk pod with it (periodically, every 5 minutes) instead of through the configuration stream,
// whose skip_register they then set. A registration counts as a connected replica until it
// expires, and names the replica of the tunnel streams on its connection, as a GetConfiguration's
// agent_meta does.
import { Status } from '../../internal/grpc';
import type { Logger } from '../../internal/log';
import type { GrpcServiceRegistrar, ServerCall } from '../reverse_tunnel/server/grpc_server';
import { rememberReferenceAgentMeta } from '../reverse_tunnel/reference/kas_translator';
import { referenceRegistrarServiceDefinition, type RefRegisterRequest } from '../reverse_tunnel/reference/wire';
import { bearerTokenFrom, type AgentMeta } from './rpc';
import { referenceReplicaMeta, type AgentAdmission } from './server';

/**
 * How long a registration counts without being repeated: the reference kas's default
 * `redis_conn_info_ttl` (5 min), which is also its agent's re-registration interval.
 */
export const REGISTRATION_TTL_MS = 5 * 60_000;

export interface RegistrarServiceOptions {
  admitAgent: (token: string | undefined) => Promise<AgentAdmission>;
  /** Records (or renews) a registered replica for `ttlMs`. */
  trackRegistration: (agentId: number, podId: string, meta: Required<AgentMeta>, ttlMs: number) => void;
  ttlMs?: number;
  logger: Logger;
}

/** For startAgentServer's `services`: registers the reference's Register on the agent listener. */
export function registrarService(options: RegistrarServiceOptions): (server: GrpcServiceRegistrar) => void {
  return (server) => {
    server.addService(referenceRegistrarServiceDefinition, {
      Register: (call) => {
        register(call, options).catch((err: unknown) => {
          options.logger.error('agent registration failed', { err });
          call.emit('error', { code: Status.INTERNAL, details: 'internal error' });
        });
      },
    });
  };
}

async function register(call: ServerCall, options: RegistrarServiceOptions): Promise<void> {
  const admission = await options.admitAgent(bearerTokenFrom(call.metadata));
  if (!admission.ok) {
    call.emit('error', { code: admission.code, details: admission.message });
    return;
  }
  if (call.cancelled) return;
  const request = call.request as RefRegisterRequest;
  const agentId = Number(admission.agentId);
  const meta = referenceReplicaMeta(request.agent_meta);
  const podId = request.pod_id ?? '0';
  rememberReferenceAgentMeta(call.connection, meta);
  options.trackRegistration(agentId, podId, meta, options.ttlMs ?? REGISTRATION_TTL_MS);
  options.logger.info('agent replica registered', {
    agent: admission.agentName,
    agentId,
    pod: meta.podName,
    podId,
    commit: request.agent_meta?.commit_id ?? '',
  });
  call.write({});
  call.end();
}
