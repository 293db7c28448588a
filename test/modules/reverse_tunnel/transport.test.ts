// Transport details: agentk through an HTTP CONNECT proxy (HTTPS_PROXY), and a non-WebSocket
// upgrade (SPDY/3.1, as kubectl before 1.30 uses for exec and port-forward) as raw bytes.
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Agentk } from '../../../agent/agentk';
import {
  AGENT_ID,
  USER_TOKEN,
  request,
  startAgentk,
  startKas,
  useUpstreamFixture,
  userAuth,
  waitForIdleTunnels,
  type Kas,
} from './harness';

const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'grpc_proxy', 'no_grpc_proxy'];

interface ConnectProxy {
  url: string;
  targets: string[];
  stop(): Promise<void>;
}

/** A minimal HTTP CONNECT proxy that records where it tunnels to. */
async function startConnectProxy(): Promise<ConnectProxy> {
  const targets: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    targets.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    targets,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('tunnel: proxies and raw upgrades', function () {
  const fixture = useUpstreamFixture();
  const { cleanups } = fixture;

  for (const scheme of ['grpc', 'ws'] as const) {
    it(`agentk dials kas through HTTPS_PROXY over ${scheme}://`, async () => {
      const proxy = await startConnectProxy();
      cleanups.push(() => proxy.stop());
      const saved = Object.fromEntries(PROXY_VARIABLES.map((name) => [name, process.env[name]]));
      cleanups.push(async () => {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      });
      for (const name of PROXY_VARIABLES) delete process.env[name];
      for (const name of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy']) process.env[name] = proxy.url;
      const kas = await startKas();
      cleanups.push(() => kas.stop());
      const agentk: Agentk = await startAgentk({
        kasAddress: scheme === 'grpc' ? kas.grpcAddress : kas.wsAddress,
        kubeconfig: fixture.kubeconfig,
      });
      cleanups.push(() => agentk.stop());
      await waitForIdleTunnels(kas.registry);
      for (const name of PROXY_VARIABLES) delete process.env[name]; // the test's own requests go direct
      const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
      assert.equal(res.status, 200);
      assert.ok(proxy.targets.includes(kas.agentServer.address), `the proxy tunneled to ${proxy.targets.join(', ') || 'nothing'}`);
    });
  }

  it('passes a SPDY/3.1 upgrade through as raw bytes both ways', async () => {
    const kas: Kas = await startKas();
    cleanups.push(() => kas.stop());
    const agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: fixture.kubeconfig });
    cleanups.push(() => agentk.stop());
    await waitForIdleTunnels(kas.registry);
    const { port } = new URL(kas.proxyUrl);
    const socket = net.connect(Number(port), '127.0.0.1');
    cleanups.push(async () => void socket.destroy());
    socket.on('error', () => undefined);
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    const until = async (check: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    socket.write(
      'POST /k8s-proxy/api/v1/namespaces/default/pods/p/portforward HTTP/1.1\r\nHost: kas\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n' +
        `Authorization: Bearer pat:${AGENT_ID}:${USER_TOKEN}\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n`,
    );
    await until(() => received.includes('\r\n\r\n'));
    const head = received.toString('latin1').split('\r\n\r\n')[0]!;
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, /upgrade: SPDY\/3\.1/i);
    const binary = Buffer.from([0x80, 0x03, 0x00, 0x01, 0xff, 0x00, 0x10, 0x20]);
    received = Buffer.alloc(0);
    socket.write(binary);
    await until(() => received.length >= binary.length);
    assert.deepEqual(received, binary);
    // The client's half-close travels to the upstream (close_send), whose end comes back (trailer).
    const closed = new Promise((r) => socket.once('close', r));
    socket.end();
    await closed;
  });
});
