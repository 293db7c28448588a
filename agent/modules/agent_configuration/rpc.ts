// The configuration stream's wire contract, shared by kas (server) and agentk (client).
// agentk calls GetConfiguration once with its identity; kas keeps the stream open and sends the
// agent's parsed config now and again every time it changes on the default branch.
// Like the reverse tunnel, the .proto is embedded and parsed by protobufjs at module load. The
// config itself travels as JSON text: its schema lives in one place (schema/), not twice.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

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

const root = protobuf.parse(PROTO_TEXT).root;
const requestType = root.lookupType('workbench.agent_configuration.ConfigurationRequest');
const responseType = root.lookupType('workbench.agent_configuration.ConfigurationResponse');
const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, defaults: false };

function serializer<T>(type: protobuf.Type): (value: T) => Buffer {
  return (value) => Buffer.from(type.encode(type.fromObject(value as Record<string, unknown>)).finish());
}

function deserializer<T>(type: protobuf.Type): (bytes: Buffer) => T {
  return (bytes) => type.toObject(type.decode(bytes), TO_OBJECT) as T;
}

export const serializeConfigurationRequest = serializer<ConfigurationRequest>(requestType);
export const deserializeConfigurationRequest = deserializer<ConfigurationRequest>(requestType);
export const serializeConfigurationResponse = serializer<ConfigurationResponse>(responseType);
export const deserializeConfigurationResponse = deserializer<ConfigurationResponse>(responseType);

export const agentConfigurationServiceDefinition: grpc.ServiceDefinition = {
  GetConfiguration: {
    path: GET_CONFIGURATION_PATH,
    requestStream: false,
    responseStream: true,
    requestSerialize: serializeConfigurationRequest,
    requestDeserialize: deserializeConfigurationRequest,
    responseSerialize: serializeConfigurationResponse,
    responseDeserialize: deserializeConfigurationResponse,
    originalName: 'getConfiguration',
  },
};

/** The agent token from gRPC metadata `authorization: Bearer <token>`; undefined if absent. */
export function bearerTokenFrom(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  const match = typeof value === 'string' ? /^Bearer\s+(\S+)$/i.exec(value.trim()) : null;
  return match?.[1];
}
