// Codecs and shapes of the reference's agent protocol messages (protos.ts holds their proto text).
// Tunnel frames are decoded as protobufjs returns them (camelCase fields, unset messages null),
// as our own frames are; the configuration uses a snake_case root so that our parsed config
// (snake_case, as the YAML) goes through fromObject as it is.
import type { ServiceDefinition } from '../../../internal/grpc';
import { methodDefinition, protoCodec, type ProtoCodec } from '../../../internal/proto_codec';
import type { ValuesMap } from '../protocol';
import { referenceRoot } from './protos';

export const REFERENCE_CONNECT_PATH = '/gitlab.agent.reverse_tunnel.rpc.ReverseTunnel/Connect';
export const REFERENCE_GET_CONFIGURATION_PATH = '/gitlab.agent.agent_configuration.rpc.AgentConfiguration/GetConfiguration';
export const REFERENCE_REGISTER_PATH = '/gitlab.agent.agent_registrar.rpc.AgentRegistrar/Register';
export const REFERENCE_KUBERNETES_API_SERVICE = 'gitlab.agent.kubernetes_api.rpc.KubernetesApi';
export const REFERENCE_MAKE_REQUEST = `/${REFERENCE_KUBERNETES_API_SERVICE}/MakeRequest`;
export const HEADER_EXTRA_TYPE_URL = 'type.googleapis.com/gitlab.agent.kubernetes_api.rpc.HeaderExtra';

export interface ReferenceStatus {
  code?: number;
  message?: string;
}

/** reverse_tunnel.rpc.ConnectRequest (agent → kas): exactly one field set. */
export interface RefConnectRequest {
  descriptor?: { agentDescriptor?: { services?: Array<{ name?: string; methods?: Array<{ name?: string }> }> } | null } | null;
  header?: { meta?: ValuesMap } | null;
  message?: { data?: Uint8Array } | null;
  trailer?: { meta?: ValuesMap } | null;
  error?: { status?: ReferenceStatus | null } | null;
}

/** reverse_tunnel.rpc.ConnectResponse (kas → agent): exactly one field set. */
export interface RefConnectResponse {
  requestInfo?: { methodName?: string; meta?: ValuesMap } | null;
  message?: { data?: Uint8Array } | null;
  closeSend?: Record<string, never> | null;
}

export interface ImpersonationConfig {
  username?: string;
  groups?: string[];
  uid?: string;
  extra?: Array<{ key?: string; val?: string[] }>;
}

/** grpctool.HttpRequest: what kas's Kubernetes API module sends through a reference tunnel. */
export interface RefHttpRequest {
  header?: {
    request?: { method?: string; header?: ValuesMap; urlPath?: string; query?: ValuesMap } | null;
    extra?: { typeUrl?: string; value?: Uint8Array } | null;
    contentLength?: number | { toNumber(): number } | null;
  } | null;
  data?: { data?: Uint8Array } | null;
  trailer?: Record<string, never> | null;
  upgradeData?: { data?: Uint8Array } | null;
}

/** grpctool.HttpResponse: what a reference agent answers. */
export interface RefHttpResponse {
  header?: { response?: { statusCode?: number; status?: string; header?: ValuesMap } | null } | null;
  data?: { data?: Uint8Array } | null;
  trailer?: Record<string, never> | null;
  upgradeData?: { data?: Uint8Array } | null;
}

const root = referenceRoot();
const type = (name: string) => root.lookupType(name);

const connectRequestCodec = protoCodec<RefConnectRequest>(type('gitlab.agent.reverse_tunnel.rpc.ConnectRequest'));
const connectResponseCodec = protoCodec<RefConnectResponse>(type('gitlab.agent.reverse_tunnel.rpc.ConnectResponse'));
export const refHttpRequestCodec = protoCodec<RefHttpRequest>(type('gitlab.agent.grpctool.HttpRequest'));
export const refHttpResponseCodec = protoCodec<RefHttpResponse>(type('gitlab.agent.grpctool.HttpResponse'));
export const headerExtraCodec = protoCodec<{ impConfig?: ImpersonationConfig | null }>(type('gitlab.agent.kubernetes_api.rpc.HeaderExtra'));

export const serializeRefConnectRequest = connectRequestCodec.serialize;
export const deserializeRefConnectRequest = connectRequestCodec.deserialize;
export const serializeRefConnectResponse = connectResponseCodec.serialize;
export const deserializeRefConnectResponse = connectResponseCodec.deserialize;

export const referenceTunnelServiceDefinition: ServiceDefinition = {
  Connect: methodDefinition(
    REFERENCE_CONNECT_PATH,
    { requestStream: true, responseStream: true },
    connectRequestCodec,
    connectResponseCodec,
    'connect',
  ),
};

// ------------------------------------------------------------------------- agent configuration

export interface RefAgentMeta {
  version?: string;
  commit_id?: string;
  pod_namespace?: string;
  pod_name?: string;
  kubernetes_version?: { major?: string; minor?: string; git_version?: string; platform?: string };
}

export interface RefConfigurationRequest {
  commit_id?: string;
  agent_meta?: RefAgentMeta;
  skip_register?: boolean;
}

export interface RefConfigurationResponse {
  /** agentcfg.AgentConfiguration, snake_case as the proto (fromObject / toObject). */
  configuration?: Record<string, unknown>;
  commit_id?: string;
}

const snakeRoot = referenceRoot({ keepCase: true });
const configurationRequestCodec = protoCodec<RefConfigurationRequest>(
  snakeRoot.lookupType('gitlab.agent.agent_configuration.rpc.ConfigurationRequest'),
  { plainObjects: true },
);
const configurationResponseType = snakeRoot.lookupType('gitlab.agent.agent_configuration.rpc.ConfigurationResponse');
const configurationResponsePlain = protoCodec<RefConfigurationResponse>(configurationResponseType, { plainObjects: true });
// Enums by name (log levels as the YAML writes them), int64 as numbers.
const configurationResponseCodec: ProtoCodec<RefConfigurationResponse> = {
  serialize: configurationResponsePlain.serialize,
  deserialize: (bytes) =>
    configurationResponseType.toObject(configurationResponseType.decode(bytes), {
      longs: Number,
      enums: String,
      defaults: false,
    }) as RefConfigurationResponse,
};

export const serializeRefConfigurationRequest = configurationRequestCodec.serialize;
export const deserializeRefConfigurationRequest = configurationRequestCodec.deserialize;
export const serializeRefConfigurationResponse = configurationResponseCodec.serialize;
export const deserializeRefConfigurationResponse = configurationResponseCodec.deserialize;

export const referenceConfigurationServiceDefinition: ServiceDefinition = {
  GetConfiguration: methodDefinition(
    REFERENCE_GET_CONFIGURATION_PATH,
    { requestStream: false, responseStream: true },
    configurationRequestCodec,
    configurationResponseCodec,
    'getConfiguration',
  ),
};

/** The request and response encodings of the reference's GetConfiguration, as agentk's client call takes them. */
export const referenceConfigurationCallCodec = {
  serialize: serializeRefConfigurationRequest,
  deserialize: deserializeRefConfigurationResponse,
};

// ------------------------------------------------------------------------- agent registrar

export interface RefRegisterRequest {
  agent_meta?: RefAgentMeta;
  /** int64, random per agentk pod: kept as a decimal string (a Number would round it). */
  pod_id?: string;
}

const registerRequestType = snakeRoot.lookupType('gitlab.agent.agent_registrar.rpc.RegisterRequest');
const registerRequestCodec: ProtoCodec<RefRegisterRequest> = {
  serialize: protoCodec<RefRegisterRequest>(registerRequestType, { plainObjects: true }).serialize,
  deserialize: (bytes) =>
    registerRequestType.toObject(registerRequestType.decode(bytes), { longs: String, defaults: false }) as RefRegisterRequest,
};
const registerResponseCodec = protoCodec<Record<string, never>>(snakeRoot.lookupType('gitlab.agent.agent_registrar.rpc.RegisterResponse'), {
  plainObjects: true,
});

export const referenceRegistrarServiceDefinition: ServiceDefinition = {
  Register: methodDefinition(
    REFERENCE_REGISTER_PATH,
    { requestStream: false, responseStream: false },
    registerRequestCodec,
    registerResponseCodec,
    'register',
  ),
};
