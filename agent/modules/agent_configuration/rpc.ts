// The configuration stream's wire contract, shared by kas (server) and agentk (client).
// agentk calls GetConfiguration once with its identity; kas keeps the stream open and sends the
// agent's parsed config now and again every time it changes on the default branch.
// Like the reverse tunnel, the .proto is embedded and parsed by protobufjs at module load. The
// config itself travels as JSON text: its schema lives in one place (schema/), not twice.
import type { Metadata, ServiceDefinition } from '../../internal/grpc';
import { methodDefinition, protoCodec, protoTypes } from '../../internal/proto_codec';
import { bearerToken } from '../../shared/proxy_credential';

const PROTO_TEXT = `
syntax = "proto3";
package workbench.agent_configuration;

message AgentMeta {
  string version = 1;
  string pod_name = 2;
  string pod_namespace = 3;
}

message ConfigurationRequest {
  AgentMeta agent_meta = 1;
}

message ConfigurationResponse {
  string config_json = 1;
  string commit_id = 2;
  string project_id = 3;
  int64 agent_id = 4;
}

service AgentConfiguration {
  rpc GetConfiguration(ConfigurationRequest) returns (stream ConfigurationResponse);
}
`;

export const GET_CONFIGURATION_PATH = '/workbench.agent_configuration.AgentConfiguration/GetConfiguration';

export interface AgentMeta {
  version?: string;
  podName?: string;
  podNamespace?: string;
}

export interface ConfigurationRequest {
  agentMeta?: AgentMeta;
}

export interface ConfigurationResponse {
  configJson?: string;
  commitId?: string;
  projectId?: string;
  agentId?: number;
}

const protoType = protoTypes(PROTO_TEXT);
// Small, rare messages: plain objects both ways (int64 agent_id as a number).
const requestCodec = protoCodec<ConfigurationRequest>(protoType('workbench.agent_configuration.ConfigurationRequest'), {
  plainObjects: true,
});
const responseCodec = protoCodec<ConfigurationResponse>(protoType('workbench.agent_configuration.ConfigurationResponse'), {
  plainObjects: true,
});

export const serializeConfigurationRequest = requestCodec.serialize;
export const deserializeConfigurationRequest = requestCodec.deserialize;
export const serializeConfigurationResponse = responseCodec.serialize;
export const deserializeConfigurationResponse = responseCodec.deserialize;

/** The request and response encodings, as a client call takes them. */
export const configurationCallCodec = { serialize: serializeConfigurationRequest, deserialize: deserializeConfigurationResponse };

export const agentConfigurationServiceDefinition: ServiceDefinition = {
  GetConfiguration: methodDefinition(
    GET_CONFIGURATION_PATH,
    { requestStream: false, responseStream: true },
    requestCodec,
    responseCodec,
    'getConfiguration',
  ),
};

/** The agent token from gRPC metadata `authorization: Bearer <token>`; undefined if absent. */
export function bearerTokenFrom(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  return typeof value === 'string' ? bearerToken(value) : undefined;
}
