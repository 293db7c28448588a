// A small agent built the way the reference's agent is: a stock grpc-js client from the test's own
// .proto files (reference_protos/, loaded with @grpc/proto-loader), speaking the reference's
// protocol to kas. It keeps Connect streams open (descriptor offering the reference's
// KubernetesApi/MakeRequest), serves each request against a real HTTP upstream as the reference's
// agent does (grpctool.HttpRequest in, grpctool.HttpResponse out, upgrades as upgrade data,
// the impersonation config as Impersonate-* headers), follows GetConfiguration and registers with
// AgentRegistrar/Register.
import * as http from 'node:http';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const PROTO_DIR = path.join(__dirname, 'reference_protos');
const FILES = ['reverse_tunnel.proto', 'agent_configuration.proto', 'agent_registrar.proto', 'grpctool.proto', 'kubernetes_api.proto'];

const packageDefinition = protoLoader.loadSync(FILES, {
  includeDirs: [PROTO_DIR],
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
});
const loaded = grpc.loadPackageDefinition(packageDefinition) as any;
export const ReverseTunnelClient: grpc.ServiceClientConstructor = loaded.gitlab.agent.reverse_tunnel.rpc.ReverseTunnel;
export const AgentConfigurationClient: grpc.ServiceClientConstructor = loaded.gitlab.agent.agent_configuration.rpc.AgentConfiguration;
export const AgentRegistrarClient: grpc.ServiceClientConstructor = loaded.gitlab.agent.agent_registrar.rpc.AgentRegistrar;

// The messages that travel inside Message.data.
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('google/') || path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
root.loadSync(
  FILES.map((file) => path.join(PROTO_DIR, file)),
  { keepCase: true },
);
const HttpRequest = root.lookupType('gitlab.agent.grpctool.HttpRequest');
const HttpResponse = root.lookupType('gitlab.agent.grpctool.HttpResponse');
const HeaderExtra = root.lookupType('gitlab.agent.kubernetes_api.rpc.HeaderExtra');

type Values = Record<string, { value?: string[] }>;
export type Frame = Record<string, any>;
export type TunnelCall = grpc.ClientDuplexStream<Frame, Frame>;

export const KUBERNETES_API_DESCRIPTOR: Frame = {
  descriptor: {
    agent_descriptor: { services: [{ name: 'gitlab.agent.kubernetes_api.rpc.KubernetesApi', methods: [{ name: 'MakeRequest' }] }] },
  },
};

export function bearer(token: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

/** grpctool.HttpResponse bytes for a Message frame. */
export function httpResponse(message: Frame): Frame {
  return { message: { data: Buffer.from(HttpResponse.encode(HttpResponse.fromObject(message)).finish()) } };
}

export function decodeHttpRequest(data: Uint8Array): Frame {
  return HttpRequest.toObject(HttpRequest.decode(data), { longs: Number, defaults: false });
}

export function decodeImpersonation(extra: { type_url?: string; value?: Uint8Array } | undefined): Frame | undefined {
  if (!extra?.value) return undefined;
  return HeaderExtra.toObject(HeaderExtra.decode(extra.value), { defaults: false }).imp_config;
}

export interface ReferenceAgent {
  /** Every grpctool.HttpRequest header kas sent (with its impersonation decoded). */
  requests: Frame[];
  /** The agent's gRPC channel (one HTTP/2 connection to kas), for other calls on the same connection. */
  channel: grpc.ChannelInterface;
  stop(): void;
}

/** Keeps `idle` Connect streams open and serves each request against `upstreamUrl`. */
export function startReferenceAgent(options: { address: string; token: string; upstreamUrl: string; idle?: number }): ReferenceAgent {
  const client = new ReverseTunnelClient(options.address, grpc.credentials.createInsecure());
  const calls = new Set<TunnelCall>();
  const requests: Frame[] = [];
  let stopped = false;
  const open = () => {
    if (stopped) return;
    const call = client.Connect(bearer(options.token)) as TunnelCall;
    calls.add(call);
    call.on('error', () => undefined);
    call.on('close', () => calls.delete(call));
    call.write(KUBERNETES_API_DESCRIPTOR);
    serveOne(call, options.upstreamUrl, requests, open);
  };
  for (let i = 0; i < (options.idle ?? 2); i++) open();
  return {
    requests,
    channel: client.getChannel(),
    stop: () => {
      stopped = true;
      for (const call of calls) call.cancel();
      client.close();
    },
  };
}

/** One stream, one request, as the reference's agent serves it. `replace` opens the next stream. */
function serveOne(call: TunnelCall, upstreamUrl: string, requests: Frame[], replace: () => void): void {
  let upstream: http.ClientRequest | undefined;
  let upgraded: Duplex | undefined;
  let upgrade = false;
  const send = (frame: Frame) => {
    if (!call.writableEnded) call.write(frame);
  };
  const finish = () => {
    send({ trailer: { meta: {} } });
    if (!call.writableEnded) call.end();
  };
  call.on('data', (frame: Frame) => {
    if (frame.request_info) return replace();
    if (frame.close_send) return upgraded?.end();
    if (!frame.message) return;
    const message = decodeHttpRequest(frame.message.data ?? Buffer.alloc(0));
    if (message.header) {
      const head = message.header;
      const imp = decodeImpersonation(head.extra);
      requests.push({ ...head, imp });
      const headers: Record<string, string[]> = {};
      for (const [name, values] of Object.entries((head.request.header ?? {}) as Values)) headers[name] = values.value ?? [];
      if (imp?.username) headers['impersonate-user'] = [imp.username];
      if (imp?.groups?.length) headers['impersonate-group'] = imp.groups;
      upgrade = Object.keys(headers).some((name) => name.toLowerCase() === 'upgrade');
      const query = new URLSearchParams();
      for (const [name, values] of Object.entries((head.request.query ?? {}) as Values))
        for (const v of values.value ?? []) query.append(name, v);
      const target = new URL(head.request.url_path + (query.size ? `?${query}` : ''), upstreamUrl);
      upstream = http.request(target, { method: head.request.method, headers });
      upstream.on('error', (err) => {
        send({ error: { status: { code: 14, message: err.message } } });
        if (!call.writableEnded) call.end();
      });
      upstream.on('response', (res) => {
        send({ header: { meta: {} } });
        const header: Values = {};
        for (let i = 0; i < res.rawHeaders.length; i += 2)
          (header[res.rawHeaders[i]!] ??= { value: [] }).value!.push(res.rawHeaders[i + 1]!);
        send(
          httpResponse({ header: { response: { status_code: res.statusCode, status: `${res.statusCode} ${res.statusMessage}`, header } } }),
        );
        res.on('data', (chunk: Buffer) => send(httpResponse({ data: { data: chunk } })));
        res.on('end', () => {
          send(httpResponse({ trailer: {} }));
          finish();
        });
      });
      upstream.on('upgrade', (res, socket, head101) => {
        upgraded = socket;
        send({ header: { meta: {} } });
        const header: Values = {};
        for (let i = 0; i < res.rawHeaders.length; i += 2)
          (header[res.rawHeaders[i]!] ??= { value: [] }).value!.push(res.rawHeaders[i + 1]!);
        send(httpResponse({ header: { response: { status_code: 101, status: '101 Switching Protocols', header } } }));
        send(httpResponse({ trailer: {} }));
        if (head101.length) send(httpResponse({ upgradeData: { data: head101 } }));
        socket.on('data', (chunk: Buffer) => send(httpResponse({ upgradeData: { data: chunk } })));
        socket.on('end', finish);
        socket.on('error', () => socket.destroy());
      });
      if (upgrade) upstream.end();
      return;
    }
    if (message.data) upstream?.write(message.data.data ?? Buffer.alloc(0));
    else if (message.trailer && !upgrade) upstream?.end();
    else if (message.upgradeData) upgraded?.write(message.upgradeData.data ?? Buffer.alloc(0));
  });
  call.on('close', () => {
    upgraded?.destroy();
    if (upstream && !upstream.writableEnded && !upgrade) upstream.destroy();
  });
}

/** Follows GetConfiguration; `received` collects each ConfigurationResponse. */
export function watchReferenceConfiguration(options: { address: string; token: string; commitId?: string }): {
  received: Frame[];
  next(match: (response: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  status: Promise<grpc.StatusObject>;
  stop(): void;
} {
  const client = new AgentConfigurationClient(options.address, grpc.credentials.createInsecure());
  const request = {
    commit_id: options.commitId ?? '',
    agent_meta: {
      version: 'v16.11.0',
      pod_name: 'reference-agent-0',
      pod_namespace: 'gitlab-agent',
      kubernetes_version: { major: '1', minor: '30' },
    },
  };
  const call = client.GetConfiguration(request, bearer(options.token)) as grpc.ClientReadableStream<Frame>;
  const received: Frame[] = [];
  const waiters: Array<{ match: (r: Frame) => boolean; resolve: (r: Frame) => void }> = [];
  call.on('data', (response: Frame) => {
    received.push(response);
    for (const waiter of waiters.splice(0)) {
      if (waiter.match(response)) waiter.resolve(response);
      else waiters.push(waiter);
    }
  });
  call.on('error', () => undefined);
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  return {
    received,
    status,
    next: (match, timeoutMs = 10_000) => {
      const found = received.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no matching configuration arrived')), timeoutMs);
        waiters.push({ match, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      });
    },
    stop: () => {
      call.cancel();
      client.close();
    },
  };
}

/** One AgentRegistrar/Register call as a newer reference agent makes it (a stock grpc-js unary call); resolves with its status. */
export function registerReference(options: {
  address: string;
  token: string;
  podName: string;
  podId: string;
  /** Call on this channel (left open), e.g. a reference agent's; otherwise on a channel of its own. */
  channel?: grpc.ChannelInterface;
}): Promise<grpc.StatusObject> {
  const client = new AgentRegistrarClient(options.address, grpc.credentials.createInsecure(), { channelOverride: options.channel });
  const request = {
    agent_meta: {
      version: 'v17.0.0',
      commit_id: 'abc1234',
      pod_name: options.podName,
      pod_namespace: 'gitlab-agent',
      kubernetes_version: { major: '1', minor: '30' },
    },
    pod_id: options.podId,
  };
  return new Promise((resolve) => {
    const call = client.Register(request, bearer(options.token), (err: grpc.ServiceError | null) => {
      if (err) resolve(err);
    });
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) resolve(status);
      if (!options.channel) client.close();
    });
  });
}
