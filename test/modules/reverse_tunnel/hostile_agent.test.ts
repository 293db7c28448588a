// An agent token holder is a stranger to kas: a stock grpc-js client with a valid token sends
// crafted tunnel frame sequences (out of order, after the end, duplicated, empty, oversized, and a
// few hundred seeded random ones). Each ends that one stream with a protocol error; kas stays up,
// answers the user, and serves a normal request afterwards.
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { register } from 'prom-client';
import { KUBERNETES_API_MAKE_REQUEST, KUBERNETES_API_SERVICE } from '../../../agent/modules/kubernetes_api/rpc';
import {
  CONNECT_METHOD_PATH,
  deserializeConnectResponse,
  serializeConnectRequest,
  type ConnectRequest,
  type ConnectResponse,
} from '../../../agent/modules/reverse_tunnel/protocol';
import type { TunnelRegistry } from '../../../agent/modules/reverse_tunnel';
import { frameMessage, MessageDecoder } from '../../../agent/modules/reverse_tunnel/grpc_wire';
import {
  AGENT_TOKEN,
  request,
  startAgentk,
  startKas,
  useUpstreamFixture,
  userAuth,
  waitForIdleTunnels,
  type FetchResult,
  type Kas,
} from './harness';

type StockCall = grpc.ClientDuplexStream<ConnectRequest, ConnectResponse>;

const OFFERS_KUBERNETES_API: ConnectRequest = {
  descriptor: {
    services: [{ name: KUBERNETES_API_SERVICE, methods: [KUBERNETES_API_MAKE_REQUEST] }],
    version: 'hostile',
    podName: 'hostile',
    podNamespace: 'tests',
    instanceId: 'hostile-1',
  },
};

const OK_HEAD: ConnectRequest = { header: { status: 200, reason: 'OK', httpHeaders: { 'content-type': { value: ['text/plain'] } } } };
const BODY: ConnectRequest = { message: { data: Buffer.from('body') } };
const TRAILER: ConnectRequest = { trailer: {} };
const EMPTY: ConnectRequest = {};
const AGENT_ERROR: ConnectRequest = { error: { code: 14, message: 'hostile error' } };
/** Above kas's 4 MiB receive limit for one message. */
const OVERSIZED: ConnectRequest = { message: { data: Buffer.alloc(5 * 1024 * 1024, 1) } };

function bearer(token: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

/** The next stream that registers (or is handed to a waiting request). */
function nextRegistration(registry: TunnelRegistry): Promise<void> {
  return new Promise((resolve) => {
    const stop = registry.onRegister(() => {
      stop();
      resolve();
    });
  });
}

/** A stock Connect call; `onRequest` runs when kas sends it a request. Resolves once kas registered it. */
async function hostileStream(
  kas: Kas,
  client: grpc.Client,
  onRequest: (call: StockCall) => void,
  first: ConnectRequest = OFFERS_KUBERNETES_API,
): Promise<{ call: StockCall; status: Promise<grpc.StatusObject> }> {
  const call = client.makeBidiStreamRequest(CONNECT_METHOD_PATH, serializeConnectRequest, deserializeConnectResponse, bearer(AGENT_TOKEN));
  call.on('error', () => undefined);
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  const registered = nextRegistration(kas.registry);
  call.on('data', (frame: ConnectResponse) => {
    if (frame.requestInfo) onRequest(call);
  });
  call.write(first);
  if (first === OFFERS_KUBERNETES_API) await registered;
  return { call, status };
}

/** A user request that must be answered (any status, or a cut response) within the budget: kas never hangs. */
async function answered(url: string, options: Parameters<typeof request>[1] = {}, budgetMs = 15_000): Promise<FetchResult | Error> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${budgetMs} ms`)), budgetMs);
  });
  try {
    return await Promise.race([request(url, { headers: userAuth(), ...options }).catch((err: Error) => err), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function protocolErrors(): Promise<number> {
  return (await register.getSingleMetric('kas_tunnel_protocol_errors_total')!.get()).values[0]?.value ?? 0;
}

/** What the random sequences are drawn from (besides, rarely, OVERSIZED). */
const RANDOM_HEADS: ConnectRequest[] = [
  OK_HEAD,
  { header: { status: 0 } },
  { header: { status: 99_999 } },
  { header: { status: 200, reason: 'OK\r\nX-Injected: 1' } },
  { header: { status: 200, httpHeaders: { 'bad header': { value: ['x'] } } } },
  { header: { status: 101, reason: 'Switching Protocols' } },
  { header: { status: 204 } },
];
const RANDOM_FRAMES: ConnectRequest[] = [
  ...RANDOM_HEADS,
  BODY,
  { message: {} },
  { message: { data: Buffer.alloc(70_000, 2) } },
  TRAILER,
  AGENT_ERROR,
  { error: {} },
  EMPTY,
  OFFERS_KUBERNETES_API,
];

/** gRPC-framed ConnectRequests, back to back in one buffer. */
function framed(frames: ConnectRequest[]): Buffer {
  return Buffer.concat(frames.map((frame) => frameMessage(serializeConnectRequest(frame))));
}

/** A small seeded PRNG (mulberry32): the random sequences are the same on every run. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('tunnel: a hostile agent cannot take kas down', function () {
  this.timeout(180_000);
  const fixture = useUpstreamFixture();
  const { cleanups } = fixture;

  async function kasAndClient(): Promise<{ kas: Kas; client: grpc.Client }> {
    const kas = await startKas({ agentWaitTimeoutMs: 1_000, replayWaitMs: 500 });
    cleanups.push(() => kas.stop());
    const client = new grpc.Client(kas.agentServer.address, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': -1,
    });
    cleanups.push(async () => client.close());
    return { kas, client };
  }

  /** After the abuse, a real agentk's request goes through the same kas. */
  async function servesNormally(kas: Kas): Promise<void> {
    const agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: fixture.kubeconfig });
    cleanups.push(() => agentk.stop());
    await waitForIdleTunnels(kas.registry, 2);
    const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
    assert.equal(res.status, 200, res.body);
  }

  it('answers 502 when the agent follows a head kas refuses with message frames in one write and after kas ended the stream, and keeps serving', async () => {
    const { kas } = await kasAndClient();
    // A raw HTTP/2 client: unlike grpc-js it keeps writing after kas's status, as a hostile agent may.
    const session = http2.connect(`http://${kas.agentServer.address}`);
    cleanups.push(async () => void session.destroy());
    session.on('error', () => undefined);
    // A kept-alive user connection: the response kas ended stays open while the frames arrive.
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => keepAlive.destroy());
    for (let i = 0; i < 3; i++) {
      const stream = session.request({
        ':method': 'POST',
        ':path': CONNECT_METHOD_PATH,
        'content-type': 'application/grpc',
        te: 'trailers',
        authorization: `Bearer ${AGENT_TOKEN}`,
      });
      stream.on('error', () => undefined);
      const kasEnded = new Promise<void>((resolve) => stream.once('trailers', () => resolve()));
      const decoder = new MessageDecoder();
      stream.on('data', (chunk: Buffer) => {
        for (const bytes of decoder.push(chunk)) {
          // The refused head and message frames in one HTTP/2 write: kas reads them in one go.
          if (deserializeConnectResponse(bytes).requestInfo) stream.write(framed([{ header: { status: 0 } }, BODY, BODY, TRAILER, BODY]));
        }
      });
      const registered = nextRegistration(kas.registry);
      stream.write(frameMessage(serializeConnectRequest(OFFERS_KUBERNETES_API)));
      await registered;
      const res = await answered(`${kas.proxyUrl}/api/v1/pods`, { agent: keepAlive });
      assert.ok(!(res instanceof Error), String(res));
      assert.equal(res.status, 502);
      assert.match(res.body, /the agent sent a response head kas cannot serve/);
      await kasEnded;
      const written = new Promise((resolve) => stream.write(framed([BODY, BODY, TRAILER, BODY]), resolve));
      await written;
      await new Promise((resolve) => setTimeout(resolve, 50)); // kas reads them: before the fix, it crashed here
    }
    await servesNormally(kas);
  });

  const sequences: Array<{ name: string; frames: ConnectRequest[]; expect: RegExp }> = [
    { name: 'a message before the header', frames: [BODY, OK_HEAD, TRAILER], expect: /broke the tunnel protocol/ },
    { name: 'a trailer before the header', frames: [TRAILER], expect: /broke the tunnel protocol/ },
    { name: 'a second header', frames: [OK_HEAD, OK_HEAD, BODY, TRAILER], expect: /./ },
    { name: 'a second descriptor', frames: [OFFERS_KUBERNETES_API], expect: /broke the tunnel protocol/ },
    { name: 'a frame with no field set', frames: [EMPTY, OK_HEAD, TRAILER], expect: /broke the tunnel protocol/ },
    { name: 'an oversized message', frames: [OK_HEAD, OVERSIZED, TRAILER], expect: /./ },
    { name: 'an error after the trailer', frames: [OK_HEAD, BODY, TRAILER, AGENT_ERROR, BODY], expect: /^body$/ },
    { name: 'a header after an error', frames: [AGENT_ERROR, OK_HEAD, BODY, TRAILER], expect: /hostile error/ },
  ];
  for (const sequence of sequences) {
    it(`ends the stream with a protocol error on ${sequence.name}, answers the user at once, and keeps serving`, async () => {
      const { kas, client } = await kasAndClient();
      const before = await protocolErrors();
      const { call, status } = await hostileStream(kas, client, (c) => sequence.frames.forEach((frame) => c.write(frame)));
      cleanups.push(async () => call.cancel());
      const res = await answered(`${kas.proxyUrl}/api/v1/pods`);
      // A head already sent (a second header) ends the response cut short: the client sees an error.
      if (!(res instanceof Error)) assert.match(res.body, sequence.expect, `${res.status} ${res.body}`);
      const ended = await status;
      if (sequence.name !== 'an error after the trailer' && sequence.name !== 'a header after an error') {
        assert.notEqual(ended.code, grpc.status.OK, 'kas ended the stream with an error status');
        assert.ok((await protocolErrors()) > before, 'a protocol error was counted');
      }
      await servesNormally(kas);
    });
  }

  it('ends a stream that sends a frame while idle, or anything but a descriptor first; such a stream gets no request', async () => {
    const { kas, client } = await kasAndClient();
    const idle = await hostileStream(kas, client, () => assert.fail('an idle stream that misbehaved got a request'));
    cleanups.push(async () => idle.call.cancel());
    idle.call.write(OK_HEAD);
    assert.equal((await idle.status).code, grpc.status.INVALID_ARGUMENT);
    for (const first of [OK_HEAD, BODY, EMPTY, TRAILER]) {
      const refused = await hostileStream(kas, client, () => assert.fail('got a request without a descriptor'), first);
      cleanups.push(async () => refused.call.cancel());
      const ended = await refused.status;
      assert.equal(ended.code, grpc.status.INVALID_ARGUMENT);
      assert.match(ended.details, /descriptor first|no field set/);
    }
    assert.equal(kas.registry.counts()[0]?.idle ?? 0, 0);
    const res = await answered(`${kas.proxyUrl}/api/v1/pods`);
    assert.ok(!(res instanceof Error) && res.status === 504, String(res instanceof Error ? res : res.status));
    await servesNormally(kas);
  });

  it('hands a request only to a stream whose descriptor lists the Kubernetes API method', async () => {
    const { kas, client } = await kasAndClient();
    const elsewhere: ConnectRequest = {
      descriptor: {
        ...OFFERS_KUBERNETES_API.descriptor,
        services: [{ name: 'workbench.other.Other', methods: ['/workbench.other.Other/Do'] }],
      },
    };
    // A stream that lists the method under another service's name offers nothing either.
    const misnamed: ConnectRequest = {
      descriptor: {
        ...OFFERS_KUBERNETES_API.descriptor,
        services: [{ name: 'workbench.other.Other', methods: [KUBERNETES_API_MAKE_REQUEST] }],
      },
    };
    for (const descriptor of [elsewhere, misnamed, { descriptor: { ...OFFERS_KUBERNETES_API.descriptor, services: [] } }]) {
      const call = client.makeBidiStreamRequest(
        CONNECT_METHOD_PATH,
        serializeConnectRequest,
        deserializeConnectResponse,
        bearer(AGENT_TOKEN),
      );
      call.on('error', () => undefined);
      call.on('data', (frame: ConnectResponse) => assert.ok(!frame.requestInfo, 'a stream without the service got a request'));
      cleanups.push(async () => call.cancel());
      const registered = nextRegistration(kas.registry);
      call.write(descriptor);
      await registered;
    }
    const res = await answered(`${kas.proxyUrl}/api/v1/pods`);
    assert.ok(!(res instanceof Error) && res.status === 504, 'no stream offers the method: the request waits, then 504');
    await servesNormally(kas);
  });

  it('survives 300 seeded random frame sequences from a grpc-js client after a request, answering every user, then serves normally', async () => {
    const { kas, client } = await kasAndClient();
    const random = prng(0x13);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const before = await protocolErrors();
    // 'none': the agent leaves the stream open (rarely: a well-formed answer left open is a slow
    // agent, and the user then waits until the test gives up on it and cancels).
    const ending = () => (random() < 0.1 ? 'none' : random() < 0.5 ? 'end' : 'cancel');
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const count = 1 + Math.floor(random() * 6);
      const sequence = Array.from({ length: count }, () => (random() < 0.03 ? OVERSIZED : pick(RANDOM_FRAMES)));
      const end = ending();
      const { call } = await hostileStream(kas, client, (c) => {
        for (const frame of sequence) c.write(frame);
        if (end === 'end') c.end();
        else if (end === 'cancel') setImmediate(() => c.cancel());
        else setTimeout(() => c.cancel(), 1_000);
      });
      const method = random() < 0.5 ? 'GET' : 'POST';
      const res = await answered(`${kas.proxyUrl}/api/v1/pods`, { method, body: method === 'POST' ? 'x' : undefined });
      call.cancel();
      assert.ok(
        !(res instanceof Error && /no answer within/.test(res.message)),
        `sequence ${i} (${JSON.stringify(sequence.map((f) => Object.keys(f)[0]))}, ${end}) hung`,
      );
      const key = res instanceof Error ? 'cut' : String(res.status);
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    assert.ok((outcomes.get('502') ?? 0) > 50, `outcomes: ${JSON.stringify([...outcomes])}`);
    assert.ok((await protocolErrors()) - before > 50, 'protocol errors were counted');
    await servesNormally(kas);
  });

  it('survives 300 seeded random frame sequences from a raw HTTP/2 client that keeps writing after kas ended the stream', async () => {
    const { kas } = await kasAndClient();
    const session = http2.connect(`http://${kas.agentServer.address}`);
    cleanups.push(async () => void session.destroy());
    session.on('error', () => undefined);
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => keepAlive.destroy());
    const random = prng(0x1313);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const sequenceOf = () => Array.from({ length: 1 + Math.floor(random() * 6) }, () => pick(RANDOM_FRAMES));
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const [first, afterEnd] = [sequenceOf(), random() < 0.5 ? sequenceOf() : []];
      const stream = session.request({
        ':method': 'POST',
        ':path': CONNECT_METHOD_PATH,
        'content-type': 'application/grpc',
        te: 'trailers',
        authorization: `Bearer ${AGENT_TOKEN}`,
      });
      stream.on('error', () => undefined);
      const decoder = new MessageDecoder();
      stream.on('data', (chunk: Buffer) => {
        for (const bytes of decoder.push(chunk)) if (deserializeConnectResponse(bytes).requestInfo) stream.write(framed(first));
      });
      const registered = nextRegistration(kas.registry);
      stream.write(framed([OFFERS_KUBERNETES_API]));
      await registered;
      const cancel = setTimeout(() => stream.close(), 1_000); // a well-formed answer left open: a slow agent
      const res = await answered(`${kas.proxyUrl}/api/v1/pods`, { agent: keepAlive });
      clearTimeout(cancel);
      assert.ok(!(res instanceof Error && /no answer within/.test(res.message)), `sequence ${i} hung`);
      const key = res instanceof Error ? 'cut' : String(res.status);
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      // Whatever kas answered, more frames follow (unless kas reset the stream already).
      if (afterEnd.length && !stream.closed) stream.write(framed(afterEnd));
      setTimeout(() => stream.close(), 20);
      await new Promise<void>((resolve) => (stream.closed ? resolve() : stream.once('close', () => resolve())));
    }
    assert.ok((outcomes.get('502') ?? 0) > 50, `outcomes: ${JSON.stringify([...outcomes])}`);
    await servesNormally(kas);
  });
});
