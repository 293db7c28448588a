// Slow and idle clients on every HTTP listener of kas (issue 13, defect 6 and "Also"): slow
// headers, a connection that sends nothing and an idle keep-alive connection are closed at
// read_header_timeout / idle_timeout, while a long response (a watch through the tunnel) that
// stays silent for many times those timeouts is not touched. The clock is shortened through
// kascfg: timeouts of 300 ms against a response silent for 3 s (10x); in production the same
// code paths give 10 s / 1 min against watches of an hour, since no timer runs during a response.
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as net from 'node:net';
import path from 'node:path';
import { runAgentk, type Agentk } from '../../agent/agentk/index';
import { startKas, type Kas } from '../../agent/kas/index';
import { startPrivateApiServer, type PrivateApiServer } from '../../agent/modules/replicas';
import { TestRepository, makeTempDir, testKasConfig, testLogger } from '../kas/helpers';
import { writeKubeconfig } from '../modules/reverse_tunnel/harness';

const CONFIG_PATH = '.gitlab/agents/dev/config.yaml';
const TIMEOUT_MS = 300;
const SILENT_MS = 3_000;
const timeouts = { read_header_timeout: `${TIMEOUT_MS}ms`, idle_timeout: `${TIMEOUT_MS}ms` };

function hostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}

function connect(address: string): Promise<net.Socket> {
  const { host, port } = hostPort(address);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => resolve(socket));
    socket.on('error', () => undefined);
    socket.once('error', reject);
    socket.resume();
  });
}

function closedWithin(socket: net.Socket, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve();
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** An upstream standing in for the Kubernetes API: a watch answers at once, then stays silent for SILENT_MS, sends an event and ends. */
async function startSilentWatchUpstream(): Promise<{ url: string; stop(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (!req.url?.includes('watch=true')) {
      // What agentk asks at start (its cluster's version): answered at once.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"major":"1","minor":"30","gitVersion":"v1.30.0"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"type":"ADDED"}\n');
    const timer = setTimeout(() => res.end('{"type":"MODIFIED"}\n'), SILENT_MS);
    res.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('HTTP listeners: slow headers and idle keep-alive are timed out; long responses are not', function () {
  this.timeout(60_000);
  let temp: ReturnType<typeof makeTempDir>;
  let kas: Kas;
  let agentk: Agentk | undefined;
  let upstream: Awaited<ReturnType<typeof startSilentWatchUpstream>>;
  let userToken: string;
  let agentId: number;
  let privateApi: PrivateApiServer;
  const sockets: net.Socket[] = [];

  before(async () => {
    temp = makeTempDir();
    const repo = new TestRepository(temp.dir);
    repo.commit({ [CONFIG_PATH]: 'user_access:\n  access_as:\n    agent: {}\n  groups:\n    - id: platform\n' });
    const config = testKasConfig(repo.dir, path.join(temp.dir, 'data'), {
      agent: { kubernetes_api: { listen: timeouts } },
      api: { listen: timeouts },
      observability: { listen: timeouts },
    });
    kas = await startKas(config, testLogger());
    agentId = await kas.registry.agentIds.idFor('dev');
    userToken = (await kas.registry.userTokens.create({ kind: 'user', username: 'ada', groups: ['platform'], projects: [] })).token;
    upstream = await startSilentWatchUpstream();
    // Alone (it opens only with redis), with the same timeouts as kascfg's private_api.listen gives it.
    privateApi = await startPrivateApiServer({
      address: '127.0.0.1:0',
      secret: Buffer.alloc(32, 7),
      claimLocalTunnel: async () => undefined,
      timeouts: { readHeaderTimeoutMs: TIMEOUT_MS, idleTimeoutMs: TIMEOUT_MS, maxPendingConnections: 1_000 },
      logger: testLogger(),
    });
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
  });
  after(async () => {
    await agentk?.stop();
    await privateApi.stop();
    await kas.stop();
    await upstream.stop();
    temp.remove();
  });

  const listeners = () => [
    { name: 'k8s proxy', address: new URL(kas.k8sProxyUrl).host },
    { name: 'REST API', address: new URL(kas.apiUrl).host },
    { name: 'observability', address: kas.observabilityAddress },
    { name: 'private API', address: privateApi.address },
  ];

  async function open(address: string): Promise<net.Socket> {
    const socket = await connect(address);
    sockets.push(socket);
    return socket;
  }

  for (const which of ['k8s proxy', 'REST API', 'observability', 'private API']) {
    it(`${which}: closes 20 slow-header sockets (a byte every 100 ms), a silent socket and an idle keep-alive`, async () => {
      const { address } = listeners().find((l) => l.name === which)!;
      const slow = await Promise.all(Array.from({ length: 20 }, () => open(address)));
      const drips = slow.map((socket) => {
        socket.write('GET /api/v1/version HTTP/1.1\r\nHost: kas\r\n');
        return setInterval(() => socket.writable && socket.write('X'), 100);
      });
      const silent = await open(address);
      const keepAlive = await open(address);
      const answered = new Promise<void>((resolve) => keepAlive.once('data', () => resolve()));
      keepAlive.write('GET /liveness HTTP/1.1\r\nHost: kas\r\n\r\n');
      try {
        await answered;
        // Bounds, not waits: each resolves as soon as kas closes the socket.
        await Promise.all([...slow, silent, keepAlive].map((socket) => closedWithin(socket, 15 * TIMEOUT_MS + 2_000)));
      } finally {
        for (const drip of drips) clearInterval(drip);
      }
    });
  }

  it('closes the oldest waiting connection when one arrives while max_pending_connections others wait for their first headers', async () => {
    // A long header deadline: whatever closes early is the cap, not the timer.
    const capped = await startPrivateApiServer({
      address: '127.0.0.1:0',
      secret: Buffer.alloc(32, 7),
      claimLocalTunnel: async () => undefined,
      timeouts: { readHeaderTimeoutMs: 30_000, idleTimeoutMs: 30_000, maxPendingConnections: 3 },
      logger: testLogger(),
    });
    try {
      // One at a time, each seen by the server before the next: the first is the oldest.
      const waiting: net.Socket[] = [];
      for (let i = 0; i < 3; i++) {
        waiting.push(await open(capped.address));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const { host, port } = hostPort(capped.address);
      // Silent strangers hold every place: a real request is still served, at once.
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get({ host, port, path: '/', agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject);
      });
      assert.equal(status, 404);
      await closedWithin(waiting[0]!, 5_000);
      assert.ok(
        waiting.slice(1).every((socket) => !socket.destroyed),
        'the two younger ones are held until their deadline',
      );
      for (const socket of waiting) socket.destroy();
    } finally {
      await capped.stop();
    }
  });

  it('k8s proxy: a watch that stays silent for 10x the timeouts is held to its end', async () => {
    const agentToken = (await kas.registry.agentTokens.create('dev')).token;
    agentk = await runAgentk({
      kasAddress: `grpc://${kas.agentAddress}`,
      token: agentToken,
      kubeconfig: await writeKubeconfig(temp.dir, upstream.url),
      observabilityAddress: '127.0.0.1:0',
      podName: 'agentk-timeouts',
      podNamespace: 'tests',
      logger: testLogger(),
    });
    const deadline = Date.now() + 20_000;
    while (!kas.tunnels.hasIdleTunnel(String(agentId))) {
      if (Date.now() > deadline) throw new Error('agentk did not connect');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const started = Date.now();
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.get(
        `${kas.k8sProxyUrl}api/v1/pods?watch=true`,
        { headers: { authorization: `Bearer pat:${agentId}:${userToken}` }, agent: false },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve(text));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
    });
    assert.match(body, /ADDED[\s\S]*MODIFIED/);
    assert.ok(Date.now() - started >= SILENT_MS - 100);
  });
});
