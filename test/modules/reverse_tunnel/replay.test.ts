// When kas sends a request again on another tunnel stream, and when it must not: a tunnel that
// breaks after kas wrote the request is replayed only for GET/HEAD/OPTIONS; a write fails with a
// clear 502 at once; a stream agentk retires before reading is replayed whatever the method; a
// frozen agentk (SIGSTOP) is noticed within seconds by an HTTP/2 PING (grpc) or a liveness probe (v2).
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { decodeMakeRequestHeader, KUBERNETES_API_MAKE_REQUEST, KUBERNETES_API_SERVICE } from '../../../agent/modules/kubernetes_api/rpc';
import type { TunnelTransport } from '../../../agent/module/modagent';
import type { TunnelRegistry } from '../../../agent/modules/reverse_tunnel';
import {
  CONNECT_METHOD_PATH,
  deserializeConnectResponse,
  serializeConnectRequest,
  type ConnectRequest,
  type ConnectResponse,
} from '../../../agent/modules/reverse_tunnel/protocol';
import {
  AGENT_ID,
  AGENT_TOKEN,
  request,
  spawnAgentk,
  startAgentk,
  startKas,
  stopProcess,
  useTunnelTransport,
  useUpstreamFixture,
  userAuth,
  waitForIdleTunnels,
  type Kas,
} from './harness';
import { eventually } from '../../support/eventually';

type StockCall = grpc.ClientDuplexStream<ConnectRequest, ConnectResponse>;

const DESCRIPTOR: ConnectRequest = {
  descriptor: {
    services: [{ name: KUBERNETES_API_SERVICE, methods: [KUBERNETES_API_MAKE_REQUEST] }],
    version: 'stock',
    podName: 'stock',
    podNamespace: 'tests',
    instanceId: 'stock-1',
  },
};

function nextRegistration(registry: TunnelRegistry): Promise<void> {
  return new Promise((resolve) => {
    const stop = registry.onRegister(() => {
      stop();
      resolve();
    });
  });
}

/** A stock agent stream; `onRequest` gets the call and the HTTP method of each request kas sends it. */
async function stockStream(kas: Kas, client: grpc.Client, onRequest: (call: StockCall, httpMethod: string) => void): Promise<StockCall> {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${AGENT_TOKEN}`);
  const call: StockCall = client.makeBidiStreamRequest(CONNECT_METHOD_PATH, serializeConnectRequest, deserializeConnectResponse, metadata);
  call.on('error', () => undefined);
  call.on('data', (frame: ConnectResponse) => {
    if (frame.requestInfo) onRequest(call, decodeMakeRequestHeader(frame.requestInfo.header).http?.method ?? '?');
  });
  const registered = nextRegistration(kas.registry);
  call.write(DESCRIPTOR);
  await registered;
  return call;
}

const answer = (call: StockCall, body: string) => {
  call.write({ header: { status: 200, reason: 'OK', httpHeaders: { 'content-type': { value: ['text/plain'] } } } });
  call.write({ message: { data: Buffer.from(body) } });
  call.write({ trailer: {} });
  call.end();
};

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work;
  return { value, ms: Date.now() - started };
}

describe('tunnel: replay rules', function () {
  this.timeout(90_000);
  const fixture = useUpstreamFixture();
  const { cleanups } = fixture;

  async function kasAndClient(): Promise<{ kas: Kas; client: grpc.Client; seen: string[] }> {
    // The production wait for a tunnel: a replay must not fall back on it (a 504 after ~20 s).
    const kas = await startKas({ agentWaitTimeoutMs: 20_000 });
    cleanups.push(() => kas.stop());
    const client = new grpc.Client(kas.agentServer.address, grpc.credentials.createInsecure());
    cleanups.push(async () => client.close());
    return { kas, client, seen: [] };
  }

  /** Registers a stream that answers, then (newest, so it gets the next request) one that resets when a request arrives. */
  async function goodThenBreaker(kas: Kas, client: grpc.Client, seen: string[]): Promise<void> {
    const good = await stockStream(kas, client, (call, method) => {
      seen.push(`good ${method}`);
      answer(call, 'answered by the good stream');
    });
    cleanups.push(async () => good.cancel());
    await breaker(kas, client, seen);
  }

  async function breaker(kas: Kas, client: grpc.Client, seen: string[]): Promise<void> {
    const call = await stockStream(kas, client, (c, method) => {
      seen.push(`breaker ${method}`);
      c.cancel(); // the request reached the agent; then its stream is reset
    });
    cleanups.push(async () => call.cancel());
  }

  it('replays a GET whose tunnel broke after the request reached the agent on another stream', async () => {
    const { kas, client, seen } = await kasAndClient();
    await goodThenBreaker(kas, client, seen);
    const res = await request(`${kas.proxyUrl}/api/v1/pods?watch=true`, { headers: userAuth() });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body, 'answered by the good stream');
    assert.deepEqual(seen, ['breaker GET', 'good GET']);
  });

  it('fails a POST whose tunnel broke after the request reached the agent with a clear 502 at once, never sending it again', async () => {
    const { kas, client, seen } = await kasAndClient();
    await goodThenBreaker(kas, client, seen);
    const { value: res, ms } = await timed(
      request(`${kas.proxyUrl}/api/v1/configmaps`, { method: 'POST', headers: userAuth(), body: '{}' }),
    );
    assert.equal(res.status, 502);
    assert.match(res.body, /a POST is not retried, the agent may have forwarded it/);
    assert.deepEqual(seen, ['breaker POST'], 'the write went to one agent stream only');
    assert.ok(ms < 1_500, `answered after ${ms} ms`);
  });

  it('answers 502 soon (not 504 after the tunnel wait) when a GET tunnel vanishes and no other comes', async () => {
    const { kas, client, seen } = await kasAndClient();
    await breaker(kas, client, seen);
    const { value: res, ms } = await timed(request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() }));
    assert.equal(res.status, 502, res.body);
    assert.match(res.body, /broke and no other tunnel came within 2000 ms/);
    assert.ok(ms < 5_000, `answered after ${ms} ms`);
    await breaker(kas, client, seen);
    const write = await timed(request(`${kas.proxyUrl}/api/v1/pods`, { method: 'DELETE', headers: userAuth() }));
    assert.equal(write.value.status, 502);
    assert.ok(write.ms < 1_500, `DELETE answered after ${write.ms} ms`);
  });

  it('replays a POST on another stream when agentk retired its stream before reading the request', async () => {
    const { kas, client, seen } = await kasAndClient();
    const good = await stockStream(kas, client, (call, method) => {
      seen.push(`good ${method}`);
      answer(call, 'answered by the good stream');
    });
    cleanups.push(async () => good.cancel());
    const retiring = await stockStream(kas, client, (call) => call.end()); // a clean half-close, no answer
    cleanups.push(async () => retiring.cancel());
    const res = await request(`${kas.proxyUrl}/api/v1/configmaps`, { method: 'POST', headers: userAuth(), body: '{}' });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(seen, ['good POST']);
  });
});

/** The agentk process of that pod name: its idle tunnel streams (grpc) or idle reverse HTTP/1.1 connections (v2). */
function idleOf(kas: Kas, transport: TunnelTransport, podName: string): () => number {
  if (transport === 'v2') return () => kas.httpTunnels.instancesOf(AGENT_ID).find((i) => i.podName === podName)?.idle ?? 0;
  return () => kas.registry.connectedAgents()[0]?.replicas.find((r) => r.podName === podName)?.idleTunnels ?? 0;
}

/** Whether kas holds anything of that agentk process it could route to (streams or connections, idle or busy). */
function routesTo(kas: Kas, transport: TunnelTransport, podName: string): boolean {
  if (transport === 'v2') return kas.httpTunnels.instancesOf(AGENT_ID).some((i) => i.podName === podName);
  const replica = kas.registry.connectedAgents()[0]?.replicas.find((r) => r.podName === podName);
  return (replica?.idleTunnels ?? 0) > 0;
}

async function spawnFrozenCandidate(kas: Kas, dir: string, kubeconfig: string): Promise<ChildProcess> {
  const tokenFile = path.join(dir, 'token');
  await fs.writeFile(tokenFile, AGENT_TOKEN);
  return spawnAgentk(
    [
      '--kas-address',
      kas.grpcAddress,
      '--token-file',
      tokenFile,
      '--kubeconfig',
      kubeconfig,
      '--observability-listen-address',
      '127.0.0.1:0',
      '--log-level',
      'error',
    ],
    'agentk-frozen',
  );
}

// The gRPC tunnel notices a frozen agentk by an unanswered HTTP/2 PING; transport v2 by an
// unanswered liveness probe (OPTIONS with X-Kas-Probe) and no byte from that agentk process.
for (const transport of ['v2', 'grpc'] as const) {
  describe(`tunnel: a frozen agentk (SIGSTOP), ${transport}`, function () {
    this.timeout(120_000);
    useTunnelTransport(transport);
    const fixture = useUpstreamFixture();
    const { cleanups } = fixture;

    it('is noticed within seconds: its GET is replayed on another agentk, its POST fails 502 and is not sent twice, its idle connection is dropped', async () => {
      const kas = await startKas({ agentWaitTimeoutMs: 20_000, keepaliveTimeMs: 1_000, keepaliveTimeoutMs: 2_000 });
      cleanups.push(() => kas.stop());
      const healthy = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: fixture.kubeconfig });
      cleanups.push(() => healthy.stop());
      await waitForIdleTunnels(kas.registry, 2);
      const frozen = await spawnFrozenCandidate(kas, fixture.dir, fixture.kubeconfig);
      cleanups.push(() => stopProcess(frozen));
      const frozenIdle = idleOf(kas, transport, 'agentk-frozen');
      await eventually(() => frozenIdle() >= 2, 'the agentk process to register its streams', 60_000);
      // Its streams are the newest: the next two requests go to the agentk that is about to freeze.
      frozen.kill('SIGSTOP');
      const [get, post] = await Promise.all([
        timed(request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() })),
        timed(request(`${kas.proxyUrl}/api/v1/configmaps`, { method: 'POST', headers: userAuth(), body: 'frozen-post' })),
      ]);
      assert.equal(get.value.status, 200, get.value.body);
      assert.equal((JSON.parse(get.value.body) as { url: string }).url, '/api/v1/pods');
      assert.equal(post.value.status, 502, post.value.body);
      assert.match(post.value.body, /a POST is not retried/);
      // 1 s without a first byte, then a ping (probe) unanswered for 2 s: well within 8 s on a loaded machine.
      assert.ok(get.ms < 8_000 && post.ms < 8_000, `GET ${get.ms} ms, POST ${post.ms} ms`);
      assert.equal(frozenIdle(), 0, 'kas stopped routing to the frozen agentk');
      assert.ok(!routesTo(kas, transport, 'agentk-frozen'), 'kas holds nothing of the frozen agentk to route to');
      const after = await timed(request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() }));
      assert.equal(after.value.status, 200);
      assert.ok(after.ms < 1_000, `a request after the freeze took ${after.ms} ms`);

      // Resumed, it reconnects; the POST it may have read from its socket reached the cluster at most once.
      frozen.kill('SIGCONT');
      await eventually(() => frozenIdle() >= 2, 'the resumed agentk to reconnect', 30_000);
      assert.ok((fixture.upstream.posts.get('frozen-post') ?? 0) <= 1, 'the POST was never sent twice');

      // Frozen again with no request in flight: the silent connection is pinged (probed) and dropped.
      const frozenAt = Date.now();
      frozen.kill('SIGSTOP');
      await eventually(() => !routesTo(kas, transport, 'agentk-frozen'), 'the idle frozen agentk to leave routing', 15_000);
      const noticedMs = Date.now() - frozenAt;
      // At most 2 × keepaliveTimeMs of silence sampled, plus keepaliveTimeoutMs: 4 s, with room for a loaded machine.
      assert.ok(noticedMs < 8_000, `noticed after ${noticedMs} ms`);
      // The healthy agentk, probed as often while idle, stays.
      assert.ok(routesTo(kas, transport, 'agentk-test'), 'the healthy agentk is still routed to');
      const last = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
      assert.equal(last.status, 200);
    });

    it('ends a watch whose agentk froze with an error the client sees, instead of a silent stall; a lone frozen agentk gets clean errors', async () => {
      const kas = await startKas({ agentWaitTimeoutMs: 3_000, keepaliveTimeMs: 1_000, keepaliveTimeoutMs: 2_000 });
      cleanups.push(() => kas.stop());
      const frozen = await spawnFrozenCandidate(kas, fixture.dir, fixture.kubeconfig);
      cleanups.push(() => stopProcess(frozen));
      await eventually(() => idleOf(kas, transport, 'agentk-frozen')() >= 2, 'the agentk process to connect', 60_000);
      const lines: string[] = [];
      let firstLine!: () => void;
      const started = new Promise<void>((resolve) => (firstLine = resolve));
      const ended = new Promise<string>((resolve) => {
        const req = http.get(`${kas.proxyUrl}/watch`, { headers: userAuth(), agent: false }, (res) => {
          res.on('data', (chunk: Buffer) => {
            lines.push(chunk.toString());
            firstLine();
          });
          res.on('end', () => resolve('end'));
          res.on('aborted', () => resolve('aborted'));
          res.on('error', (err) => resolve(`error ${err.message}`));
        });
        req.on('error', (err) => resolve(`error ${err.message}`));
        cleanups.push(async () => void req.destroy());
      });
      await started;
      const frozenAt = Date.now();
      frozen.kill('SIGSTOP');
      const how = await ended;
      const ms = Date.now() - frozenAt;
      // A chunked response cut short: Node's client reports it as aborted (kubectl: "unexpected EOF").
      assert.match(how, /aborted|error/, `the watch ended: ${how}`);
      assert.ok(ms < 10_000, `the watch ended ${ms} ms after the freeze`);
      assert.ok(lines.length > 0);
      // With no other agentk, a request gets a clean error within the bounds (the gRPC tunnel's own
      // ping, then the 3 s tunnel wait), never a hang.
      const lone = await timed(request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() }));
      assert.ok([502, 504].includes(lone.value.status), `status ${lone.value.status}: ${lone.value.body}`);
      assert.ok(lone.ms < 15_000, `answered after ${lone.ms} ms`);
    });
  });
}
