// The Kubernetes API proxy's wire: the service agentk offers through the tunnel, and the header
// kas sends with each call (the HTTP request and who is calling) in RequestInfo.header. The
// request body and the response travel as the tunnel's message frames.
import { protoCodec, protoTypes } from '../../internal/proto_codec';
import type { ValuesMap } from '../reverse_tunnel/protocol';

export const KUBERNETES_API_SERVICE = 'workbench.kubernetes_api.KubernetesApi';
export const KUBERNETES_API_MAKE_REQUEST = `/${KUBERNETES_API_SERVICE}/MakeRequest`;

const PROTO_TEXT = `
syntax = "proto3";
package workbench.kubernetes_api;

message Values { repeated string value = 1; }

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

message MakeRequestHeader {
  HttpRequest http = 1;
  CallerInfo caller = 2;
}
`;

// Scalars equal to their proto3 default (empty, 0, false) are absent after decoding: optional here.
export interface HttpRequest {
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
  /** pat (a user) or ci (a CI job). */
  kind?: string;
  /** The agent config's access_as, as JSON. */
  accessAsJson?: string;
  username?: string;
  groups?: string[];
}

export interface MakeRequestHeader {
  http?: HttpRequest;
  caller?: CallerInfo;
}

// Decoded as protobufjs returns it (no toObject copy): unset message fields read as null.
const headerCodec = protoCodec<MakeRequestHeader>(protoTypes(PROTO_TEXT)('workbench.kubernetes_api.MakeRequestHeader'));

export const encodeMakeRequestHeader = headerCodec.serialize;

export function decodeMakeRequestHeader(bytes: Uint8Array | null | undefined): MakeRequestHeader {
  if (!bytes || bytes.length === 0) return {};
  return headerCodec.deserialize(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
