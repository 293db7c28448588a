// Real parts for the tunnel tests: an upstream HTTP server standing in for the Kubernetes API
// (until a test uses the dev cluster), kas's agent listener + tunnel registry + k8s proxy, and
// agentk pointed at the upstream through a kubeconfig file.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { runAgentk, type Agentk } from '../../../agent/agentk';
import { createLogger, type Logger } from '../../../agent/internal/log';
import { issueServerCertificate, LOOPBACK_HOSTS, type CertificateAuthority } from '../../../agent/internal/tls';
import { createKubernetesApiProxy, type ProxyAuthorization } from '../../../agent/modules/kubernetes_api';
import type { ProxyCredential } from '../../../agent/shared/proxy_credential';
import {
  reverseTunnelService,
  startAgentServer,
  TunnelRegistry,
  type AgentServer,
  type PoolSettings,
} from '../../../agent/modules/reverse_tunnel';
import { httpTunnelUpgrades, startHttpTunnelServer, type HttpTunnelRegistry } from '../../../agent/modules/http_tunnel';
import type { TunnelTransport } from '../../../agent/module/modagent';
import type { AgentProtocol } from '../../../agent/modules/reverse_tunnel/agent/dial';

/** AGENT_PROTOCOL=reference: agentk speaks the reference's agent protocol (agentk --agent-protocol reference), on the gRPC tunnel. */
export const AGENT_PROTOCOL: AgentProtocol = process.env.AGENT_PROTOCOL === 'reference' ? 'reference' : 'workbench';

/** The suites run with agentk on its default, the reverse HTTP/1.1 transport (module http_tunnel); TUNNEL_TRANSPORT=grpc: on the gRPC tunnel alone. */
export const TUNNEL_TRANSPORT: TunnelTransport = process.env.TUNNEL_TRANSPORT === 'grpc' || AGENT_PROTOCOL === 'reference' ? 'grpc' : 'v2';
let currentTransport: TunnelTransport = TUNNEL_TRANSPORT;

/** The transport agentk runs on in the tests of this describe (a suite that runs on both, whatever TUNNEL_TRANSPORT says). */
export function useTunnelTransport(transport: TunnelTransport): void {
  before(() => (currentTransport = transport));
  after(() => (currentTransport = TUNNEL_TRANSPORT));
}
/** Each kas's v2 connections, for waitForIdleTunnels. */
const httpTunnelsOf = new WeakMap<TunnelRegistry, HttpTunnelRegistry>();

export const AGENT_TOKEN = 'agent-token-for-tests';
export const AGENT_ID = '42';
export const USER_TOKEN = 'user-token-for-tests';
export const UPSTREAM_TOKEN = 'upstream-sa-token';

/** Silent unless TEST_LOG_LEVEL is set (the failures these tests provoke log errors on purpose). */
export const quietLogger: Logger = process.env.TEST_LOG_LEVEL
  ? createLogger({}, { level: process.env.TEST_LOG_LEVEL as 'debug' })
  : createLogger({}, { write: () => undefined });

export interface Upstream {
  url: string;
  server: http.Server;
  /** How many times each POST body arrived. */
  posts: Map<string, number>;
  /** The close code and reason of each upstream WebSocket as its 'close' event reports them (the client's, when the client closed first). */
  webSocketCloses: Array<{ code: number; reason: string }>;
  stop(): Promise<void>;
}

/**
 * Echoes requests as JSON (POSTs are counted per body in `posts`); /stream writes a line every
 * 100 ms for 1 s; /watch writes a line every 200 ms until the client leaves; upgrades are WebSocket echo,
 * except the text message `close <code> <reason> after <n>`: n bytes in 64 KiB binary messages, then a close.
 */
export async function startUpstream(): Promise<Upstream> {
  const posts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/stream')) return streamLines(res, 10, 100);
    if (req.url?.startsWith('/watch')) return streamLines(res, Infinity, 200); // until the client leaves
    if (req.url?.startsWith('/status/')) {
      res.writeHead(Number(req.url.slice('/status/'.length)), { 'content-type': 'application/json' });
      res.end('{"kind":"Status","message":"from the cluster"}');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      if (req.method === 'POST') posts.set(body, (posts.get(body) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'upstream=1' });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
    });
  });
  const webSockets = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((req.headers.upgrade ?? '').toLowerCase() === 'websocket') {
      webSockets.handleUpgrade(req, socket, head, (ws) => webSockets.emit('connection', ws, req));
      return;
    }
    // Any other protocol (SPDY/3.1 as older kubectl uses for exec and port-forward): a raw byte echo.
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${req.headers.upgrade ?? ''}\r\n\r\n`);
    if (head.length) socket.write(head);
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
  });
  const webSocketCloses: Upstream['webSocketCloses'] = [];
  webSockets.on('connection', (ws, req) => {
    ws.send(`hello ${req.headers['impersonate-user'] ?? 'agent'}`);
    ws.on('message', (data, isBinary) => {
      const close = isBinary ? null : /^close (\d+) (.*) after (\d+)$/.exec(data.toString());
      if (!close) return ws.send(isBinary ? data : `echo: ${data.toString()}`, { binary: isBinary });
      const chunk = Buffer.alloc(64 * 1024, 'b');
      for (let left = Number(close[3]); left > 0; left -= chunk.length) ws.send(chunk.subarray(0, Math.min(left, chunk.length)));
      ws.close(Number(close[1]), close[2]);
    });
    ws.on('close', (code, reason) => webSocketCloses.push({ code, reason: reason.toString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    posts,
    webSocketCloses,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of webSockets.clients) client.terminate();
        webSockets.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function streamLines(res: http.ServerResponse, count: number, intervalMs: number): void {
  res.writeHead(200, { 'content-type': 'text/plain' });
  let sent = 0;
  const timer = setInterval(() => {
    res.write(`line ${sent} at ${Date.now()}\n`);
    if (++sent === count) {
      clearInterval(timer);
      res.end();
    }
  }, intervalMs);
  res.on('close', () => clearInterval(timer));
}

export async function makeTempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'tunnel-test-'));
}

export interface UpstreamFixture {
  upstream: Upstream;
  dir: string;
  /** A kubeconfig pointing at the upstream, for agentk. */
  kubeconfig: string;
  /** Run (last first) after each test: stop what the test started. */
  cleanups: Array<() => Promise<void>>;
}

/** Mocha hooks for a suite against one upstream: a temp dir, a kubeconfig, per-test cleanups. */
export function useUpstreamFixture(): UpstreamFixture {
  const fixture = { cleanups: [] } as unknown as UpstreamFixture;
  before(async () => {
    fixture.upstream = await startUpstream();
    fixture.dir = await makeTempDir();
    fixture.kubeconfig = await writeKubeconfig(fixture.dir, fixture.upstream.url);
  });
  afterEach(async () => {
    while (fixture.cleanups.length) await fixture.cleanups.pop()!();
  });
  after(async () => {
    await fixture.upstream?.stop();
    if (fixture.dir) await fs.rm(fixture.dir, { recursive: true, force: true });
  });
  return fixture;
}

/** For a describe block: an upstream, a temporary directory and a kubeconfig pointing at the
 * upstream, made before its tests and removed after them. Read the fields inside hooks and tests. */
export function useUpstreamKubeconfig(): { upstream: Upstream; dir: string; kubeconfig: string } {
  const made = {} as { upstream: Upstream; dir: string; kubeconfig: string };
  before(async () => {
    made.upstream = await startUpstream();
    made.dir = await makeTempDir();
    made.kubeconfig = await writeKubeconfig(made.dir, made.upstream.url);
  });
  after(async () => {
    await made.upstream?.stop();
    if (made.dir) await fs.rm(made.dir, { recursive: true, force: true });
  });
  return made;
}

export async function writeKubeconfig(dir: string, server: string, options: { caPem?: string; token?: string } = {}): Promise<string> {
  const file = path.join(dir, 'kubeconfig.yaml');
  const cluster: Record<string, string | boolean> = { server };
  // client-node refuses plain http:// servers unless TLS verification is (vacuously) off.
  if (server.startsWith('http:')) cluster['insecure-skip-tls-verify'] = true;
  if (options.caPem) cluster['certificate-authority-data'] = Buffer.from(options.caPem).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'upstream', cluster }],
    users: [{ name: 'sa', user: { token: options.token ?? UPSTREAM_TOKEN } }],
    contexts: [{ name: 'upstream', context: { cluster: 'upstream', user: 'sa' } }],
    'current-context': 'upstream',
  };
  await fs.writeFile(file, JSON.stringify(config));
  return file;
}

export type AuthorizeUser = (credential: ProxyCredential) => Promise<ProxyAuthorization>;

export const allowAsAgent: AuthorizeUser = async (credential) =>
  credential.token === USER_TOKEN
    ? { allowed: true, accessAs: { agent: {} } }
    : { allowed: false, status: 401, message: 'invalid user token' };

export interface Kas {
  registry: TunnelRegistry;
  /** The reverse HTTP/1.1 connections agentk dialed (transport v2). */
  httpTunnels: HttpTunnelRegistry;
  agentServer: AgentServer;
  /** grpc:// or grpcs:// address of the agent listener. */
  grpcAddress: string;
  /** ws:// or wss:// address of the agent listener. */
  wsAddress: string;
  /** Base URL of the proxy, including its prefix. */
  proxyUrl: string;
  proxyServer: http.Server;
  stop(): Promise<void>;
}

export interface KasOptions {
  tlsCa?: CertificateAuthority;
  authorizeUser?: AuthorizeUser;
  agentWaitTimeoutMs?: number;
  agentAddress?: string;
  maxConnectionAgeMs?: number;
  maxConnectionAgeGraceMs?: number;
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  /** The gRPC tunnel's ping alone, when it should differ from the reverse HTTP/1.1 probe's keepalive*. */
  grpcKeepaliveTimeMs?: number;
  grpcKeepaliveTimeoutMs?: number;
  replayWaitMs?: number;
}

export async function startKas(options: KasOptions = {}): Promise<Kas> {
  const registry = new TunnelRegistry();
  const certificate = options.tlsCa ? issueServerCertificate(options.tlsCa, LOOPBACK_HOSTS) : undefined;
  const authenticateAgent = async (token: string) => (token === AGENT_TOKEN ? { agentId: AGENT_ID, agentName: 'dev' } : undefined);
  // Every kas here takes both transports, as kas does; agentk picks by TUNNEL_TRANSPORT.
  const httpTunnels = startHttpTunnelServer({
    authenticateAgent,
    maxConnectionAgeMs: options.maxConnectionAgeMs,
    maxConnectionAgeGraceMs: options.maxConnectionAgeGraceMs,
    keepaliveTimeMs: options.keepaliveTimeMs,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs,
    agentWaitTimeoutMs: options.agentWaitTimeoutMs ?? 5_000,
    tunnels: registry,
    serverName: 'kas-test',
    logger: quietLogger,
  });
  httpTunnelsOf.set(registry, httpTunnels.registry);
  const agentServer = await startAgentServer({
    address: options.agentAddress ?? '127.0.0.1:0',
    tls: certificate,
    maxConnectionAgeMs: options.maxConnectionAgeMs,
    maxConnectionAgeGraceMs: options.maxConnectionAgeGraceMs,
    keepaliveTimeMs: options.grpcKeepaliveTimeMs ?? options.keepaliveTimeMs,
    keepaliveTimeoutMs: options.grpcKeepaliveTimeoutMs ?? options.keepaliveTimeoutMs,
    services: [reverseTunnelService({ registry, authenticateAgent, logger: quietLogger })],
    upgrades: httpTunnelUpgrades(httpTunnels),
    logger: quietLogger,
  });
  const proxy = createKubernetesApiProxy({
    tunnels: registry,
    authorizeUser: options.authorizeUser ?? allowAsAgent,
    agentWaitTimeoutMs: options.agentWaitTimeoutMs ?? 5_000,
    replayWaitMs: options.replayWaitMs,
    serverName: 'kas-test',
    logger: quietLogger,
    directRoute: httpTunnels.route,
  });
  const proxyServer = certificate
    ? https.createServer({ cert: certificate.certPem, key: certificate.keyPem }, proxy)
    : http.createServer(proxy);
  proxyServer.on('upgrade', proxy.handleUpgrade);
  await new Promise<void>((resolve) => proxyServer.listen(0, '127.0.0.1', () => resolve()));
  const secure = Boolean(certificate);
  return {
    registry,
    httpTunnels: httpTunnels.registry,
    agentServer,
    grpcAddress: `${secure ? 'grpcs' : 'grpc'}://${agentServer.address}`,
    wsAddress: `${secure ? 'wss' : 'ws'}://${agentServer.address}/agentk-ws`,
    proxyUrl: `${secure ? 'https' : 'http'}://127.0.0.1:${(proxyServer.address() as AddressInfo).port}/k8s-proxy`,
    proxyServer,
    stop: async () => {
      proxyServer.closeAllConnections();
      await new Promise<void>((resolve) => proxyServer.close(() => resolve()));
      await agentServer.stop();
      httpTunnels.close();
      registry.close();
    },
  };
}

export interface AgentkStartOptions {
  kasAddress: string;
  kubeconfig: string;
  caFile?: string;
  token?: string;
  poolSettings?: Partial<PoolSettings>;
  tunnelTransport?: TunnelTransport;
  agentProtocol?: AgentProtocol;
}

export function startAgentk(options: AgentkStartOptions): Promise<Agentk> {
  return runAgentk({
    kasAddress: options.kasAddress,
    token: options.token ?? AGENT_TOKEN,
    kubeconfig: options.kubeconfig,
    caFile: options.caFile,
    observabilityAddress: '127.0.0.1:0',
    podName: 'agentk-test',
    podNamespace: 'tests',
    poolSettings: options.poolSettings,
    tunnelTransport: options.tunnelTransport ?? currentTransport,
    agentProtocol: options.agentProtocol ?? AGENT_PROTOCOL,
    logger: quietLogger,
  });
}

/**
 * Resolves once the registry holds at least `count` idle tunnels for the test agent. With `child`
 * (an agentk process), fails as soon as that process exits: it will never dial.
 */
export async function waitForIdleTunnels(registry: TunnelRegistry, count = 1, timeoutMs = 15_000, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const httpTunnels = currentTransport === 'v2' ? httpTunnelsOf.get(registry) : undefined;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(`agentk exited (${child.exitCode ?? child.signalCode}) before it had ${count} idle tunnels`);
    const idle = registry.counts().find((c) => c.agentId === AGENT_ID)?.idle ?? 0;
    if (idle >= count) return waitForHttpTunnel(httpTunnels);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no ${count} idle tunnels within ${timeoutMs} ms`);
}

/**
 * On v2, also the first reverse HTTP/1.1 connection (requests go over it from then on), for a
 * bounded while: clients that are not our agentk (a stock grpc-js client, agentk behind an HTTP
 * proxy, an agentk process of its own) never open one, and their tests use the gRPC tunnel.
 */
async function waitForHttpTunnel(httpTunnels: HttpTunnelRegistry | undefined, graceMs = 3_000): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (httpTunnels && Date.now() < deadline) {
    if ((httpTunnels.counts().find((c) => c.agentId === AGENT_ID)?.idle ?? 0) >= 1) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface FetchResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A plain node:http(s) request (no fetch: it pools and buffers in ways that hide behaviour). */
export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; ca?: string; agent?: http.Agent } = {},
): Promise<FetchResult> {
  const target = new URL(url);
  const mod = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      target,
      { method: options.method ?? 'GET', headers: options.headers, ca: options.ca, agent: options.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

export const userAuth = (token = USER_TOKEN) => ({ authorization: `Bearer pat:${AGENT_ID}:${token}` });

/**
 * agentk as its own process (the command line), for faults an in-process agentk cannot show (kill -9, SIGSTOP).
 * Its observability listener takes a free port unless the args name one: the command's default,
 * :8080, is often taken on a shared machine (a local pair, a dev server), and agentk exits on EADDRINUSE.
 */
export function spawnAgentk(args: string[], podName = 'agentk-pod-1'): ChildProcess {
  const transport = args.includes('--tunnel-transport') ? [] : ['--tunnel-transport', currentTransport];
  const observability = args.some((arg) => arg.startsWith('--observability-listen-address'))
    ? []
    : ['--observability-listen-address', '127.0.0.1:0'];
  const protocol =
    args.includes('--agent-protocol') || AGENT_PROTOCOL === 'workbench' || currentTransport === 'v2'
      ? []
      : ['--agent-protocol', AGENT_PROTOCOL];
  return spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, '../../../agent/cmd/agentk.ts'), ...transport, ...protocol, ...observability, ...args],
    {
      env: { ...process.env, POD_NAME: podName, POD_NAMESPACE: 'agents' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
}

/** Stops a child process (resuming it first if a test stopped it) and waits for its exit. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  await exited;
}
