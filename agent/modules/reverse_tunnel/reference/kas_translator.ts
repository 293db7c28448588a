// kas's side of one reference Connect stream: the reference's frames become the tunnel's own, so
// the registry, the proxy and the stream state machine (server/stream_state.ts) work on them as on
// any agentk stream. The reference's own order is checked here first, at both levels it has:
//   tunnel  descriptor → header | error; header → message | trailer; message → message | trailer;
//           trailer → error | end; error → end                                (rpc.proto's automaton)
//   HTTP    (in the messages) header → data | trailer; data → data | trailer;
//           trailer → upgradeData* after a 101                                (grpctool.proto's)
// Mapping, agent → kas: descriptor → descriptor (the reference's KubernetesApi named as ours);
// the gRPC header is held and joins the HTTP head into our header frame; data and upgrade data →
// message; the HTTP trailer ends a plain response (our trailer), the gRPC trailer an upgraded one;
// an error before our trailer → error. kas → agent: request_info → request_info for the
// reference's MakeRequest + the HTTP head (+ its trailer for an upgrade); message → data, or
// upgrade data after an upgrade; close_send → the HTTP trailer (plain requests) + close_send.
import type { ConnectionContext, FrameTranslator } from '../server/grpc_server';
import { KUBERNETES_API_MAKE_REQUEST, KUBERNETES_API_SERVICE } from '../../kubernetes_api/rpc';
import { messageBytes, type AgentDescriptor, type ConnectRequest, type ConnectResponse, type ValuesMap } from '../protocol';
import { headerFrameOf, referenceRequestHead } from './kubernetes_api';
import {
  REFERENCE_KUBERNETES_API_SERVICE,
  REFERENCE_MAKE_REQUEST,
  refHttpRequestCodec,
  refHttpResponseCodec,
  type RefConnectRequest,
  type RefConnectResponse,
  type RefHttpResponse,
} from './wire';

type TunnelPhase = 'descriptor' | 'described' | 'header' | 'messages' | 'trailer' | 'error';
type HttpPhase = 'head' | 'body' | 'done' | 'upgraded';

/** What a reference descriptor lacks (version, pod, instance), from the connection when known. */
export interface ReferenceAgentInfo {
  version?: string;
  podName?: string;
  podNamespace?: string;
  instanceId: string;
}

/** Where a reference GetConfiguration leaves its agent_meta for the tunnel streams of its connection. */
const REFERENCE_AGENT_META_KEY = 'reverse_tunnel.referenceAgentMeta';

export function rememberReferenceAgentMeta(connection: ConnectionContext, meta: Omit<ReferenceAgentInfo, 'instanceId'>): void {
  connection.cache.set(REFERENCE_AGENT_META_KEY, meta);
}

/**
 * A reference descriptor names no replica: its connection stands for one (the reference agent
 * runs every stream of a replica on one connection), with the agent_meta of a GetConfiguration
 * on that connection.
 */
export function referenceAgentInfo(connection: ConnectionContext): ReferenceAgentInfo {
  const meta = connection.cache.get(REFERENCE_AGENT_META_KEY) as Omit<ReferenceAgentInfo, 'instanceId'> | undefined;
  return { version: 'reference', ...meta, instanceId: `reference-connection-${connection.id}` };
}

export class KasReferenceTranslator implements FrameTranslator {
  private tunnel: TunnelPhase = 'descriptor';
  private http: HttpPhase = 'head';
  /** kas sent a request on this stream (request_info went out). */
  private requested = false;
  /** The request is for the Kubernetes API (its messages are grpctool.HttpRequest / HttpResponse). */
  private kubernetesApi = false;
  private upgrade = false;
  /** The agent answered the upgrade with 101: after the HTTP trailer come the upgraded connection's bytes. */
  private switched = false;
  private grpcHeader: ValuesMap | undefined;
  /** Our side of the stream is over (trailer or error delivered): the reference's closing frames are dropped. */
  private finished = false;

  constructor(private readonly agentInfo: () => ReferenceAgentInfo) {}

  inbound(message: unknown): ConnectRequest[] | string {
    const frame = message as RefConnectRequest;
    if (frame.descriptor) return this.step('descriptor', ['descriptor']) ?? [{ descriptor: this.descriptorOf(frame.descriptor) }];
    if (frame.header) {
      if (!this.requested) return 'the reference agent sent a header before kas sent a request';
      const problem = this.step('header', ['described']);
      if (problem) return problem;
      this.grpcHeader = frame.header.meta ?? {};
      return this.kubernetesApi ? [] : [{ header: { meta: this.grpcHeader, status: 200 } }];
    }
    if (frame.message) return this.step('messages', ['header', 'messages']) ?? this.responseMessage(messageBytes(frame.message));
    if (frame.trailer) {
      const problem = this.step('trailer', ['header', 'messages']);
      if (problem) return problem;
      if (!this.kubernetesApi) return this.finish([{ trailer: { meta: frame.trailer.meta ?? {} } }]);
      // A plain response ended with its HTTP trailer; an upgraded one ends with the agent's side of the call.
      if (this.http === 'upgraded') return this.finish([{ trailer: { meta: frame.trailer.meta ?? {} } }]);
      return [];
    }
    if (frame.error) {
      const problem = this.step('error', ['described', 'trailer']);
      if (problem) return problem;
      if (!frame.error.status) return 'the reference agent sent an error without a status';
      if (this.finished) return [];
      return this.finish([{ error: { code: frame.error.status.code ?? 2, message: frame.error.status.message ?? '' } }]);
    }
    return 'the reference agent sent a tunnel frame with no field set';
  }

  inboundEnd(): ConnectRequest[] | string {
    // No answer yet: a half-close before any answer, which kas's replay rules already handle.
    if (this.finished || this.tunnel === 'descriptor' || this.tunnel === 'described') return [];
    return 'the reference agent ended the stream before the end of its response';
  }

  outbound(frame: unknown): RefConnectResponse[] {
    const response = frame as ConnectResponse;
    if (response.requestInfo) {
      this.requested = true;
      const methodName = response.requestInfo.methodName ?? '';
      const meta = response.requestInfo.meta ?? {};
      if (methodName !== KUBERNETES_API_MAKE_REQUEST) return [{ requestInfo: { methodName, meta } }];
      this.kubernetesApi = true;
      const { head, upgrade } = referenceRequestHead(response.requestInfo.header);
      this.upgrade = upgrade;
      const out: RefConnectResponse[] = [{ requestInfo: { methodName: REFERENCE_MAKE_REQUEST, meta } }, httpRequestMessage(head)];
      // An upgrade request has no body: its trailer goes at once, and what follows is upgrade data.
      if (upgrade) out.push(httpRequestMessage({ trailer: {} }));
      return out;
    }
    if (response.message) {
      if (!this.kubernetesApi) return [{ message: { data: messageBytes(response.message) } }];
      const data = messageBytes(response.message);
      return [httpRequestMessage(this.upgrade ? { upgradeData: { data } } : { data: { data } })];
    }
    if (response.closeSend) {
      if (!this.kubernetesApi || this.upgrade) return [{ closeSend: {} }];
      return [httpRequestMessage({ trailer: {} }), { closeSend: {} }];
    }
    return [];
  }

  private step(next: TunnelPhase, from: TunnelPhase[]): string | undefined {
    if (!from.includes(this.tunnel))
      return `the reference agent sent ${next === 'messages' ? 'a message' : next === 'error' ? 'an error' : `a ${next}`} after ${this.tunnel === 'described' ? 'its descriptor' : `its ${this.tunnel}`}`;
    this.tunnel = next === 'descriptor' ? 'described' : next;
    return undefined;
  }

  private finish(frames: ConnectRequest[]): ConnectRequest[] {
    this.finished = true;
    return frames;
  }

  private descriptorOf(descriptor: NonNullable<RefConnectRequest['descriptor']>): AgentDescriptor {
    const services = (descriptor.agentDescriptor?.services ?? []).map((service) => {
      const name = service?.name ?? '';
      const ours = name === REFERENCE_KUBERNETES_API_SERVICE ? KUBERNETES_API_SERVICE : name;
      return { name: ours, methods: (service?.methods ?? []).map((method) => `/${ours}/${method?.name ?? ''}`) };
    });
    // Read when the registry takes the descriptor (after the token check), not as the frame
    // arrives: a GetConfiguration opened first on the connection has left its agent_meta by then.
    const agentInfo = this.agentInfo;
    return {
      services,
      get version() {
        return agentInfo().version;
      },
      get podName() {
        return agentInfo().podName;
      },
      get podNamespace() {
        return agentInfo().podNamespace;
      },
      get instanceId() {
        return agentInfo().instanceId;
      },
    };
  }

  /** One gRPC message of the agent's answer: a grpctool.HttpResponse for the Kubernetes API, else passed on. */
  private responseMessage(bytes: Buffer): ConnectRequest[] | string {
    if (!this.kubernetesApi) return [{ message: { data: bytes } }];
    let response: RefHttpResponse;
    try {
      response = refHttpResponseCodec.deserialize(bytes);
    } catch {
      return 'the reference agent sent an HTTP response message kas cannot parse';
    }
    if (response.header) {
      if (this.http !== 'head') return 'the reference agent sent a second HTTP response header';
      this.http = 'body';
      this.switched = response.header.response?.statusCode === 101;
      return [{ header: headerFrameOf(response.header, this.grpcHeader) }];
    }
    if (response.data) {
      if (this.http !== 'body')
        return `the reference agent sent HTTP data ${this.http === 'head' ? 'before the HTTP header' : 'after the HTTP trailer'}`;
      return [{ message: { data: messageBytes(response.data) } }];
    }
    if (response.trailer) {
      if (this.http !== 'body')
        return `the reference agent sent an HTTP trailer ${this.http === 'head' ? 'before the HTTP header' : 'twice'}`;
      if (this.upgrade && this.switched) {
        this.http = 'upgraded';
        return [];
      }
      this.http = 'done';
      return this.finish([{ trailer: {} }]);
    }
    if (response.upgradeData) {
      if (this.http !== 'upgraded') return 'the reference agent sent upgrade data outside an upgraded connection';
      return [{ message: { data: messageBytes(response.upgradeData) } }];
    }
    return 'the reference agent sent an HTTP response message with no field set';
  }
}

function httpRequestMessage(message: Parameters<typeof refHttpRequestCodec.serialize>[0]): RefConnectResponse {
  return { message: { data: refHttpRequestCodec.serialize(message) } };
}
