// Protobuf encoding for the agent RPCs: each wire contract embeds its .proto text, parsed by
// protobufjs at module load (neither bundle reads asset files at run time), and takes one codec
// per message type from here.
import protobuf from 'protobufjs';
import type { MethodDefinition } from './grpc';

export interface ProtoCodec<T> {
  serialize(value: T): Buffer;
  deserialize(bytes: Buffer): T;
}

export interface ProtoCodecOptions {
  /**
   * Plain objects both ways: values go through fromObject before encoding, and decoded messages
   * come back as toObject gives them (int64 as number, unset fields absent). Off, values are
   * encoded as they are and decoded messages are protobufjs's own (no copy per message: unset
   * message fields read as null, unset scalars as their proto3 defaults), for hot paths.
   */
  plainObjects?: boolean;
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, defaults: false };

/** The message types of an embedded .proto, by full name. */
export function protoTypes(protoText: string): (fullName: string) => protobuf.Type {
  const root = protobuf.parse(protoText).root;
  return (fullName) => root.lookupType(fullName);
}

export function protoCodec<T>(type: protobuf.Type, options: ProtoCodecOptions = {}): ProtoCodec<T> {
  const plain = options.plainObjects === true;
  return {
    // On Node, protobufjs's writer already returns a Buffer: wrap, never copy (a copy per frame
    // cost measurable throughput on streamed responses).
    serialize: (value) => {
      const message = plain ? type.fromObject(value as Record<string, unknown>) : (value as unknown as Record<string, unknown>);
      const bytes = type.encode(message).finish();
      return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    deserialize: plain ? (bytes) => type.toObject(type.decode(bytes), TO_OBJECT) as T : (bytes) => type.decode(bytes) as unknown as T,
  };
}

/** A method definition from its path, its streaming kinds and the codecs of its messages. */
export function methodDefinition<Req, Res>(
  path: string,
  streams: { requestStream: boolean; responseStream: boolean },
  request: ProtoCodec<Req>,
  response: ProtoCodec<Res>,
  originalName: string,
): MethodDefinition<Req, Res> {
  return {
    path,
    ...streams,
    requestSerialize: request.serialize,
    requestDeserialize: request.deserialize,
    responseSerialize: response.serialize,
    responseDeserialize: response.deserialize,
    originalName,
  };
}
