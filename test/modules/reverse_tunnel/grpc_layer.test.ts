// kas's own gRPC layer on node:http2 (and agentk's client): the wire format, compatibility with a
// stock grpc-js client (tunnel and configuration stream on one port), clear errors for bad input,
// one token check per agent connection, and kas surviving WebSocket connections torn down
// abruptly in the middle of requests.
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { runAgentk } from '../../../agent/agentk/index';
import { createCertificateAuthority, issueServerCertificate, LOOPBACK_HOSTS } from '../../../agent/internal/tls';
import { startKas as startFullKas } from '../../../agent/kas/index';
import {
  GET_CONFIGURATION_PATH,
  deserializeConfigurationResponse,
  serializeConfigurationRequest,
  type ConfigurationResponse,
} from '../../../agent/modules/agent_configuration/rpc';
import { dialKas, reverseTunnelService, startAgentServer, TunnelRegistry, type AgentServer } from '../../../agent/modules/reverse_tunnel';
import {
  MessageDecoder,
  decodeGrpcMessage,
  encodeGrpcMessage,
  frameBytesMessage,
  frameMessage,
} from '../../../agent/modules/reverse_tunnel/grpc_wire';
import {
  CONNECT_METHOD_PATH,
  reverseTunnelServiceDefinition,
  deserializeConnectRequest,
  deserializeConnectResponse,
  serializeConnectRequest,
  type ConnectRequest,
  type ConnectResponse,
} from '../../../agent/modules/reverse_tunnel/protocol';
import { decodeMakeRequestHeader, KUBERNETES_API_MAKE_REQUEST, KUBERNETES_API_SERVICE } from '../../../agent/modules/kubernetes_api/rpc';
import { TestRepository, makeTempDir, testKasConfig, testLogger } from '../../kas/helpers';
import {
  AGENT_ID,
  AGENT_TOKEN,
  quietLogger,
  request,
  startAgentk,
  startKas,
  useUpstreamFixture,
  userAuth,
  waitForIdleTunnels,
  writeKubeconfig,
} from './harness';
import { eventually } from '../../support/eventually';

const DESCRIPTOR: ConnectRequest = {
  descriptor: {
    services: [{ name: KUBERNETES_API_SERVICE, methods: [KUBERNETES_API_MAKE_REQUEST] }],
    version: 'stock-grpc-js',
    podName: 'stock',
    podNamespace: 'tests',
    instanceId: 'stock-1',
  },
};

function bearer(token: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

function openStockConnect(client: grpc.Client, token: string): grpc.ClientDuplexStream<ConnectRequest, ConnectResponse> {
  return client.makeBidiStreamRequest(CONNECT_METHOD_PATH, serializeConnectRequest, deserializeConnectResponse, bearer(token));
}

/** The status a call ends with. */
function statusOf(
  call: grpc.ClientDuplexStream<ConnectRequest, ConnectResponse> | grpc.ClientReadableStream<unknown>,
): Promise<grpc.StatusObject> {
  return new Promise((resolve) => {
    call.on('error', () => undefined);
    call.on('status', resolve);
  });
}

describe('tunnel: the gRPC wire format', () => {
  it('reassembles length-prefixed messages split at every byte, and several in one chunk', () => {
    const payloads = [Buffer.from('first'), Buffer.alloc(0), Buffer.from('third message, a little longer')];
    const wire = Buffer.concat(payloads.map(frameMessage));
    for (let cut = 0; cut <= wire.length; cut++) {
      const decoder = new MessageDecoder();
      const out = [...decoder.push(wire.subarray(0, cut)), ...decoder.push(wire.subarray(cut))];
      assert.deepEqual(
        out.map((b) => b.toString()),
        payloads.map((b) => b.toString()),
        `cut at ${cut}`,
      );
      assert.equal(decoder.bufferedBytes, 0);
    }
    const byteByByte = new MessageDecoder();
    const out: Buffer[] = [];
    for (const byte of wire) out.push(...byteByByte.push(Buffer.from([byte])));
    assert.deepEqual(
      out.map((b) => b.toString()),
      payloads.map((b) => b.toString()),
    );
  });

  it('frames a data message without copying it, byte for byte as protobufjs would', () => {
    for (const size of [1, 127, 128, 1024, 16383, 16384, 200_000]) {
      const data = Buffer.alloc(size, size % 251);
      const [header, body] = frameBytesMessage(3, data);
      assert.equal(body, data, 'the data buffer itself is the second part');
      const framed = Buffer.concat([header, body]);
      assert.deepEqual(framed, frameMessage(serializeConnectRequest({ message: { data } })), `size ${size}`);
      const [decoded] = new MessageDecoder().push(framed);
      assert.deepEqual(Buffer.from(deserializeConnectRequest(decoded!).message!.data!), data);
    }
    assert.throws(() => frameBytesMessage(16, Buffer.alloc(1)), RangeError);
  });

  it('refuses compressed messages and oversized lengths with a gRPC code', () => {
    assert.throws(() => new MessageDecoder().push(Buffer.from([1, 0, 0, 0, 0])), { code: grpc.status.UNIMPLEMENTED });
    assert.throws(() => new MessageDecoder().push(Buffer.from([0, 0xff, 0xff, 0xff, 0xff])), { code: grpc.status.RESOURCE_EXHAUSTED });
  });

  it('percent-encodes grpc-message outside printable ASCII and decodes it back', () => {
    const text = 'agent 42: 100% gone — retry ✓';
    const encoded = encodeGrpcMessage(text);
    assert.match(encoded, /^[\x20-\x7e]+$/);
    assert.ok(encoded.includes('100%25'));
    assert.equal(decodeGrpcMessage(encoded), text);
  });
});

describe('tunnel: kas gRPC layer against other clients and bad input', function () {
  this.timeout(60_000);
  const fixture = useUpstreamFixture();
  const { cleanups } = fixture;

  it('serves a stock grpc-js client on Connect: accepted, registered, and it answers a proxied request', async () => {
    const kas = await startKas();
    cleanups.push(() => kas.stop());
    const client = new grpc.Client(kas.agentServer.address, grpc.credentials.createInsecure());
    cleanups.push(async () => client.close());
    const call = openStockConnect(client, AGENT_TOKEN);
    cleanups.push(async () => call.cancel());
    call.on('error', () => undefined);
    const accepted = new Promise((resolve) => call.once('metadata', resolve));
    call.write(DESCRIPTOR);
    await accepted;
    await waitForIdleTunnels(kas.registry, 1);
    assert.equal(kas.registry.connectedAgents()[0]?.replicas[0]?.version, 'stock-grpc-js');
    call.on('data', (frame: ConnectResponse) => {
      if (!frame.requestInfo) return;
      call.write({ header: { status: 200, reason: 'OK', httpHeaders: { 'content-type': { value: ['text/plain'] } } } });
      call.write({
        message: { data: Buffer.from(`stock client saw ${decodeMakeRequestHeader(frame.requestInfo.header).http?.path ?? '?'}`) },
      });
      call.write({ trailer: {} });
      call.end();
    });
    const res = await request(`${kas.proxyUrl}/api/v1/pods?limit=1`, { headers: userAuth() });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'stock client saw /api/v1/pods?limit=1');
  });

  it('passes a body with empty message frames in it intact (an empty bytes field decodes to an empty array), and keeps serving', async () => {
    const kas = await startKas();
    cleanups.push(() => kas.stop());
    const client = new grpc.Client(kas.agentServer.address, grpc.credentials.createInsecure());
    cleanups.push(async () => client.close());
    const answerOnEveryStream = () => {
      const call = openStockConnect(client, AGENT_TOKEN);
      cleanups.push(async () => call.cancel());
      call.on('error', () => undefined);
      call.write(DESCRIPTOR);
      call.on('data', (frame: ConnectResponse) => {
        if (!frame.requestInfo) return;
        call.write({ header: { status: 200, reason: 'OK', httpHeaders: { 'content-type': { value: ['text/plain'] } } } });
        call.write({ message: { data: Buffer.from('first,') } });
        call.write({ message: { data: Buffer.alloc(0) } });
        call.write({ message: {} });
        call.write({ message: { data: Buffer.from('last') } });
        call.write({ trailer: {} });
        call.end();
      });
    };
    answerOnEveryStream();
    answerOnEveryStream();
    await waitForIdleTunnels(kas.registry, 2);
    for (let i = 0; i < 2; i++) {
      const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
      assert.equal(res.status, 200);
      assert.equal(res.body, 'first,last');
    }
  });

  it('answers 502 when the agent sends a status or reason Node refuses, and keeps serving', async () => {
    const kas = await startKas();
    cleanups.push(() => kas.stop());
    const client = new grpc.Client(kas.agentServer.address, grpc.credentials.createInsecure());
    cleanups.push(async () => client.close());
    const heads = [{ status: 0 }, { status: 200, reason: 'OK\r\nX-Injected: yes' }, { status: 200, reason: 'OK' }];
    for (const head of heads) {
      const call = openStockConnect(client, AGENT_TOKEN);
      cleanups.push(async () => call.cancel());
      call.on('error', () => undefined);
      call.write(DESCRIPTOR);
      await waitForIdleTunnels(kas.registry, 1);
      call.on('data', (frame: ConnectResponse) => {
        if (!frame.requestInfo) return;
        call.write({ header: { ...head, httpHeaders: { 'x-from-agent': { value: ['yes'] } } } });
        call.write({ message: { data: Buffer.from('body') } });
        call.write({ trailer: {} });
        call.end();
      });
      const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
      if (head.reason === 'OK') {
        assert.equal(res.status, 200);
        assert.equal(res.body, 'body');
      } else {
        assert.equal(res.status, 502, `head ${JSON.stringify(head)}`);
        assert.equal(res.headers['x-from-agent'], undefined);
        assert.equal(res.headers['x-injected'], undefined);
        assert.match(res.body, /the agent sent a response head kas cannot serve/);
      }
    }
  });

  it('answers a stock client UNAUTHENTICATED for a bad token and UNIMPLEMENTED for an unknown method', async () => {
    const kas = await startKas();
    cleanups.push(() => kas.stop());
    const client = new grpc.Client(kas.agentServer.address, grpc.credentials.createInsecure());
    cleanups.push(async () => client.close());
    const refused = openStockConnect(client, 'wrong-token');
    refused.write(DESCRIPTOR);
    const refusedStatus = await statusOf(refused);
    assert.equal(refusedStatus.code, grpc.status.UNAUTHENTICATED);
    assert.match(refusedStatus.details, /invalid agent token/);
    const unknown = client.makeBidiStreamRequest(
      '/workbench.Nothing/Here',
      (v: Buffer) => v,
      (v: Buffer) => v,
      bearer(AGENT_TOKEN),
    );
    const unknownStatus = await statusOf(unknown as unknown as grpc.ClientDuplexStream<ConnectRequest, ConnectResponse>);
    assert.equal(unknownStatus.code, grpc.status.UNIMPLEMENTED);
    assert.deepEqual(kas.registry.connectedAgents(), []);
  });

  it('ends a call that sends bytes that are not a ConnectRequest with INTERNAL, and keeps serving', async () => {
    const kas = await startKas();
    cleanups.push(() => kas.stop());
    const session = http2.connect(`http://${kas.agentServer.address}`);
    cleanups.push(async () => void session.destroy());
    session.on('error', () => undefined);
    const stream = session.request({
      ':method': 'POST',
      ':path': CONNECT_METHOD_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${AGENT_TOKEN}`,
    });
    stream.on('error', () => undefined);
    // kas had not answered yet: the status comes "trailers-only", in the response headers.
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => {
      stream.once('response', (headers) => headers['grpc-status'] !== undefined && resolve(headers));
      stream.once('trailers', resolve);
    });
    stream.resume();
    stream.write(frameMessage(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]))); // a field number protobuf cannot read
    const status = await trailers;
    assert.equal(status['grpc-status'], String(grpc.status.INTERNAL));
    assert.match(decodeGrpcMessage(status['grpc-message']), /could not parse/);
    const agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: fixture.kubeconfig });
    cleanups.push(() => agentk.stop());
    await waitForIdleTunnels(kas.registry, 2);
    assert.equal((await request(`${kas.proxyUrl}/api`, { headers: userAuth() })).status, 200);
  });

  it('ends a call whose handler throws with INTERNAL and keeps serving other calls', async () => {
    const registry = new TunnelRegistry();
    cleanups.push(async () => registry.close());
    const throwing: grpc.ServiceDefinition = {
      Boom: { ...reverseTunnelServiceDefinition.Connect!, path: '/workbench.test.Broken/Boom' },
    };
    const server = await startAgentServer({
      address: '127.0.0.1:0',
      services: [
        (s) =>
          s.addService(throwing, {
            Boom: () => {
              throw new Error('handler bug');
            },
          }),
        reverseTunnelService({ registry, authenticateAgent: async () => ({ agentId: AGENT_ID, agentName: 'dev' }), logger: quietLogger }),
      ],
      logger: quietLogger,
    });
    cleanups.push(() => server.stop());
    const client = new grpc.Client(server.address, grpc.credentials.createInsecure());
    cleanups.push(async () => client.close());
    const boom = client.makeBidiStreamRequest(
      '/workbench.test.Broken/Boom',
      serializeConnectRequest,
      deserializeConnectResponse,
      bearer(AGENT_TOKEN),
    );
    assert.equal((await statusOf(boom)).code, grpc.status.INTERNAL);
    const tunnel = openStockConnect(client, AGENT_TOKEN);
    cleanups.push(async () => tunnel.cancel());
    tunnel.on('error', () => undefined);
    tunnel.write(DESCRIPTOR);
    await waitForIdleTunnels(registry, 1);
  });

  it('refuses new tunnel streams of a revoked token on an open connection once the check is due again', async () => {
    const registry = new TunnelRegistry();
    cleanups.push(async () => registry.close());
    let revoked = false;
    const server = await startAgentServer({
      address: '127.0.0.1:0',
      services: [
        reverseTunnelService({
          registry,
          tokenRecheckMs: 300,
          authenticateAgent: async () => (revoked ? undefined : { agentId: AGENT_ID, agentName: 'dev' }),
          logger: quietLogger,
        }),
      ],
      logger: quietLogger,
    });
    cleanups.push(() => server.stop());
    const connection = await dialKas({ kasAddress: `grpc://${server.address}`, token: AGENT_TOKEN, logger: quietLogger });
    cleanups.push(() => connection.close());
    const open = () => {
      const stream = connection.openTunnelStream();
      stream.on('error', () => undefined);
      stream.write(DESCRIPTOR);
      cleanups.push(async () => stream.cancel());
      return stream;
    };
    open();
    await waitForIdleTunnels(registry, 1);
    revoked = true;
    open(); // within the window: the connection's check still holds
    await waitForIdleTunnels(registry, 2);
    await new Promise((r) => setTimeout(r, 400));
    const refused = await new Promise<grpc.StatusObject>((resolve) => open().on('status', resolve));
    assert.equal(refused.code, grpc.status.UNAUTHENTICATED);
  });

  it('checks the agent token once per connection, however many tunnel streams it carries', async () => {
    const registry = new TunnelRegistry();
    cleanups.push(async () => registry.close());
    let checks = 0;
    const server: AgentServer = await startAgentServer({
      address: '127.0.0.1:0',
      services: [
        reverseTunnelService({
          registry,
          authenticateAgent: async (token) => {
            checks++;
            return token === AGENT_TOKEN ? { agentId: AGENT_ID, agentName: 'dev' } : undefined;
          },
          logger: quietLogger,
        }),
      ],
      logger: quietLogger,
    });
    cleanups.push(() => server.stop());
    const connection = await dialKas({ kasAddress: `grpc://${server.address}`, token: AGENT_TOKEN, logger: quietLogger });
    cleanups.push(() => connection.close());
    const streams = Array.from({ length: 25 }, () => connection.openTunnelStream());
    for (const stream of streams) {
      stream.on('error', () => undefined);
      stream.write(DESCRIPTOR);
    }
    cleanups.push(async () => streams.forEach((s) => s.cancel()));
    await waitForIdleTunnels(registry, 25);
    assert.equal(checks, 1, 'one check for 25 streams on one connection');
    const second = await dialKas({ kasAddress: `grpc://${server.address}`, token: AGENT_TOKEN, logger: quietLogger });
    cleanups.push(() => second.close());
    const other = second.openTunnelStream();
    other.on('error', () => undefined);
    other.write(DESCRIPTOR);
    cleanups.push(async () => other.cancel());
    await waitForIdleTunnels(registry, 26);
    assert.equal(checks, 2, 'a new connection is checked again');
  });
});

describe('tunnel: kas stays up when agent WebSockets are torn down mid-request', function () {
  this.timeout(120_000);
  const fixture = useUpstreamFixture();
  const { cleanups } = fixture;

  /** A TCP relay in front of kas whose connections the test can cut at any moment. */
  async function startRelay(target: string): Promise<{ port: number; cut(reset: boolean): number; stop(): Promise<void> }> {
    const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
    const sockets = new Set<net.Socket>();
    const track = (socket: net.Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    };
    const server = net.createServer((client) => {
      const upstream = net.connect(port, host);
      track(client);
      track(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return {
      port: (server.address() as AddressInfo).port,
      cut: (reset) => {
        const count = sockets.size;
        for (const socket of sockets) {
          if (reset) socket.resetAndDestroy();
          else socket.destroy();
        }
        return count;
      },
      stop: () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    };
  }

  it('survives 12 rounds of cutting ws:// agent connections with streams in flight, then serves again', async () => {
    const kas = await startKas();
    cleanups.push(() => kas.stop());
    const relay = await startRelay(kas.agentServer.address);
    cleanups.push(() => relay.stop());
    const fastBackoff = { initialMs: 50, maxMs: 200, factor: 1.6, jitter: 0.2, resetAfterMs: 25_000 };
    const agentk = await startAgentk({
      kasAddress: `ws://127.0.0.1:${relay.port}/agentk-ws`,
      kubeconfig: fixture.kubeconfig,
      poolSettings: { backoff: fastBackoff },
    });
    cleanups.push(() => agentk.stop());
    for (let round = 0; round < 12; round++) {
      await waitForIdleTunnels(kas.registry, 2);
      const inFlight = Array.from({ length: 6 }, () =>
        request(`${kas.proxyUrl}/stream`, { headers: userAuth() }).catch((err: Error) => err),
      );
      await new Promise((r) => setTimeout(r, 150 + (round % 3) * 50));
      assert.ok(relay.cut(round % 2 === 0) > 0, 'there were agent connections to cut');
      const outcomes = await Promise.all(inFlight);
      // Each client got an answer from kas (a cut stream ends as 502, or the response is cut short): kas did not hang.
      for (const outcome of outcomes)
        assert.ok(!(outcome instanceof Error) || /aborted|socket hang up|ECONNRESET/.test(outcome.message), String(outcome));
    }
    await eventually(() => (kas.registry.counts()[0]?.idle ?? 0) >= 2, 'agentk to reconnect through the relay');
    const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
    assert.equal(res.status, 200);
    assert.ok(
      kas.agentServer.connectionStats().accepted >= 12,
      `agentk reconnected after each cut (accepted ${kas.agentServer.connectionStats().accepted})`,
    );
  });
});

describe('tunnel: kas agent listener serves a stock grpc-js client the configuration stream and Connect on one port', function () {
  this.timeout(60_000);
  let temp: ReturnType<typeof makeTempDir>;
  const stops: Array<() => Promise<void> | void> = [];

  beforeEach(() => {
    temp = makeTempDir('tunnel-grpc-layer-');
  });
  afterEach(async () => {
    while (stops.length) await stops.pop()!();
    temp.remove();
  });

  it('delivers the config and registers the tunnel for one grpc-js channel', async () => {
    const repo = new TestRepository(temp.dir);
    const commit = repo.commit({ '.gitlab/agents/dev/config.yaml': 'user_access:\n  access_as:\n    agent: {}\n' }, 'add agent dev');
    const kas = await startFullKas(testKasConfig(repo.dir, path.join(temp.dir, 'data')), testLogger());
    stops.push(() => kas.stop());
    const agentToken = (await kas.registry.agentTokens.create('dev')).token;
    const client = new grpc.Client(kas.agentAddress, grpc.credentials.createInsecure());
    stops.push(() => client.close());
    const configStream = client.makeServerStreamRequest(
      GET_CONFIGURATION_PATH,
      serializeConfigurationRequest,
      deserializeConfigurationResponse,
      { agentMeta: { podName: 'stock', podNamespace: 'tests', version: 'x' } },
      bearer(agentToken),
      {},
    );
    stops.push(() => configStream.cancel());
    configStream.on('error', () => undefined);
    const config = await new Promise<ConfigurationResponse>((resolve) => configStream.once('data', resolve));
    assert.equal(config.commitId, commit);
    assert.deepEqual(JSON.parse(config.configJson ?? '{}'), { user_access: { access_as: { agent: {} } } });
    const tunnel = openStockConnect(client, agentToken);
    stops.push(() => tunnel.cancel());
    tunnel.on('error', () => undefined);
    tunnel.write(DESCRIPTOR);
    await eventually(
      () => kas.tunnels.connectedAgents().some((a) => a.agentName === 'dev' && a.replicas.length === 1),
      'the stock client tunnel to register',
    );
  });

  it('agentk gets its configuration and registers its tunnel over wss:// with a private CA', async () => {
    const repo = new TestRepository(temp.dir);
    const commit = repo.commit({ '.gitlab/agents/dev/config.yaml': 'user_access:\n  access_as:\n    agent: {}\n' }, 'add agent dev');
    const ca = createCertificateAuthority();
    const certificate = issueServerCertificate(ca, LOOPBACK_HOSTS);
    const files = { ca: path.join(temp.dir, 'ca.pem'), cert: path.join(temp.dir, 'kas.crt'), key: path.join(temp.dir, 'kas.key') };
    writeFileSync(files.ca, ca.certPem);
    writeFileSync(files.cert, certificate.certPem);
    writeFileSync(files.key, certificate.keyPem);
    const kas = await startFullKas(
      testKasConfig(repo.dir, path.join(temp.dir, 'data'), {
        agent: { listen: { websocket: true, certificate_file: files.cert, key_file: files.key } },
      }),
      testLogger(),
    );
    stops.push(() => kas.stop());
    const agentToken = (await kas.registry.agentTokens.create('dev')).token;
    const received: string[] = [];
    const agentk = await runAgentk({
      kasAddress: `wss://${kas.agentAddress}`,
      token: agentToken,
      caFile: files.ca,
      kubeconfig: await writeKubeconfig(temp.dir, 'https://127.0.0.1:1'),
      observabilityAddress: null,
      onConfig: (_config, at) => received.push(at),
      logger: quietLogger,
    });
    stops.push(() => agentk.stop());
    await eventually(() => received.includes(commit), 'the configuration to arrive');
    assert.deepEqual(agentk.currentConfig()?.config, { user_access: { access_as: { agent: {} } } });
    await eventually(
      () => kas.tunnels.connectedAgents().some((a) => a.agentName === 'dev' && a.replicas.length === 1),
      'the tunnel to register',
    );
  });
});
