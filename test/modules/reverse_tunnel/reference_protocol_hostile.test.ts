// A stranger holding an agent token speaks the reference's protocol out of order: each crafted or
// seeded random frame sequence ends that one stream with a protocol error (counted), the user gets
// an answer at once (502, or a cut response), kas never crashes, and a well-behaved reference
// agent is served by the same kas afterwards.
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { register } from 'prom-client';
import type { TunnelRegistry } from '../../../agent/modules/reverse_tunnel';
import {
  AGENT_TOKEN,
  request,
  startKas,
  useUpstreamFixture,
  userAuth,
  useTunnelTransport,
  waitForIdleTunnels,
  type FetchResult,
  type Kas,
} from './harness';
import {
  KUBERNETES_API_DESCRIPTOR,
  ReverseTunnelClient,
  bearer,
  httpResponse,
  startReferenceAgent,
  type Frame,
  type TunnelCall,
} from './reference_agent';

const GRPC_HEADER: Frame = { header: { meta: {} } };
const HTTP_HEAD: Frame = httpResponse({
  header: { response: { status_code: 200, status: '200 OK', header: { 'Content-Type': { value: ['text/plain'] } } } },
});
const HTTP_101: Frame = httpResponse({ header: { response: { status_code: 101, status: '101 Switching Protocols' } } });
const HTTP_DATA: Frame = httpResponse({ data: { data: Buffer.from('body') } });
const HTTP_TRAILER: Frame = httpResponse({ trailer: {} });
const UPGRADE_DATA: Frame = httpResponse({ upgradeData: { data: Buffer.from('raw') } });
const GARBAGE: Frame = { message: { data: Buffer.from([0xff, 0xff, 0xff, 0x0f]) } };
const EMPTY_HTTP: Frame = { message: { data: Buffer.alloc(0) } };
const GRPC_TRAILER: Frame = { trailer: { meta: {} } };
const ERROR: Frame = { error: { status: { code: 14, message: 'agent says no' } } };
const ERROR_WITHOUT_STATUS: Frame = { error: {} };
const NOTHING: Frame = {};

function nextRegistration(registry: TunnelRegistry): Promise<void> {
  return new Promise((resolve) => {
    const stop = registry.onRegister(() => {
      stop();
      resolve();
    });
  });
}

async function protocolErrors(): Promise<number> {
  return (await register.getSingleMetric('kas_tunnel_protocol_errors_total')!.get()).values[0]?.value ?? 0;
}

/** A user request that must be answered (any status, or a cut response) within the budget. */
async function answered(url: string, budgetMs = 15_000): Promise<FetchResult | Error> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${budgetMs} ms`)), budgetMs);
  });
  try {
    return await Promise.race([request(url, { headers: userAuth() }).catch((err: Error) => err), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

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

describe('reference protocol: a hostile reference agent cannot take kas down', function () {
  this.timeout(180_000);
  const fixture = useUpstreamFixture();
  useTunnelTransport('grpc'); // the reference's agent has only the gRPC tunnel
  const { cleanups } = fixture;

  async function kasAndClient(): Promise<{ kas: Kas; client: grpc.Client }> {
    const kas = await startKas({ agentWaitTimeoutMs: 1_000, replayWaitMs: 300 });
    cleanups.push(() => kas.stop());
    const client = new ReverseTunnelClient(kas.agentServer.address, grpc.credentials.createInsecure());
    cleanups.push(async () => client.close());
    return { kas, client };
  }

  /** A reference Connect call that plays `frames` when kas sends it a request; resolves once registered. */
  async function hostileStream(kas: Kas, client: grpc.Client, frames: Frame[], end = false) {
    const call = client.makeBidiStreamRequest(
      '/gitlab.agent.reverse_tunnel.rpc.ReverseTunnel/Connect',
      (value: Frame) => (ReverseTunnelClient.service.Connect!.requestSerialize as (v: Frame) => Buffer)(value),
      (bytes: Buffer) => (ReverseTunnelClient.service.Connect!.responseDeserialize as (b: Buffer) => Frame)(bytes),
      bearer(AGENT_TOKEN),
    ) as TunnelCall;
    cleanups.push(async () => call.cancel());
    call.on('error', () => undefined);
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    const registered = nextRegistration(kas.registry);
    call.on('data', (frame: Frame) => {
      if (!frame.request_info) return;
      for (const one of frames) call.write(one);
      if (end) call.end();
    });
    call.write(KUBERNETES_API_DESCRIPTOR);
    await registered;
    return { call, status };
  }

  /** After the abuse, a well-behaved reference agent is served by the same kas. */
  async function servesNormally(kas: Kas): Promise<void> {
    const agent = startReferenceAgent({ address: kas.agentServer.address, token: AGENT_TOKEN, upstreamUrl: fixture.upstream.url });
    cleanups.push(async () => agent.stop());
    await waitForIdleTunnels(kas.registry, 2);
    const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, /"url":"\/api\/v1\/pods"/);
  }

  const sequences: Array<{ name: string; frames: Frame[]; end?: boolean; expect: RegExp }> = [
    { name: 'an HTTP message before the gRPC header', frames: [HTTP_HEAD, GRPC_HEADER], expect: /broke the tunnel protocol/ },
    { name: 'HTTP data before the HTTP header', frames: [GRPC_HEADER, HTTP_DATA, HTTP_HEAD], expect: /broke the tunnel protocol/ },
    { name: 'a second HTTP header', frames: [GRPC_HEADER, HTTP_HEAD, HTTP_HEAD, HTTP_TRAILER], expect: /./ },
    { name: 'a second gRPC header', frames: [GRPC_HEADER, GRPC_HEADER, HTTP_HEAD], expect: /broke the tunnel protocol/ },
    { name: 'an unparsable HTTP message', frames: [GRPC_HEADER, GARBAGE], expect: /broke the tunnel protocol/ },
    { name: 'an HTTP message with no field set', frames: [GRPC_HEADER, EMPTY_HTTP], expect: /broke the tunnel protocol/ },
    { name: 'the end before the HTTP trailer', frames: [GRPC_HEADER, HTTP_HEAD, HTTP_DATA, GRPC_TRAILER], end: true, expect: /./ },
    { name: 'an error without a status', frames: [ERROR_WITHOUT_STATUS], expect: /broke the tunnel protocol/ },
    { name: 'an error right after the gRPC header', frames: [GRPC_HEADER, ERROR], expect: /broke the tunnel protocol/ },
    { name: 'a frame with no field set', frames: [NOTHING], expect: /broke the tunnel protocol/ },
    { name: 'a second descriptor', frames: [KUBERNETES_API_DESCRIPTOR], expect: /broke the tunnel protocol/ },
    { name: 'a message after the gRPC trailer', frames: [GRPC_HEADER, HTTP_HEAD, GRPC_TRAILER, HTTP_DATA], expect: /./ },
  ];
  for (const sequence of sequences) {
    it(`ends the stream with a protocol error on ${sequence.name}, answers the user at once, and keeps serving`, async () => {
      const { kas, client } = await kasAndClient();
      const before = await protocolErrors();
      const { status } = await hostileStream(kas, client, sequence.frames, sequence.end);
      const res = await answered(`${kas.proxyUrl}/api/v1/pods`);
      // A head already sent ends in a cut response: the client sees an error, or the body so far.
      if (!(res instanceof Error)) assert.match(res.body, sequence.expect, `${res.status} ${res.body}`);
      const ended = await status;
      assert.notEqual(ended.code, grpc.status.OK, 'kas ended the stream with an error status');
      assert.ok((await protocolErrors()) > before, 'a protocol error was counted');
      await servesNormally(kas);
    });
  }

  it('cuts a response the agent fails midway (trailer, then error, as the reference agent sends it): not a protocol error', async () => {
    const { kas, client } = await kasAndClient();
    const before = await protocolErrors();
    const { status } = await hostileStream(kas, client, [GRPC_HEADER, HTTP_HEAD, HTTP_DATA, GRPC_TRAILER, ERROR], true);
    const res = await answered(`${kas.proxyUrl}/api/v1/pods`);
    assert.ok(res instanceof Error, `the response was not cut: ${res instanceof Error ? '' : `${res.status} ${res.body}`}`);
    assert.doesNotMatch(res.message, /no answer within/);
    assert.equal((await status).code, grpc.status.OK, 'a well-formed failure ends the stream normally');
    assert.equal(await protocolErrors(), before);
    await servesNormally(kas);
  });

  it('answers an agent error before the response with its status, as the reference maps it', async () => {
    const { kas, client } = await kasAndClient();
    await hostileStream(kas, client, [ERROR]);
    const res = await answered(`${kas.proxyUrl}/api/v1/pods`);
    assert.ok(!(res instanceof Error), String(res));
    assert.ok(res.status >= 500, `${res.status} ${res.body}`);
    await servesNormally(kas);
  });

  it('ends a stream that sends a header before any request, or anything but a descriptor first', async () => {
    const { kas, client } = await kasAndClient();
    const idle = await hostileStream(kas, client, []);
    const before = await protocolErrors();
    idle.call.write(GRPC_HEADER);
    assert.equal((await idle.status).code, grpc.status.INVALID_ARGUMENT);
    assert.ok((await protocolErrors()) > before);
    for (const first of [GRPC_HEADER, HTTP_HEAD, GRPC_TRAILER, ERROR, NOTHING]) {
      const call = client.makeBidiStreamRequest(
        '/gitlab.agent.reverse_tunnel.rpc.ReverseTunnel/Connect',
        ReverseTunnelClient.service.Connect!.requestSerialize as (v: Frame) => Buffer,
        ReverseTunnelClient.service.Connect!.responseDeserialize as (b: Buffer) => Frame,
        bearer(AGENT_TOKEN),
      ) as TunnelCall;
      cleanups.push(async () => call.cancel());
      call.on('error', () => undefined);
      const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      call.write(first);
      assert.equal((await status).code, grpc.status.INVALID_ARGUMENT, JSON.stringify(first));
    }
    assert.equal(kas.registry.counts()[0]?.idle ?? 0, 0);
    await servesNormally(kas);
  });

  it('survives 200 seeded random reference frame sequences, then serves a reference agent', async () => {
    const { kas, client } = await kasAndClient();
    const pool = [
      GRPC_HEADER,
      HTTP_HEAD,
      HTTP_101,
      HTTP_DATA,
      HTTP_TRAILER,
      UPGRADE_DATA,
      GARBAGE,
      EMPTY_HTTP,
      GRPC_TRAILER,
      ERROR,
      ERROR_WITHOUT_STATUS,
      NOTHING,
    ];
    const random = prng(17);
    for (let round = 0; round < 200; round++) {
      const frames = Array.from({ length: 1 + Math.floor(random() * 6) }, () => pool[Math.floor(random() * pool.length)]!);
      const { status } = await hostileStream(kas, client, frames, true);
      const res = await answered(`${kas.proxyUrl}/api/v1/pods`);
      assert.ok(!(res instanceof Error) || !/no answer within/.test(res.message), `round ${round}: ${String(res)}`);
      await Promise.race([status, new Promise((resolve) => setTimeout(resolve, 2_000))]);
    }
    await servesNormally(kas);
  });
});
