// agentk's side of one reference Connect stream (agentk --agent-protocol reference): the codec
// of the call translates, so the pool and the Kubernetes API forwarder keep working on our own
// frames. One codec per call: the translation has state (which method, whether upgraded).
//   kas → agentk: request_info for the reference's MakeRequest is held until the HTTP head
//     (grpctool.HttpRequest header) makes our request_info; data and upgrade data → message;
//     the HTTP trailer → nothing (close_send ends the request); close_send → close_send.
//   agentk → kas: descriptor → the reference's (services and bare method names); our header →
//     the gRPC header + the HTTP head (+ the HTTP trailer after a 101); message → data, or upgrade
//     data once upgraded; trailer → the HTTP trailer (plain responses) + the gRPC trailer; an
//     error → the gRPC trailer (once answering) + the error as google.rpc.Status.
import { KUBERNETES_API_MAKE_REQUEST, KUBERNETES_API_SERVICE, encodeMakeRequestHeader } from '../../kubernetes_api/rpc';
import type { CallCodec } from '../agent/grpc_client';
import { frameMessage } from '../grpc_wire';
import { messageBytes, type AgentDescriptor, type ConnectRequest, type ConnectResponse, type ValuesMap } from '../protocol';
import { makeRequestHeaderOf, referenceResponseHead } from './kubernetes_api';
import {
  REFERENCE_KUBERNETES_API_SERVICE,
  REFERENCE_MAKE_REQUEST,
  deserializeRefConnectResponse,
  refHttpRequestCodec,
  refHttpResponseCodec,
  serializeRefConnectRequest,
  type RefConnectRequest,
  type RefHttpResponse,
} from './wire';

/** The reference's descriptor for ours, framed once per descriptor object (every stream sends the same). */
const framedDescriptors = new WeakMap<AgentDescriptor, Buffer>();

function framedDescriptor(descriptor: AgentDescriptor): Buffer {
  let framed = framedDescriptors.get(descriptor);
  if (!framed) {
    const services = (descriptor.services ?? []).map((service) => {
      const name = service.name === KUBERNETES_API_SERVICE ? REFERENCE_KUBERNETES_API_SERVICE : (service.name ?? '');
      return { name, methods: (service.methods ?? []).map((method) => ({ name: method.slice(method.lastIndexOf('/') + 1) })) };
    });
    framed = frame({ descriptor: { agentDescriptor: { services } } });
    framedDescriptors.set(descriptor, framed);
  }
  return framed;
}

function frame(request: RefConnectRequest): Buffer {
  return frameMessage(serializeRefConnectRequest(request));
}

function httpResponseFrame(response: RefHttpResponse): Buffer {
  return frame({ message: { data: refHttpResponseCodec.serialize(response) } });
}

const HTTP_TRAILER_FRAME = httpResponseFrame({ trailer: {} });
const EMPTY_GRPC_TRAILER_FRAME = frame({ trailer: { meta: {} } });

export class AgentkReferenceCodec implements CallCodec<ConnectRequest, ConnectResponse> {
  /** The request is the Kubernetes API's (its messages are grpctool.HttpRequest / HttpResponse). */
  private kubernetesApi = false;
  private requestMeta: ValuesMap = {};
  private upgrade = false;
  private answering = false;
  private switched = false;

  /** Every frame goes through frameParts; nothing is encoded as one message of ours. */
  readonly serialize = (): Uint8Array => {
    throw new TypeError('reference tunnel frames are encoded by frameParts');
  };

  readonly deserialize = (bytes: Buffer): ConnectResponse | undefined => {
    const response = deserializeRefConnectResponse(bytes);
    if (response.requestInfo) {
      const methodName = response.requestInfo.methodName ?? '';
      if (methodName !== REFERENCE_MAKE_REQUEST) return { requestInfo: { methodName, meta: response.requestInfo.meta ?? {} } };
      this.kubernetesApi = true;
      this.requestMeta = response.requestInfo.meta ?? {};
      return undefined; // our request_info needs the HTTP head that follows
    }
    if (response.closeSend) return { closeSend: {} };
    if (!response.message) throw new TypeError('kas sent a tunnel frame with no field set');
    const data = messageBytes(response.message);
    if (!this.kubernetesApi) return { message: { data } };
    const request = refHttpRequestCodec.deserialize(data);
    if (request.header) {
      const header = makeRequestHeaderOf(request.header);
      this.upgrade = header.http?.upgrade === true;
      return { requestInfo: { methodName: KUBERNETES_API_MAKE_REQUEST, meta: this.requestMeta, header: encodeMakeRequestHeader(header) } };
    }
    if (request.data) return { message: { data: messageBytes(request.data) } };
    if (request.upgradeData) return { message: { data: messageBytes(request.upgradeData) } };
    if (request.trailer) return undefined; // the request body is complete; close_send follows
    throw new TypeError('kas sent an HTTP request message with no field set');
  };

  readonly frameParts = (request: ConnectRequest): Buffer[] => {
    if (request.descriptor) return [framedDescriptor(request.descriptor)];
    if (request.error) {
      const error = frame({ error: { status: { code: request.error.code ?? 2, message: request.error.message ?? '' } } });
      // The reference's order: once answering, the gRPC trailer comes before the error.
      return this.answering ? [EMPTY_GRPC_TRAILER_FRAME, error] : [error];
    }
    if (!this.kubernetesApi) return this.plainFrameParts(request);
    if (request.header) {
      this.answering = true;
      this.switched = this.upgrade && request.header.status === 101;
      const parts = [frame({ header: { meta: request.header.meta ?? {} } }), httpResponseFrame(referenceResponseHead(request.header))];
      // After a 101 the reference closes the HTTP response at once: what follows is upgrade data.
      if (this.switched) parts.push(HTTP_TRAILER_FRAME);
      return parts;
    }
    if (request.message) {
      const data = messageBytes(request.message);
      return [httpResponseFrame(this.switched ? { upgradeData: { data } } : { data: { data } })];
    }
    if (request.trailer) {
      const trailer = frame({ trailer: { meta: request.trailer.meta ?? {} } });
      return this.switched ? [trailer] : [HTTP_TRAILER_FRAME, trailer];
    }
    return [];
  };

  /** A method other than the Kubernetes API's: the tunnel frames as they are (gRPC metadata and messages). */
  private plainFrameParts(request: ConnectRequest): Buffer[] {
    if (request.header) {
      this.answering = true;
      return [frame({ header: { meta: request.header.meta ?? {} } })];
    }
    if (request.message) return [frame({ message: { data: messageBytes(request.message) } })];
    if (request.trailer) return [frame({ trailer: { meta: request.trailer.meta ?? {} } })];
    return [];
  }
}
