// The gRPC vocabulary kas and agentk share: status codes, a call's status, metadata and method
// definitions. Both ends serve and call gRPC on node:http2 themselves (reverse_tunnel/grpc_wire.ts
// for the framing, server/grpc_server.ts and agent/grpc_client.ts), so the product carries no
// gRPC library; these types are shaped as @grpc/grpc-js's, which the tests use as an independent
// client and server to check the wire.

/** The canonical gRPC status codes (grpc/doc/statuscodes.md); `Status[code]` gives the name. */
export enum Status {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

export type MetadataValue = string | Buffer;

/** Call metadata: lower-case keys, several values each; binary values under keys ending in -bin. */
export class Metadata {
  private readonly values = new Map<string, MetadataValue[]>();

  set(key: string, value: MetadataValue): void {
    this.values.set(key.toLowerCase(), [value]);
  }

  add(key: string, value: MetadataValue): void {
    const name = key.toLowerCase();
    const existing = this.values.get(name);
    if (existing) existing.push(value);
    else this.values.set(name, [value]);
  }

  remove(key: string): void {
    this.values.delete(key.toLowerCase());
  }

  /** The values of a key, in order; empty when it is absent. */
  get(key: string): MetadataValue[] {
    return [...(this.values.get(key.toLowerCase()) ?? [])];
  }

  entries(): IterableIterator<[string, MetadataValue[]]> {
    return this.values.entries();
  }
}

/** How a call ended. */
export interface StatusObject {
  code: Status;
  details: string;
  metadata: Metadata;
}

/** One RPC of a service: its path and how its messages are encoded (a grpc-js MethodDefinition fits). */
export interface MethodDefinition<Req, Res> {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize(value: Req): Buffer;
  requestDeserialize(bytes: Buffer): Req;
  responseSerialize(value: Res): Buffer;
  responseDeserialize(bytes: Buffer): Res;
  originalName?: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ServiceDefinition = Record<string, MethodDefinition<any, any>>;
