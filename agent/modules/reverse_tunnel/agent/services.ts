// What agentk serves through the tunnel: the services its modules register, named in the
// descriptor of every stream, and each request handed to the service whose method it names.
import { Status } from '../../../internal/grpc';
import type { AgentDescriptor } from '../protocol';
import type { TunnelClientStream } from './dial';
import type { TunnelRequestHandler } from './pool';

export interface TunnelService {
  /** The gRPC service name, e.g. gitlab.agent.kubernetes_api.rpc.KubernetesApi. */
  name: string;
  /** Full method paths, /<service>/<method>. */
  methods: string[];
  handle: TunnelRequestHandler;
}

export function tunnelServiceDispatch(services: readonly TunnelService[]): {
  descriptorServices: NonNullable<AgentDescriptor['services']>;
  handleRequest: TunnelRequestHandler;
} {
  const byMethod = new Map(services.flatMap((service) => service.methods.map((method) => [method, service] as const)));
  return {
    descriptorServices: services.map((service) => ({ name: service.name, methods: [...service.methods] })),
    handleRequest: (stream, request) => {
      const service = byMethod.get(request.methodName ?? '');
      if (service) service.handle(stream, request);
      else answerTunnelError(stream, Status.UNIMPLEMENTED, `agentk does not offer ${request.methodName || '(no method)'}`);
    },
  };
}

/** Answers a tunneled request with an error frame and ends the stream; the rest kas sends is read and dropped. */
export function answerTunnelError(stream: TunnelClientStream, code: Status, message: string): void {
  if (stream.writable) {
    stream.write({ error: { code, message } });
    stream.end();
  }
  stream.resume();
}
