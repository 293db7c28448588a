// The reverse tunnel's wire contract. agentk opens `Connect` streams to kas; each stream carries
// exactly one tunneled request:
//   agentk → kas: descriptor (what the agent offers and who it is)
//   kas → agentk: request_info (method, metadata, the called service's own header), message*, close_send
//   agentk → kas: header (HTTP status + headers), message*, trailer — or error
// After an HTTP upgrade (status 101) the message frames in both directions are the raw bytes of
// the upgraded connection; close_send / trailer say that one side finished writing.
//
// The .proto is embedded and parsed at module load, so neither bundle reads asset files at run time.
import type { ServiceDefinition } from '../../internal/grpc';
import { methodDefinition, protoCodec, protoTypes } from '../../internal/proto_codec';

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

message RequestInfo {
  string method_name = 1;
  map<string, Values> meta = 2;
  // The called service's own request header, encoded by that service: the tunnel carries it as is.
  bytes header = 3;
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

export interface RequestInfo {
  /** /<service>/<method>: which of the services the agent's descriptor lists is called. */
  methodName?: string;
  meta?: ValuesMap;
  /** The service's request header (for kubernetes_api: its MakeRequestHeader). */
  header?: Uint8Array;
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

const NO_BYTES = Buffer.alloc(0);

/**
 * The bytes of a message frame, as a Buffer. Decoded bytes are views of the received frame (no
 * copy), but an empty or absent `data` decodes to protobufjs's default, an empty *array*, which
 * sockets and HTTP responses refuse with a throw: any peer may send such a frame.
 */
export function messageBytes(message: { data?: Uint8Array | null } | null | undefined): Buffer {
  const data = message?.data;
  if (!data || data.length === 0) return NO_BYTES;
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

const protoType = protoTypes(PROTO_TEXT);
// Decoded messages are used as protobufjs returns them (no toObject copy per frame): unset
// message fields read as null, unset scalars as their proto3 defaults — readers test truthiness.
const connectRequestCodec = protoCodec<ConnectRequest>(protoType('workbench.reverse_tunnel.ConnectRequest'));
const connectResponseCodec = protoCodec<ConnectResponse>(protoType('workbench.reverse_tunnel.ConnectResponse'));

export const serializeConnectRequest = connectRequestCodec.serialize;
export const deserializeConnectRequest = connectRequestCodec.deserialize;
export const serializeConnectResponse = connectResponseCodec.serialize;
export const deserializeConnectResponse = connectResponseCodec.deserialize;

/** The service definition for both ends (kas's server; a grpc-js client or server in tests). */
export const reverseTunnelServiceDefinition: ServiceDefinition = {
  Connect: methodDefinition(
    CONNECT_METHOD_PATH,
    { requestStream: true, responseStream: true },
    connectRequestCodec,
    connectResponseCodec,
    'connect',
  ),
};

// ---------------------------------------------------------------- hand-written encoders, hot path
// agentk sends a Header frame (status + response headers) and a Trailer per proxied request;
// protobufjs's Writer (an operation list, forks per map entry, then a copy into the output) showed
// in agentk's profile. These write the same wire format straight into one buffer.

const WIRE_LENGTH_DELIMITED = 2;
const CONNECT_REQUEST_HEADER_FIELD = 2;
const CONNECT_REQUEST_TRAILER_FIELD = 4;

function varintLength(value: number): number {
  let size = 1;
  for (let rest = value >>> 7; rest > 0; rest >>>= 7) size++;
  return size;
}

function putVarint(target: Buffer, offset: number, value: number): number {
  let rest = value >>> 0;
  while (rest > 0x7f) {
    target[offset++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  target[offset++] = rest;
  return offset;
}

/** tag + length + bytes of one length-delimited field, in bytes. */
function delimitedSize(length: number): number {
  return 1 + varintLength(length) + length;
}

/** Byte lengths of one map<string, Values> entry: [entry, key, values message, each value]. */
function valuesEntrySizes(name: string, values: string[]): number[] {
  const keyLength = Buffer.byteLength(name);
  const valueLengths = values.map((v) => Buffer.byteLength(v));
  const valuesLength = valueLengths.reduce((sum, length) => sum + delimitedSize(length), 0);
  const entryLength = delimitedSize(keyLength) + delimitedSize(valuesLength);
  return [entryLength, keyLength, valuesLength, ...valueLengths];
}

function putString(target: Buffer, offset: number, fieldNumber: number, text: string, length: number): number {
  target[offset++] = (fieldNumber << 3) | WIRE_LENGTH_DELIMITED;
  offset = putVarint(target, offset, length);
  return offset + target.write(text, offset, length, 'utf8');
}

function putValuesEntry(target: Buffer, offset: number, fieldNumber: number, name: string, values: string[], sizes: number[]): number {
  const [entryLength, keyLength, valuesLength] = sizes as [number, number, number];
  target[offset++] = (fieldNumber << 3) | WIRE_LENGTH_DELIMITED;
  offset = putVarint(target, offset, entryLength);
  offset = putString(target, offset, 1, name, keyLength);
  target[offset++] = (2 << 3) | WIRE_LENGTH_DELIMITED;
  offset = putVarint(target, offset, valuesLength);
  for (let i = 0; i < values.length; i++) offset = putString(target, offset, 1, values[i]!, sizes[3 + i]!);
  return offset;
}

/**
 * `ConnectRequest { header }` encoded, after `headroom` free bytes (for the gRPC message prefix).
 * undefined when the frame has what this encoder leaves to protobufjs (gRPC meta, a negative status).
 */
export function encodeHeaderRequest(header: HeaderFrame, headroom: number): Buffer | undefined {
  const status = header.status ?? 0;
  if (!Number.isInteger(status) || status < 0 || status > 0x7fffffff || (header.meta && Object.keys(header.meta).length > 0))
    return undefined;
  const reason = header.reason ?? '';
  const reasonLength = Buffer.byteLength(reason);
  const entries = Object.entries(header.httpHeaders ?? {});
  const sizes = entries.map(([name, entry]) => valuesEntrySizes(name, entry?.value ?? []));
  let innerLength = 0;
  if (status !== 0) innerLength += 1 + varintLength(status);
  if (reasonLength > 0) innerLength += delimitedSize(reasonLength);
  for (const entrySizes of sizes) innerLength += delimitedSize(entrySizes[0]!);
  const out = Buffer.allocUnsafe(headroom + delimitedSize(innerLength));
  let offset = headroom;
  out[offset++] = (CONNECT_REQUEST_HEADER_FIELD << 3) | WIRE_LENGTH_DELIMITED;
  offset = putVarint(out, offset, innerLength);
  if (status !== 0) {
    out[offset++] = 2 << 3; // status = 2, varint
    offset = putVarint(out, offset, status);
  }
  if (reasonLength > 0) offset = putString(out, offset, 3, reason, reasonLength);
  for (let i = 0; i < entries.length; i++) offset = putValuesEntry(out, offset, 4, entries[i]![0], entries[i]![1]?.value ?? [], sizes[i]!);
  return out;
}

/** `ConnectRequest { trailer: {} }` encoded: the same two bytes for every response. */
export const EMPTY_TRAILER_REQUEST_BYTES: Buffer = Buffer.from([(CONNECT_REQUEST_TRAILER_FIELD << 3) | WIRE_LENGTH_DELIMITED, 0]);
