// kas side of the configuration stream: GetConfiguration authenticates the agent token, sends
// the agent's config in force at once (if it has one) and again whenever it changes.
import { Status } from '../../internal/grpc';
import type { Logger } from '../../internal/log';
import type { GrpcServiceRegistrar, ServerCall } from '../reverse_tunnel/server/grpc_server';
import type { AgentConfigState, AgentConfigWatcher } from './config_watcher';
import {
  agentConfigurationServiceDefinition,
  bearerTokenFrom,
  type AgentMeta,
  type ConfigurationRequest,
  type ConfigurationResponse,
} from './rpc';

/** Who the token belongs to, or why the connection is refused (unknown token, rate limit...). */
export type AgentAdmission = { ok: true; agentId: string; agentName: string } | { ok: false; code: Status; message: string };

export interface ConfigurationServiceOptions {
  watcher: AgentConfigWatcher;
  admitAgent: (token: string | undefined) => Promise<AgentAdmission>;
  /** The config repository's project id, sent along with each config. */
  projectId: string;
  /** Records an open stream (a connected agentk); returns the function that forgets it. */
  trackConnection?: (agentId: number, meta: Required<AgentMeta>) => () => void;
  onDelivered?: (agentName: string, commit: string) => void;
  logger: Logger;
}

/** For startAgentServer's `services`: registers GetConfiguration on the agent listener. */
export function configurationService(options: ConfigurationServiceOptions): (server: GrpcServiceRegistrar) => void {
  return (server) => {
    server.addService(agentConfigurationServiceDefinition, {
      GetConfiguration: (call: ServerCall) => {
        serveConfigurationStream(call, options).catch((err: unknown) => {
          options.logger.error('configuration stream failed', { err });
          call.emit('error', { code: Status.INTERNAL, details: 'internal error' });
        });
      },
    });
  };
}

async function serveConfigurationStream(call: ServerCall, options: ConfigurationServiceOptions): Promise<void> {
  const admission = await options.admitAgent(bearerTokenFrom(call.metadata));
  if (!admission.ok) {
    call.emit('error', { code: admission.code, details: admission.message });
    return;
  }
  if (call.cancelled) return;
  const request = call.request as ConfigurationRequest;
  const agentId = Number(admission.agentId);
  const meta = {
    version: request.agentMeta?.version ?? '',
    podName: request.agentMeta?.podName ?? '',
    podNamespace: request.agentMeta?.podNamespace ?? '',
  };
  const logger = options.logger.child({ agent: admission.agentName, agentId, pod: meta.podName });
  let lastSentCommit: string | undefined;
  const send = (state: AgentConfigState | undefined) => {
    if (!state?.config || state.commit === null || state.commit === lastSentCommit || call.cancelled) return;
    lastSentCommit = state.commit;
    const response: ConfigurationResponse = {
      configJson: JSON.stringify(state.config),
      commitId: state.commit,
      projectId: options.projectId,
      agentId,
    };
    call.write(response);
    options.onDelivered?.(admission.agentName, state.commit);
    logger.debug('config sent', { commit: state.commit });
  };
  const unsubscribe = options.watcher.subscribe(admission.agentName, send);
  const untrack = options.trackConnection?.(agentId, meta) ?? (() => undefined);
  const close = () => {
    unsubscribe();
    untrack();
  };
  call.on('cancelled', close);
  call.on('close', close);
  call.on('error', close);
  logger.info('agent configuration stream opened');
  send(options.watcher.agentByName(admission.agentName));
}
