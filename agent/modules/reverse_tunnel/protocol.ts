// The reverse tunnel's wire contract. agentk opens `Connect` streams to kas; each stream carries
// exactly one tunneled request:
//   agentk → kas: descriptor (what the agent offers and who it is)
//   kas → agentk: request_info (method, metadata, the HTTP request), message*, close_send
//   agentk → kas: header (HTTP status + headers), message*, trailer — or error
// After an HTTP upgrade (status 101) the message frames in both directions are the raw bytes of
// the upgraded connection; close_send / trailer say that one side finished writing.
//
// The .proto is embedded and parsed at module load, so neither bundle reads asset files at run time.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

const PROTO_TEXT = `
syntax = "proto3";
package workbench.reverse_tunnel;

message Values { repeated string value = 1; }

message ServiceDescriptor {
  string name = 1;
  repeated string methods = 2;
}

message AgentDescriptor {
  repeated ServiceDescriptor services = 1;
  string version = 2;
  string pod_name = 3;
  string pod_namespace = 4;
  string instance_id = 5;
}

message HttpRequest {
  string method = 1;
  string path = 2;
  map<string, Values> headers = 3;
  bool upgrade = 4;
  bool no_body = 5;
}

message CallerInfo {
  string kind = 1;
  string access_as_json = 2;
  string username = 3;
  repeated string groups = 4;
}

message RequestInfo {
  string method_name = 1;
  map<string, Values> meta = 2;
  HttpRequest http = 3;
  CallerInfo caller = 4;
}

message Message { bytes data = 1; }
message CloseSend {}

message Header {
  map<string, Values> meta = 1;
  int32 status = 2;
  string reason = 3;
  map<string, Values> http_headers = 4;
}

message Trailer { map<string, Values> meta = 1; }

message Error {
  int32 code = 1;
  string message = 2;
}

message ConnectRequest {
  oneof msg {
    AgentDescriptor descriptor = 1;
    Header header = 2;
    Message message = 3;
    Trailer trailer = 4;
    Error error = 5;
  }
}

message ConnectResponse {
  oneof msg {
    RequestInfo request_info = 1;
    Message message = 2;
    CloseSend close_send = 3;
  }
}

service ReverseTunnel {
  rpc Connect(stream ConnectRequest) returns (stream ConnectResponse);
}
`;

/** The one service agentk offers through the tunnel today, and its one method. */
export const KUBERNETES_API_SERVICE = 'workbench.kubernetes_api.KubernetesApi';
export const KUBERNETES_API_MAKE_REQUEST = `/${KUBERNETES_API_SERVICE}/MakeRequest`;

export const CONNECT_METHOD_PATH = '/workbench.reverse_tunnel.ReverseTunnel/Connect';

/** Multi-valued string maps, as HTTP headers and gRPC metadata need. */
export type ValuesMap = Record<string, { value?: string[] }>;

// Scalars equal to their proto3 default (empty, 0, false) are absent after decoding: optional here.
export interface AgentDescriptor {
  services?: Array<{ name?: string; methods?: string[] }>;
  version?: string;
  podName?: string;
  podNamespace?: string;
  instanceId?: string;
}

export interface HttpRequestFrame {
  method?: string;
  path?: string;
  headers?: ValuesMap;
  upgrade?: boolean;
  /**
   * kas saw a request without a body (no content-length/transfer-encoding, or length 0): agentk
   * may end the upstream request at once instead of waiting for close_send. Agents that predate
   * the field ignore it; kas still sends close_send.
   */
  noBody?: boolean;
}

export interface CallerInfo {
  kind?: string;
  accessAsJson?: string;
  username?: string;
  groups?: string[];
}

export interface RequestInfo {
  methodName?: string;
  meta?: ValuesMap;
  http?: HttpRequestFrame;
  caller?: CallerInfo;
}

export interface HeaderFrame {
  meta?: ValuesMap;
  status?: number;
  reason?: string;
  httpHeaders?: ValuesMap;
}

export interface ErrorFrame {
  code?: number;
  message?: string;
}

/** agentk → kas. Exactly one field is set. */
export interface ConnectRequest {
  descriptor?: AgentDescriptor;
  header?: HeaderFrame;
  message?: { data?: Uint8Array };
  trailer?: { meta?: ValuesMap };
  error?: ErrorFrame;
}

/** kas → agentk. Exactly one field is set. */
export interface ConnectResponse {
  requestInfo?: RequestInfo;
  message?: { data?: Uint8Array };
  closeSend?: Record<string, never>;
}

const root = protobuf.parse(PROTO_TEXT).root;
const connectRequestType = root.lookupType('workbench.reverse_tunnel.ConnectRequest');
const connectResponseType = root.lookupType('workbench.reverse_tunnel.ConnectResponse');

// On Node, protobufjs's writer already returns a Buffer: wrap, never copy (a copy per frame cost
// measurable throughput on streamed responses).
function serializer<T>(type: protobuf.Type): (value: T) => Buffer {
  return (value) => {
    const bytes = type.encode(value as unknown as Record<string, unknown>).finish();
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

// Decoded messages are used as protobufjs returns them (no toObject copy per frame): unset
// message fields read as null, unset scalars as their proto3 defaults — readers test truthiness.
function deserializer<T>(type: protobuf.Type): (bytes: Buffer) => T {
  return (bytes) => type.decode(bytes) as unknown as T;
}

export const serializeConnectRequest = serializer<ConnectRequest>(connectRequestType);
export const deserializeConnectRequest = deserializer<ConnectRequest>(connectRequestType);
export const serializeConnectResponse = serializer<ConnectResponse>(connectResponseType);
export const deserializeConnectResponse = deserializer<ConnectResponse>(connectResponseType);

/** The grpc-js service definition for both ends (server: addService; client: makeGenericClientConstructor). */
export const reverseTunnelServiceDefinition: grpc.ServiceDefinition = {
  Connect: {
    path: CONNECT_METHOD_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: serializeConnectRequest,
    requestDeserialize: deserializeConnectRequest,
    responseSerialize: serializeConnectResponse,
    responseDeserialize: deserializeConnectResponse,
    originalName: 'connect',
  },
};

/** Node's IncomingHttpHeaders / OutgoingHttpHeaders ↔ the wire's multi-valued map. */
export function headersToValues(headers: Record<string, string | string[] | number | undefined>): ValuesMap {
  const out: ValuesMap = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = { value: Array.isArray(value) ? value.map(String) : [String(value)] };
  }
  return out;
}

export function valuesToHeaders(values: ValuesMap | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, entry] of Object.entries(values ?? {})) out[name] = entry.value ?? [];
  return out;
}
