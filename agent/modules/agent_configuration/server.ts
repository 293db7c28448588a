// kas side of the configuration stream: GetConfiguration authenticates the agent token, sends
// the agent's config in force at once (if it has one) and again whenever it changes. Served
// twice: our own method (the config as JSON) and the reference's (agentcfg.AgentConfiguration,
// for an agent built from the reference's .proto files), with the same admission and tracking.
import { Status } from '../../internal/grpc';
import type { Logger } from '../../internal/log';
import type { GrpcServiceRegistrar, ServerCall } from '../reverse_tunnel/server/grpc_server';
import { rememberReferenceAgentMeta } from '../reverse_tunnel/reference/kas_translator';
import {
  referenceConfigurationServiceDefinition,
  type RefAgentMeta,
  type RefConfigurationRequest,
  type RefConfigurationResponse,
} from '../reverse_tunnel/reference/wire';
import { referenceAgentConfiguration } from './reference_config';
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
    const serve = (dialect: Dialect) => (call: ServerCall) => {
      serveConfigurationStream(call, options, dialect).catch((err: unknown) => {
        options.logger.error('configuration stream failed', { err });
        call.emit('error', { code: Status.INTERNAL, details: 'internal error' });
      });
    };
    server.addService(agentConfigurationServiceDefinition, { GetConfiguration: serve(OWN_DIALECT) });
    server.addService(referenceConfigurationServiceDefinition, { GetConfiguration: serve(REFERENCE_DIALECT) });
  };
}

/** What differs between our GetConfiguration and the reference's: the messages. */
interface Dialect {
  meta(request: unknown): Required<AgentMeta>;
  /** The commit the agent already has (the reference's agents send it): not sent again. */
  knownCommit(request: unknown): string | undefined;
  /** The reference's skip_register: the stream does not count as a connected replica. */
  skipRegister(request: unknown): boolean;
  response(
    state: AgentConfigState & { config: NonNullable<AgentConfigState['config']>; commit: string },
    agentId: number,
    projectId: string,
  ): unknown;
}

const OWN_DIALECT: Dialect = {
  meta: (request) => {
    const agentMeta = (request as ConfigurationRequest).agentMeta;
    return { version: agentMeta?.version ?? '', podName: agentMeta?.podName ?? '', podNamespace: agentMeta?.podNamespace ?? '' };
  },
  knownCommit: () => undefined,
  skipRegister: () => false,
  response: (state, agentId, projectId): ConfigurationResponse => ({
    configJson: JSON.stringify(state.config),
    commitId: state.commit,
    projectId,
    agentId,
  }),
};

/** The replica a reference agent_meta names (GetConfiguration's and Register's). */
export function referenceReplicaMeta(agentMeta: RefAgentMeta | undefined): Required<AgentMeta> {
  return { version: agentMeta?.version ?? '', podName: agentMeta?.pod_name ?? '', podNamespace: agentMeta?.pod_namespace ?? '' };
}

const REFERENCE_DIALECT: Dialect = {
  meta: (request) => referenceReplicaMeta((request as RefConfigurationRequest).agent_meta),
  knownCommit: (request) => (request as RefConfigurationRequest).commit_id || undefined,
  skipRegister: (request) => (request as RefConfigurationRequest).skip_register === true,
  response: (state, agentId, projectId): RefConfigurationResponse => ({
    configuration: referenceAgentConfiguration(state.config, { agentId, projectId }),
    commit_id: state.commit,
  }),
};

async function serveConfigurationStream(call: ServerCall, options: ConfigurationServiceOptions, dialect: Dialect): Promise<void> {
  const admission = await options.admitAgent(bearerTokenFrom(call.metadata));
  if (!admission.ok) {
    call.emit('error', { code: admission.code, details: admission.message });
    return;
  }
  if (call.cancelled) return;
  const agentId = Number(admission.agentId);
  const meta = dialect.meta(call.request);
  if (dialect === REFERENCE_DIALECT) rememberReferenceAgentMeta(call.connection, meta);
  const logger = options.logger.child({ agent: admission.agentName, agentId, pod: meta.podName });
  let lastSentCommit: string | undefined = dialect.knownCommit(call.request);
  const send = (state: AgentConfigState | undefined) => {
    if (!state?.config || state.commit === null || state.commit === lastSentCommit || call.cancelled) return;
    lastSentCommit = state.commit;
    call.write(dialect.response({ ...state, config: state.config, commit: state.commit }, agentId, options.projectId));
    options.onDelivered?.(admission.agentName, state.commit);
    logger.debug('config sent', { commit: state.commit });
  };
  const unsubscribe = options.watcher.subscribe(admission.agentName, send);
  const untrack = (!dialect.skipRegister(call.request) && options.trackConnection?.(agentId, meta)) || (() => undefined);
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
