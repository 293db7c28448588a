// Transport v2 (module http_tunnel): kas sends proxied requests as keep-alive HTTP/1.1 over
// connections agentk dialed and upgraded to kas-tunnel-v2. The shared tunnel suites run on it by
// default (TUNNEL_TRANSPORT=grpc: on the gRPC tunnel); these tests cover what is the transport's own: that requests really take
// it, the caller travelling in kas's private header, the pool rules, and the negotiation.
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { register } from 'prom-client';
import type { Agentk } from '../../../agent/agentk';
import { httpTunnelDialer } from '../../../agent/modules/http_tunnel/agent/dial';
import { HttpTunnelRefusedError } from '../../../agent/modules/http_tunnel/agent/dial';
import { startAgentServer } from '../../../agent/modules/reverse_tunnel';
import { kasVia } from '../../../agent/modules/kubernetes_api/server/status';
import {
  AGENT_ID,
  AGENT_TOKEN,
  USER_TOKEN,
  quietLogger,
  request,
  startAgentk,
  startKas,
  useUpstreamFixture,
  userAuth,
  waitForIdleTunnels,
  type Kas,
} from '../reverse_tunnel/harness';
import { eventually } from '../../support/eventually';

const FAST_BACKOFF = { initialMs: 50, maxMs: 200, factor: 1.6, jitter: 0.2, resetAfterMs: 25_000 };
const META = { version: 'test', podName: 'p', podNamespace: 'n', instanceId: 'i' };

async function requestsOverV2(): Promise<number> {
  const metric = await register.getSingleMetric('kas_http_tunnel_requests_total')?.get();
  return metric?.values.find((v) => v.labels['kind'] === 'http')?.value ?? 0;
}

async function probes(result: string): Promise<number> {
  const metric = await register.getSingleMetric('kas_http_tunnel_probes_total')?.get();
  return metric?.values.find((v) => v.labels['result'] === result)?.value ?? 0;
}

async function connectionsAccepted(): Promise<number> {
  return (await register.getSingleMetric('kas_http_tunnel_connections_accepted_total')?.get())?.values[0]?.value ?? 0;
}

/** agentk's own count of its v2 connections (the pool's gauge), by state: dialing, idle, busy. */
async function agentkConnections(state: 'dialing' | 'idle' | 'busy'): Promise<number> {
  const metric = await register.getSingleMetric('agentk_http_tunnel_connections')?.get();
  return metric?.values.find((v) => v.labels['state'] === state)?.value ?? 0;
}

/**
 * A load balancer that passes only WebSocket upgrades: it reads the request, answers 403 to
 * anything but `Upgrade: websocket` (plain requests, other upgrades such as kas-tunnel-v2, and
 * HTTP/2), and relays the bytes of a WebSocket both ways once it passed the handshake on.
 */
async function startWebSocketOnlyProxy(
  target: string,
): Promise<{ address: string; passed: () => number; refused: () => number; stop(): Promise<void> }> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  let passed = 0;
  let refused = 0;
  const sockets = new Set<Duplex>();
  const track = (socket: Duplex) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = http.createServer((_req, res) => {
    refused++;
    res.writeHead(403).end('only WebSocket upgrades pass\n');
  });
  server.on('connection', track);
  server.on('upgrade', (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || !req.headers['sec-websocket-key']) {
      refused++;
      return void client.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
    passed++;
    const upstream = net.connect({ host, port });
    track(upstream);
    let head0 = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) head0 += `${req.rawHeaders[i]!}: ${req.rawHeaders[i + 1]!}\r\n`;
    upstream.write(`${head0}\r\n`);
    if (head.length > 0) upstream.write(head);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    passed: () => passed,
    refused: () => refused,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const httpCounts = (kas: Kas) => kas.httpTunnels.counts().find((c) => c.agentId === AGENT_ID) ?? { idle: 0, busy: 0 };

describe('http_tunnel: transport v2 (reverse HTTP/1.1)', function () {
  this.timeout(60_000);
  const fixture = useUpstreamFixture();

  async function kasWithAgentk(poolSettings = {}, kasOptions: Parameters<typeof startKas>[0] = {}): Promise<{ kas: Kas; agentk: Agentk }> {
    const kas = await startKas(kasOptions);
    fixture.cleanups.push(() => kas.stop());
    const agentk = await startAgentk({
      kasAddress: kas.grpcAddress,
      kubeconfig: fixture.kubeconfig,
      tunnelTransport: 'v2',
      poolSettings: { backoff: FAST_BACKOFF, ...poolSettings },
    });
    fixture.cleanups.push(() => agentk.stop());
    await waitForIdleTunnels(kas.registry, 2);
    await eventually(() => httpCounts(kas).idle >= 2, 'two idle v2 connections');
    return { kas, agentk };
  }

  it('carries proxied requests on the dialed-in connections, impersonating as access_as says; client X-Kas-* never reach the API', async () => {
    const { kas } = await kasWithAgentk(
      {},
      {
        authorizeUser: async (credential) =>
          credential.token === USER_TOKEN
            ? { allowed: true, accessAs: { user: {} }, user: { username: 'alice', groups: ['devs'] } }
            : { allowed: false, status: 401, message: 'no' },
      },
    );
    const before = await requestsOverV2();
    const res = await request(`${kas.proxyUrl}/api/v1/pods?limit=1`, {
      headers: { ...userAuth(), 'x-kas-caller': 'forged' },
    });
    assert.equal(res.status, 200, res.body);
    const seen = JSON.parse(res.body) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/api/v1/pods?limit=1');
    assert.equal(seen.headers['impersonate-user'], 'gitlab:user:alice');
    assert.equal(seen.headers['impersonate-group'], 'devs');
    assert.equal(seen.headers['authorization'], 'Bearer upstream-sa-token');
    assert.equal(seen.headers['via'], kasVia('kas-test'));
    assert.deepEqual(
      Object.keys(seen.headers).filter((name) => name.startsWith('x-kas-')),
      [],
    );
    assert.equal((await requestsOverV2()) - before, 1, 'the request went over transport v2');
  });

  it('dials only minIdle (2) connections at start, and scaleUpStep (10) more once a request holds one', async () => {
    const accepted = await connectionsAccepted();
    const { kas } = await kasWithAgentk();
    await eventually(
      async () => (await agentkConnections('dialing')) === 0 && (await agentkConnections('idle')) === 2,
      'agentk to finish dialing',
    );
    assert.deepEqual({ idle: httpCounts(kas).idle, busy: httpCounts(kas).busy }, { idle: 2, busy: 0 });
    assert.equal((await connectionsAccepted()) - accepted, 2, 'no surplus connection at start');
    const res = await request(`${kas.proxyUrl}/stream`, { headers: userAuth() });
    assert.equal(res.status, 200);
    await eventually(() => httpCounts(kas).idle === 12 && httpCounts(kas).busy === 0, 'the pool grown by one step of 10');
    assert.equal((await connectionsAccepted()) - accepted, 12);
  });

  it('grows the pool for 60 concurrent slow requests, then kas closes surplus idle connections down to minIdle', async () => {
    const { kas } = await kasWithAgentk({ idleTimeoutMs: 300 });
    let peakBusy = 0;
    const sampler = setInterval(() => (peakBusy = Math.max(peakBusy, httpCounts(kas).busy)), 10);
    try {
      const results = await Promise.all(Array.from({ length: 60 }, () => request(`${kas.proxyUrl}/stream`, { headers: userAuth() })));
      assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
      assert.ok(
        results.every((r) => r.body.split('\n').filter(Boolean).length === 10),
        'every stream complete',
      );
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peakBusy > 10, `expected well over the 2 initial connections busy at once, saw ${peakBusy}`);
    await eventually(() => httpCounts(kas).idle === 2 && httpCounts(kas).busy === 0, 'surplus idle connections to close down to 2');
  });

  it('loses no POST while surplus idle connections keep closing (kas closes them, never one a request is on)', async () => {
    const { kas } = await kasWithAgentk({ idleTimeoutMs: 20 });
    for (let round = 0; round < 10; round++) {
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          request(`${kas.proxyUrl}/api/v1/configmaps`, { method: 'POST', headers: userAuth(), body: `body-${round}-${i}` }),
        ),
      );
      results.forEach((r, i) => {
        assert.equal(r.status, 200, r.body);
        assert.equal((JSON.parse(r.body) as { body: string }).body, `body-${round}-${i}`);
      });
      await new Promise((r) => setTimeout(r, 15 + (round % 4) * 5));
    }
  });

  it('takes an upgraded connection out of the pool for its lifetime, and agentk refills the pool', async () => {
    const { kas } = await kasWithAgentk();
    const { WebSocket } = await import('ws');
    const url = `${kas.proxyUrl.replace(/^http/, 'ws')}/api/v1/namespaces/default/pods/x/exec`;
    const ws = new WebSocket(url, { headers: userAuth() });
    const hello = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data: Buffer) => resolve(data.toString()));
      ws.once('error', reject);
    });
    assert.equal(hello, 'hello agent');
    await eventually(() => httpCounts(kas).idle >= 2, 'the pool refilled while the upgrade runs');
    ws.send('ping');
    assert.equal(await new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString()))), 'echo: ping');
    ws.close();
  });

  it('probes a silent agentk with a request agentk answers itself: the cluster sees none, no connection is replaced or dropped', async () => {
    // agentk dials exactly minIdle (2) at start, so the count of connections is settled once two are idle.
    const { kas } = await kasWithAgentk({}, { keepaliveTimeMs: 100, keepaliveTimeoutMs: 2_000 });
    let upstreamRequests = 0;
    const count = () => upstreamRequests++;
    fixture.upstream.server.on('request', count);
    fixture.cleanups.push(async () => void fixture.upstream.server.off('request', count));
    await eventually(() => httpCounts(kas).idle === 2, 'two idle v2 connections');
    const accepted = await connectionsAccepted();
    const answered = await probes('answered');
    const closed = await probes('agent_closed');
    let seen = 0;
    await eventually(async () => (seen = (await probes('answered')) - answered) >= 5, 'five answered probes');
    assert.equal(upstreamRequests, 0, 'no probe reached the Kubernetes API');
    assert.equal((await connectionsAccepted()) - accepted, 0, 'agentk dialed no replacement for a probed connection');
    assert.equal((await probes('agent_closed')) - closed, 0, 'the live agentk was not judged dead');
    assert.equal(httpCounts(kas).idle, 2, `after ${seen} probes`);
    const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
    assert.equal(res.status, 200);
  });

  it('negotiates per connection: a kas without the transport answers the upgrade with an error status, a bad token gets 401', async () => {
    const plain = await startAgentServer({ address: '127.0.0.1:0', services: [], logger: quietLogger });
    fixture.cleanups.push(() => plain.stop());
    const old = httpTunnelDialer({ address: `grpc://${plain.address}`, token: AGENT_TOKEN, transport: 'v2' }, META);
    await assert.rejects(old.dial(), (err) => err instanceof HttpTunnelRefusedError && err.status === 400);
    const kas = await startKas();
    fixture.cleanups.push(() => kas.stop());
    const wrong = httpTunnelDialer({ address: kas.grpcAddress, token: 'not-the-token', transport: 'v2' }, META);
    await assert.rejects(wrong.dial(), (err) => err instanceof HttpTunnelRefusedError && err.status === 401);
    assert.equal(httpCounts(kas).idle, 0);
  });

  it('on a ws:// address passes a load balancer that lets only WebSocket upgrades through (a WebSocket handshake, subprotocol kas-tunnel-v2)', async () => {
    const kas = await startKas();
    fixture.cleanups.push(() => kas.stop());
    const balancer = await startWebSocketOnlyProxy(kas.agentServer.address);
    fixture.cleanups.push(() => balancer.stop());
    // The plain upgrade does not pass it: what a grpc:// address would send is refused.
    const plain = httpTunnelDialer({ address: `grpc://${balancer.address}`, token: AGENT_TOKEN, transport: 'v2' }, META);
    await assert.rejects(plain.dial(), (err) => err instanceof HttpTunnelRefusedError && err.status === 403);
    const agentk = await startAgentk({
      kasAddress: `ws://${balancer.address}/agentk-ws`,
      kubeconfig: fixture.kubeconfig,
      tunnelTransport: 'v2',
      poolSettings: { backoff: FAST_BACKOFF },
    });
    fixture.cleanups.push(() => agentk.stop());
    await waitForIdleTunnels(kas.registry, 2);
    await eventually(() => httpCounts(kas).idle >= 2, 'two idle v2 connections through the WebSocket-only balancer');
    const before = await requestsOverV2();
    const res = await request(`${kas.proxyUrl}/api/v1/pods?limit=1`, { headers: userAuth() });
    assert.equal(res.status, 200, res.body);
    assert.equal((JSON.parse(res.body) as { url: string }).url, '/api/v1/pods?limit=1');
    assert.equal((await requestsOverV2()) - before, 1, 'the request went over transport v2');
    // Every connection agentk made (the gRPC tunnel's WebSockets and v2's) was a WebSocket upgrade.
    assert.ok(balancer.passed() >= 3, `passed ${balancer.passed()}`);
  });

  it('on a ws:// address keeps to gRPC when the WebSocket endpoint does not take the kas-tunnel-v2 subprotocol', async () => {
    const plain = await startAgentServer({ address: '127.0.0.1:0', services: [], logger: quietLogger });
    fixture.cleanups.push(() => plain.stop());
    const dialer = httpTunnelDialer({ address: `ws://${plain.address}/agentk-ws`, token: AGENT_TOKEN, transport: 'v2' }, META);
    await assert.rejects(dialer.dial(), (err) => err instanceof HttpTunnelRefusedError && err.notOffered);
  });

  it('recycles connections at max connection age; requests keep succeeding', async () => {
    const { kas } = await kasWithAgentk({}, { maxConnectionAgeMs: 400, maxConnectionAgeGraceMs: 5_000 });
    const acceptedBefore = await connectionsAccepted();
    const deadline = Date.now() + 2_000;
    let ok = 0;
    while (Date.now() < deadline) {
      const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
      assert.equal(res.status, 200, res.body);
      ok++;
    }
    assert.ok(ok > 5);
    assert.ok((await connectionsAccepted()) - acceptedBefore >= 2, 'old connections were replaced by fresh ones');
    await eventually(() => httpCounts(kas).idle >= 2, 'fresh connections after recycling');
  });
});
