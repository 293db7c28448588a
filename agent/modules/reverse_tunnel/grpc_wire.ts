// The gRPC-over-HTTP/2 wire format, as both ends of the agent connection speak it with node:http2
// directly (no grpc-js call objects per stream: those dominated kas's and agentk's CPU profiles
// at one tunnel stream per proxied request).
//   - every message: 1 byte "compressed" flag (always 0 here), 4 bytes big-endian length, payload;
//   - request headers: :method POST, :path /<service>/<method>, content-type application/grpc, te trailers;
//   - response: :status 200 + content-type, messages, then trailers grpc-status / grpc-message;
//     an early failure is a "trailers-only" response (grpc-status in the headers, stream ended).
import { Metadata, Status } from '../../internal/grpc';

export const GRPC_CONTENT_TYPE = 'application/grpc';
const PREFIX_BYTES = 5;
/** A peer announcing a bigger message than this is broken or hostile: the stream fails instead. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/**
 * What kas accepts from an agent in one message (gRPC's own default receive limit): agentk sends
 * body pieces of at most a socket read; a peer announcing more is refused before kas buffers it.
 */
export const MAX_RECEIVED_MESSAGE_BYTES = 4 * 1024 * 1024;

export class GrpcWireError extends Error {
  override name = 'GrpcWireError';
  constructor(
    readonly code: Status,
    message: string,
  ) {
    super(message);
  }
}

/** Bytes before each message: the compressed flag and the big-endian length. */
export const GRPC_MESSAGE_PREFIX_BYTES = PREFIX_BYTES;

/** Fills in the prefix of a message encoded after GRPC_MESSAGE_PREFIX_BYTES of headroom (no copy). */
export function writeMessagePrefix(framed: Buffer): Buffer {
  framed[0] = 0;
  framed.writeUInt32BE(framed.length - PREFIX_BYTES, 1);
  return framed;
}

/** Prefix + payload in one buffer (one HTTP/2 write per message). */
export function frameMessage(payload: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(PREFIX_BYTES + payload.length);
  framed[0] = 0;
  framed.writeUInt32BE(payload.length, 1);
  framed.set(payload, PREFIX_BYTES);
  return framed;
}

/**
 * The gRPC frame of a message whose one set field (fieldNumber, < 16) is a `Message { bytes data = 1 }`,
 * as a small header and the data itself: response bodies go out without being copied (protobufjs
 * copies bytes into its output, and framing would copy them once more; profiled in agentk).
 */
export function frameBytesMessage(fieldNumber: number, data: Buffer): [Buffer, Buffer] {
  if (!Number.isInteger(fieldNumber) || fieldNumber < 1 || fieldNumber > 15)
    throw new RangeError(`field number ${fieldNumber} needs a one-byte tag`);
  const innerLength = 1 + varintSize(data.length) + data.length;
  const payloadLength = 1 + varintSize(innerLength) + innerLength;
  const header = Buffer.allocUnsafe(PREFIX_BYTES + payloadLength - data.length);
  header[0] = 0;
  header.writeUInt32BE(payloadLength, 1);
  let offset = PREFIX_BYTES;
  header[offset++] = (fieldNumber << 3) | 2; // length-delimited
  offset = writeVarint(header, offset, innerLength);
  header[offset++] = (1 << 3) | 2; // data = 1, length-delimited
  writeVarint(header, offset, data.length);
  return [header, data];
}

function varintSize(value: number): number {
  let size = 1;
  for (let rest = value >>> 7; rest > 0; rest >>>= 7) size++;
  return size;
}

function writeVarint(target: Buffer, offset: number, value: number): number {
  let rest = value;
  while (rest > 0x7f) {
    target[offset++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  target[offset++] = rest;
  return offset;
}

/**
 * Reassembles length-prefixed messages from DATA chunks, which split and join messages at any
 * byte. A message inside one chunk is returned as a view of it (no copy).
 */
export class MessageDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxMessageBytes = MAX_MESSAGE_BYTES) {}

  /** The complete messages this chunk finished, in order. */
  push(chunk: Buffer): Buffer[] {
    let data = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      data = Buffer.concat(this.pending, this.pendingBytes + chunk.length);
      this.pending = [];
      this.pendingBytes = 0;
    }
    const messages: Buffer[] = [];
    let offset = 0;
    while (data.length - offset >= PREFIX_BYTES) {
      if (data[offset] !== 0) throw new GrpcWireError(Status.UNIMPLEMENTED, 'compressed gRPC messages are not supported');
      const length = data.readUInt32BE(offset + 1);
      if (length > this.maxMessageBytes)
        throw new GrpcWireError(Status.RESOURCE_EXHAUSTED, `gRPC message of ${length} bytes exceeds the limit`);
      if (data.length - offset - PREFIX_BYTES < length) break;
      messages.push(data.subarray(offset + PREFIX_BYTES, offset + PREFIX_BYTES + length));
      offset += PREFIX_BYTES + length;
    }
    if (offset < data.length) {
      const rest = data.subarray(offset);
      this.pending.push(rest);
      this.pendingBytes = rest.length;
    }
    return messages;
  }

  /**
   * Decodes the messages this chunk finished and hands each to `deliver`, in order. A framing
   * error, or a message `deserialize` refuses (answered as INTERNAL `unparsable`), stops there
   * and is returned: the caller fails the stream.
   */
  decode<T>(
    chunk: Buffer,
    deserialize: (bytes: Buffer) => T,
    deliver: (message: T) => void,
    unparsable: string,
  ): GrpcWireError | undefined {
    let messages: Buffer[];
    try {
      messages = this.push(chunk);
    } catch (err) {
      return err as GrpcWireError;
    }
    for (const bytes of messages) {
      let message: T;
      try {
        message = deserialize(bytes);
      } catch {
        return new GrpcWireError(Status.INTERNAL, unparsable);
      }
      deliver(message);
    }
    return undefined;
  }

  /** Bytes of an unfinished message (a stream that ends here was cut mid-message). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }
}

/** grpc-message is percent-encoded (the spec: printable ASCII except %, as is). */
export function encodeGrpcMessage(text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x7e]/gu, (ch) => encodeURIComponent(ch));
}

export function decodeGrpcMessage(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A numeric grpc-status header value; UNKNOWN when missing or garbled. */
export function parseGrpcStatus(value: string | string[] | undefined): Status {
  const code = Number(Array.isArray(value) ? value[0] : value);
  return Number.isInteger(code) && code >= 0 && code <= 16 ? (code as Status) : Status.UNKNOWN;
}

/** Metadata from HTTP/2 headers, without pseudo-headers and the transport's own. */
export function metadataFromHeaders(headers: Record<string, string | string[] | undefined>): Metadata {
  const metadata = new Metadata();
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || name === 'content-type' || name === 'te' || name.startsWith('grpc-') || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) {
      if (name.endsWith('-bin')) metadata.add(name, Buffer.from(one, 'base64'));
      else metadata.add(name, one);
    }
  }
  return metadata;
}

/** Metadata → HTTP/2 headers (binary values base64). */
export function headersFromMetadata(metadata: Metadata | undefined): Record<string, string[]> {
  const headers: Record<string, string[]> = {};
  if (!metadata) return headers;
  for (const [name, values] of metadata.entries()) {
    if (values.length === 0) continue;
    headers[name] = values.map((value) => (Buffer.isBuffer(value) ? value.toString('base64') : value));
  }
  return headers;
}
