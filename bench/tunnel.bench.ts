// Benchmark: the Kubernetes API path through kas and agentk against its peers.
// Upstream: a local node:http server answering GET /api/v1/pods with a fixed ~50-pod PodList
// (not the dev cluster, so that the path is what is measured), and /logs streaming bytes as
// `logs -f` would. Paths: (a) direct, (b) `kubectl proxy` (real kubectl, a kubeconfig pointing at
// the upstream), (c) kas + agentk over grpc:// and (c') over ws:// (the loopback WebSocket bridge).
// Every server is its own process (this file, spawned with a role), as in a deployment; the load
// generator (autocannon) runs in this process. The proxy listener is plain HTTP on loopback.
// The server roles run from a bundle of this file built at start (bench_processes.ts), not through
// tsx: tsx's loader thread and on-the-fly compilation showed in their profiles.
// Run alone: npx tsx bench/tunnel.bench.ts
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { runAgentk } from '../agent/agentk';
import { createLogger } from '../agent/internal/log';
import { Pool } from 'undici';
import { startLayoutBack, startLayoutFront, type BackUpstream, type KasLayout } from './experiments/kas_layouts';
import { bundleRoles, cpuMs, KAS_PROCESS_ENV, profileArgs, startBenchKas } from './bench_processes';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
}
// autocannon ships no types; this is the slice of its API the bench uses.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (options: {
  url: string;
  connections: number;
  duration: number;
  headers: Record<string, string>;
}) => Promise<AutocannonResult>;

const ROLE_ENV = 'TUNNEL_BENCH_ROLE';
const AGENT_TOKEN = 'bench-agent-token';
const AGENT_ID = '1';
export const USER_HEADER = { authorization: `Bearer pat:${AGENT_ID}:bench-user-token` };
const DURATION_S = 3;
const LOG_MB = 100;
/** TUNNEL_BENCH_QUICK=1: direct, kubectl proxy and grpc:// only, no streaming (for profiling rounds). */
const QUICK = process.env.TUNNEL_BENCH_QUICK === '1';
/** TUNNEL_BENCH_STREAM=1: only the logs -f figure, direct / v2 over tcp / grpc:// alternating, medians of ROUNDS. */
const STREAM_ONLY = process.env.TUNNEL_BENCH_STREAM === '1';
/** TUNNEL_BENCH_LAYOUTS=1: also the bare kas-side client layouts of bench/experiments/kas_layouts.ts. */
const LAYOUTS = process.env.TUNNEL_BENCH_LAYOUTS === '1';
/**
 * TUNNEL_BENCH_BASELINE=<dir>: another checkout of the project (`git archive main` unpacked, its
 * node_modules linked); its kas and agentk run v2 as rows (e0) and (e0') of the same run, so a
 * change is measured before and after under the same load.
 */
const BASELINE = process.env.TUNNEL_BENCH_BASELINE;

export interface Children {
  processes: ChildProcess[];
}

// ---------------------------------------------------------------- roles (child processes)

export function podList(count: number): string {
  const items = Array.from({ length: count }, (_, i) => ({
    metadata: {
      name: `web-${i}-7d4b9c8f5-x${i}q2z`,
      namespace: 'default',
      uid: `0b6f${i}-uid`,
      resourceVersion: String(1000 + i),
      labels: { app: 'web', 'pod-template-hash': '7d4b9c8f5' },
      creationTimestamp: '2026-01-01T00:00:00Z',
    },
    spec: {
      nodeName: 'node-1',
      containers: [
        {
          name: 'web',
          image: 'nginx:1.27',
          ports: [{ containerPort: 80, protocol: 'TCP' }],
          resources: { requests: { cpu: '100m', memory: '64Mi' } },
        },
      ],
    },
    status: {
      phase: 'Running',
      podIP: `10.0.0.${i}`,
      hostIP: '192.168.1.10',
      startTime: '2026-01-01T00:00:01Z',
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: 'web', ready: true, restartCount: 0, image: 'nginx:1.27' }],
    },
  }));
  return JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '2000' }, items });
}

async function runUpstreamRole(): Promise<void> {
  const body = Buffer.from(podList(50));
  const chunk = Buffer.alloc(16 * 1024, 'log line of a busy container\n');
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/logs')) {
      const total = Number(new URL(req.url, 'http://x').searchParams.get('mb') ?? '10') * 1024 * 1024;
      res.writeHead(200, { 'content-type': 'text/plain' });
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  report({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, podListBytes: body.length });
}

async function runKasRole(): Promise<void> {
  const authenticateAgent = async (t: string) => (t === AGENT_TOKEN ? { agentId: AGENT_ID, agentName: 'bench' } : undefined);
  // kas takes both transports, as the kas module list does; agentk's TUNNEL_BENCH_TRANSPORT picks.
  const kas = await startBenchKas(authenticateAgent);
  const waitForAgent = async () => {
    const v2 = process.env.TUNNEL_BENCH_TRANSPORT === 'v2';
    const ready = () => (kas.tunnels.counts()[0]?.idle ?? 0) >= 2 && (!v2 || (kas.httpTunnels.registry.counts()[0]?.idle ?? 0) >= 2);
    while (!ready()) await new Promise((r) => setTimeout(r, 20));
  };
  process.on('message', (message) => {
    if (message === 'wait-agent') void waitForAgent().then(() => process.send?.('agent-ready'));
  });
  report({ agentAddress: kas.agentAddress, proxyUrl: kas.proxyUrl });
}

// The floor of the tunnel's process layout in Node, a peer for (c): two bare relays with nothing
// of the tunnel in them (no protocol messages, pool, auth, metrics, error handling). The front
// (kas's place) takes the HTTP/1.1 request and sends it down one HTTP/2 stream per request to the
// back (agentk's place), which sends it upstream with undici, as agentk does, and streams the
// answer back. One difference: here the front opens the streams, in the tunnel agentk does (a
// client stream costs about as much as a server one, /proc figures of both ends are reported).
async function runFloorBackRole(): Promise<void> {
  const upstream = new Pool(process.env.FLOOR_UPSTREAM!, { connections: null });
  const server = http2.createServer({ maxSessionMemory: 256 });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {}); // a client that left; nothing to keep
    const path = headers[':path'] ?? '/';
    upstream.dispatch(
      { method: 'GET', path, headers: { accept: headers['accept'] ?? '*/*' } },
      {
        onConnect() {},
        onHeaders(status, rawHeaders, resume) {
          stream.on('drain', resume); // undici waits after an onData that returned false
          const out: http2.OutgoingHttpHeaders = { ':status': status };
          for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
            const name = rawHeaders[i]!.toString().toLowerCase();
            if (name === 'content-type' || name === 'content-length') out[name] = rawHeaders[i + 1]!.toString();
          }
          stream.respond(out);
          return true;
        },
        onData(chunk) {
          return stream.write(chunk);
        },
        onComplete() {
          stream.end();
        },
        onError(err) {
          process.stderr.write(`floor back: ${String(err)}\n`);
          stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        },
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  report({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

async function runFloorFrontRole(): Promise<void> {
  const session = http2.connect(process.env.FLOOR_BACK!, { maxSessionMemory: 256 });
  const server = http.createServer((req, res) => {
    const stream = session.request({ ':method': 'GET', ':path': req.url ?? '/', accept: req.headers.accept ?? '*/*' }, { endStream: true });
    stream.on('response', (headers) => {
      res.writeHead(Number(headers[':status']), {
        'content-type': String(headers['content-type'] ?? ''),
        'content-length': String(headers['content-length'] ?? ''),
      });
      stream.pipe(res);
    });
    stream.on('error', () => res.destroy());
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  report({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

async function runLayoutFrontRole(): Promise<void> {
  report(await startLayoutFront(process.env.LAYOUT as KasLayout));
}

async function runLayoutBackRole(): Promise<void> {
  await startLayoutBack(
    process.env.LAYOUT_FRONT!,
    process.env.LAYOUT_UPSTREAM!,
    (process.env.LAYOUT_BACK_UPSTREAM ?? 'undici') as BackUpstream,
  );
  report({ connected: true });
}

async function runAgentkRole(): Promise<void> {
  await runAgentk({
    kasAddress: process.env.KAS_ADDRESS!,
    token: AGENT_TOKEN,
    kubeconfig: process.env.BENCH_KUBECONFIG!,
    observabilityAddress: null,
    tunnelTransport: process.env.TUNNEL_BENCH_TRANSPORT === 'v2' ? 'v2' : 'grpc',
    logger: createLogger({}, { level: 'error' }),
  });
  report({ started: true });
}

function report(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

// ---------------------------------------------------------------- orchestration

/** Set by prepareRoles(): the bundle of this file the roles run from. */
let rolesBundle = '';
/** The baseline checkout's roles bundle (TUNNEL_BENCH_BASELINE). */
let baselineBundle = '';

/** The baseline checkout's roles bundle, once prepareRoles() built it (TUNNEL_BENCH_BASELINE); '' without one. */
export function baselineRoles(): string {
  return baselineBundle;
}

/** Bundles this file's roles; run() and other benches that start its paths call it first. */
export function prepareRoles(): void {
  rolesBundle = bundleRoles(__filename, 'tunnel_bench_roles');
  if (BASELINE) baselineBundle = bundleRoles(path.join(BASELINE, 'bench', 'tunnel.bench.ts'), 'tunnel_bench_roles_baseline');
}

export function spawnRole<T>(
  children: Children,
  role: string,
  env: Record<string, string> = {},
  bundle = rolesBundle,
): Promise<{ child: ChildProcess; info: T }> {
  const child = spawn(process.execPath, [...profileArgs(), bundle], {
    env: { ...process.env, ...env, [ROLE_ENV]: role },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  children.processes.push(child);
  return firstLine(child, role).then((line) => ({ child, info: JSON.parse(line) as T }));
}

export function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve(line));
    child.once('exit', (code) => reject(new Error(`${what} exited early (${code})`)));
  });
}

export async function startKubectlProxy(children: Children, kubeconfig: string, pids: Map<string, TunnelProcesses>): Promise<string> {
  const child = spawn('kubectl', ['proxy', '--port=0', '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.processes.push(child);
  const line = await firstLine(child, 'kubectl proxy');
  const match = /127\.0\.0\.1:(\d+)/.exec(line);
  if (!match) throw new Error(`unexpected kubectl proxy output: ${line}`);
  const url = `http://127.0.0.1:${match[1]}`;
  pids.set(url, { kas: child.pid!, agentk: NaN }); // one process: its CPU reads in the kas column
  return url;
}

interface LoadResult {
  rps: number;
  /** Milliseconds; autocannon's histogram has whole-millisecond resolution. */
  p50: number;
  p99: number;
  errors: number;
  /** Requests completed in the measured run. */
  requests: number;
}

async function warmUp(url: string, connections: number, headers: Record<string, string> = {}): Promise<void> {
  await autocannon({ url, connections, duration: 1, headers }); // pools, JIT
}

async function load(url: string, connections: number, headers: Record<string, string> = {}): Promise<LoadResult> {
  await warmUp(url, connections, headers);
  return measureLoad(url, connections, headers);
}

async function measureLoad(url: string, connections: number, headers: Record<string, string>): Promise<LoadResult> {
  const result = await autocannon({ url, connections, duration: DURATION_S, headers });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
    requests: result.requests.total,
  };
}

interface LatencyResult {
  p50: number;
  p99: number;
  /** Requests sent, the warm-up included (the CPU per request figure covers them too). */
  requests: number;
}

const LATENCY_SAMPLES = 1000;
const LATENCY_WARM_UP = 100;

/**
 * Sub-millisecond latency at 1 connection: autocannon rounds to whole milliseconds, so its p50
 * reads 0 ms for every path here. Sequential GETs on one keep-alive connection, each timed with
 * hrtime from request to the end of the body.
 */
export async function sequentialLatency(url: string, headers: Record<string, string> = {}): Promise<LatencyResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const once = () =>
    new Promise<number>((resolve, reject) => {
      const started = process.hrtime.bigint();
      http
        .get(url, { agent, headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(Number(process.hrtime.bigint() - started) / 1e6));
          res.on('error', reject);
        })
        .on('error', reject);
    });
  try {
    for (let i = 0; i < LATENCY_WARM_UP; i++) await once();
    const samples: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) samples.push(await once());
    samples.sort((a, b) => a - b);
    const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
    return { p50: at(0.5), p99: at(0.99), requests: LATENCY_WARM_UP + LATENCY_SAMPLES };
  } finally {
    agent.destroy();
  }
}

function measureStream(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    let bytes = 0;
    http
      .get(url, { headers, agent: false }, (res) => {
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve(bytes / (1024 * 1024) / (Number(process.hrtime.bigint() - started) / 1e9)));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

export function writeKubeconfig(dir: string, server: string): string {
  const file = path.join(dir, 'kubeconfig.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'bench',
      clusters: [{ name: 'bench', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'bench', user: { token: 'upstream-token' } }],
      contexts: [{ name: 'bench', context: { cluster: 'bench', user: 'bench' } }],
    }),
  );
  return file;
}

/** kas and agentk process ids of a tunnel path, for CPU per request. */
export interface TunnelProcesses {
  kas: number;
  agentk: number;
}

interface CpuPerRequest {
  kasMs: number;
  agentkMs: number;
}

/** Runs a measurement and divides the CPU kas and agentk spent during it by its request count. */
async function withCpu<T>(
  processes: TunnelProcesses | undefined,
  measure: () => Promise<T & { requests: number }>,
): Promise<{ result: T; cpu?: CpuPerRequest }> {
  if (!processes) return { result: await measure() };
  const before = [cpuMs(processes.kas), cpuMs(processes.agentk)];
  const result = await measure();
  const after = [cpuMs(processes.kas), cpuMs(processes.agentk)];
  return { result, cpu: { kasMs: (after[0]! - before[0]!) / result.requests, agentkMs: (after[1]! - before[1]!) / result.requests } };
}

/**
 * `agentAddressVia`: where agentk dials instead of kas's agent listener (the wide-area bench's
 * delay relay in front of it). `bundle`: the roles bundle kas and agentk run from (the baseline's).
 */
export async function startTunnel(
  children: Children,
  kubeconfig: string,
  scheme: 'grpc' | 'ws',
  pids: Map<string, TunnelProcesses>,
  transport: 'grpc' | 'v2' = 'grpc',
  agentAddressVia: (agentAddress: string) => Promise<string> = async (address) => address,
  bundle = rolesBundle,
): Promise<string> {
  const env = { TUNNEL_BENCH_TRANSPORT: transport };
  const kas = await spawnRole<{ agentAddress: string; proxyUrl: string }>(children, 'kas', { ...env, ...KAS_PROCESS_ENV }, bundle);
  const dialed = await agentAddressVia(kas.info.agentAddress);
  const kasAddress = scheme === 'grpc' ? `grpc://${dialed}` : `ws://${dialed}/agentk-ws`;
  const agentk = await spawnRole(children, 'agentk', { ...env, KAS_ADDRESS: kasAddress, BENCH_KUBECONFIG: kubeconfig }, bundle);
  pids.set(kas.info.proxyUrl, { kas: kas.child.pid!, agentk: agentk.child.pid! });
  await new Promise<void>((resolve) => {
    kas.child.once('message', () => resolve());
    kas.child.send('wait-agent');
  });
  return kas.info.proxyUrl;
}

async function startFloor(children: Children, upstreamUrl: string, pids: Map<string, TunnelProcesses>): Promise<string> {
  const back = await spawnRole<{ url: string }>(children, 'floor-back', { FLOOR_UPSTREAM: upstreamUrl });
  const front = await spawnRole<{ url: string }>(children, 'floor-front', { FLOOR_BACK: back.info.url });
  pids.set(front.info.url, { kas: front.child.pid!, agentk: back.child.pid! });
  return front.info.url;
}

export async function startLayout(
  children: Children,
  upstreamUrl: string,
  layout: KasLayout,
  pids: Map<string, TunnelProcesses>,
  backUpstream: BackUpstream = 'undici',
): Promise<string> {
  const front = await spawnRole<{ url: string; agentAddress: string }>(children, 'layout-front', { LAYOUT: layout });
  const back = await spawnRole(children, 'layout-back', {
    LAYOUT_FRONT: front.info.agentAddress,
    LAYOUT_UPSTREAM: upstreamUrl,
    LAYOUT_BACK_UPSTREAM: backUpstream,
  });
  pids.set(front.info.url, { kas: front.child.pid!, agentk: back.child.pid! });
  return front.info.url;
}

const fmt = (n: number, digits = 0) => n.toFixed(digits);

/** The logs -f figure alone: one LOG_MB MiB response per path and round, the paths alternating within each round. */
async function runStreamOnly(): Promise<string> {
  const loadAtStart = os.loadavg();
  const children: Children = { processes: [] };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunnel-bench-'));
  const pids = new Map<string, TunnelProcesses>();
  try {
    const upstream = await spawnRole<{ url: string; podListBytes: number }>(children, 'upstream');
    const kubeconfig = writeKubeconfig(dir, upstream.info.url);
    const paths = [
      { name: 'direct', url: upstream.info.url, headers: {} },
      { name: 'v2 over tcp', url: await startTunnel(children, kubeconfig, 'grpc', pids, 'v2'), headers: USER_HEADER },
      { name: 'grpc://', url: await startTunnel(children, kubeconfig, 'grpc', pids), headers: USER_HEADER },
    ];
    const figures = new Map<string, number[]>(paths.map((p) => [p.name, []]));
    const cpu = new Map<string, CpuPerRequest[]>(paths.map((p) => [p.name, []]));
    for (const p of paths.slice(1)) await measureStream(`${p.url}/logs?mb=10`, USER_HEADER); // warm-up of the tunnels' code paths
    for (let round = 0; round < ROUNDS; round++) {
      for (const p of paths) {
        // CPU per 100 MiB: holds up under the machine's load better than MB/s does.
        const measured = await withCpu(pids.get(p.url), async () => ({
          mbps: await measureStream(`${p.url}/logs?mb=${LOG_MB}`, p.headers),
          requests: LOG_MB / 100,
        }));
        figures.get(p.name)!.push(measured.result.mbps);
        if (measured.cpu) cpu.get(p.name)!.push(measured.cpu);
      }
    }
    const loadAtEnd = os.loadavg();
    const med = (name: string) => median(figures.get(name)!);
    const each = (name: string) => {
      const used = cpu.get(name)!;
      const cpuText = used.length
        ? `, CPU per 100 MiB kas ${fmt(median(used.map((c) => c.kasMs)))} ms + agentk ${fmt(median(used.map((c) => c.agentkMs)))} ms`
        : '';
      return `${fmt(med(name))} MB/s (runs ${figures
        .get(name)!
        .map((n) => fmt(n))
        .join(', ')}${cpuText})`;
    };
    return [
      `logs -f style streaming, one ${LOG_MB} MiB response, medians of ${ROUNDS} rounds (paths alternating in each round); ` +
        `load average ${loadAtStart.map((l) => l.toFixed(1)).join(' / ')} at the start, ${loadAtEnd.map((l) => l.toFixed(1)).join(' / ')} at the end:`,
      `- direct ${each('direct')}`,
      `- v2 over tcp ${each('v2 over tcp')}: ${(med('v2 over tcp') / med('direct')).toFixed(2)}× direct`,
      `- grpc:// ${each('grpc://')}: ${(med('grpc://') / med('direct')).toFixed(2)}× direct`,
    ].join('\n');
  } finally {
    for (const child of children.processes) child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export default async function run(): Promise<string> {
  prepareRoles();
  if (STREAM_ONLY) return runStreamOnly();
  const loadAtStart = os.loadavg();
  const children: Children = { processes: [] };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunnel-bench-'));
  const pids = new Map<string, TunnelProcesses>();
  try {
    const upstream = await spawnRole<{ url: string; podListBytes: number }>(children, 'upstream');
    const kubeconfig = writeKubeconfig(dir, upstream.info.url);
    const paths: Array<{ name: string; url: string; headers?: Record<string, string> }> = [
      { name: '(a) direct', url: upstream.info.url },
      { name: '(b) kubectl proxy', url: await startKubectlProxy(children, kubeconfig, pids) },
      { name: '(c) kas + agentk, grpc://', url: await startTunnel(children, kubeconfig, 'grpc', pids), headers: USER_HEADER },
      { name: "(c') kas + agentk, ws://", url: await startTunnel(children, kubeconfig, 'ws', pids), headers: USER_HEADER },
    ].slice(0, QUICK ? 3 : 4);
    // Each baseline row right after this build's: both see about the same load.
    for (const [scheme, name, baselineName] of [
      ['grpc', '(e) kas + agentk, v2 (reverse HTTP/1.1) over tcp', '(e0) baseline (%s), v2 over tcp'],
      ['ws', "(e') kas + agentk, v2 over ws:// (HTTP/1.1 upgrade)", "(e0') baseline (%s), v2 over ws://"],
    ] as const) {
      paths.push({ name, url: await startTunnel(children, kubeconfig, scheme, pids, 'v2'), headers: USER_HEADER });
      if (!BASELINE) continue;
      paths.push({
        name: baselineName.replace('%s', BASELINE),
        url: await startTunnel(children, kubeconfig, scheme, pids, 'v2', undefined, baselineBundle),
        headers: USER_HEADER,
      });
    }
    paths.push({
      name: '(d) floor: two bare Node relays (HTTP/2 stream per request, undici)',
      url: await startFloor(children, upstream.info.url, pids),
    });
    if (LAYOUTS) {
      for (const [layout, what] of [
        ['undici', 'undici Client on the dialed-in socket'],
        ['http', 'node:http Agent, createConnection'],
        ['raw', 'hand-written request head, native llhttp'],
      ] as const) {
        paths.push({
          name: `(f) bare reverse HTTP/1.1 pair, kas side: ${what}`,
          url: await startLayout(children, upstream.info.url, layout, pids),
        });
      }
    }
    const rows: BenchRow[] = [];
    // TUNNEL_BENCH_PATHS=<regex>: measure only the paths whose name matches (profiling rounds).
    const only = process.env.TUNNEL_BENCH_PATHS ? new RegExp(process.env.TUNNEL_BENCH_PATHS) : undefined;
    const measured = paths.filter((each) => !only || only.test(each.name));
    // Rounds outside, paths inside: load from other work on the machine drifts over minutes, and
    // a path measured all at once would take its own share of it; this way each round of every
    // path sees about the same.
    const runs = measured.map((): BenchRow[] => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, p] of measured.entries()) {
        process.stderr.write(`tunnel bench: round ${round + 1}, ${p.name}\n`);
        const url = `${p.url}/api/v1/pods`;
        const processes = pids.get(p.url);
        const c1 = await load(url, 1, p.headers);
        await warmUp(url, 50, p.headers);
        const c50 = await withCpu(processes, () => measureLoad(url, 50, p.headers ?? {}));
        const latency = await withCpu(processes, () => sequentialLatency(url, p.headers));
        runs[i]!.push({ name: p.name, c1, c50: c50.result, latency: latency.result, cpu50: c50.cpu, cpuSequential: latency.cpu });
      }
    }
    rows.push(...runs.map(medianRow));
    const v2Path = paths.find((p) => p.name.startsWith('(e)'))!;
    const stream = QUICK
      ? { direct: NaN, tunnel: NaN, ws: NaN, v2: NaN }
      : {
          direct: await measureStream(`${paths[0]!.url}/logs?mb=${LOG_MB}`),
          tunnel: await measureStream(`${paths[2]!.url}/logs?mb=${LOG_MB}`, USER_HEADER),
          ws: await measureStream(`${paths[3]!.url}/logs?mb=${LOG_MB}`, USER_HEADER),
          v2: await measureStream(`${v2Path.url}/logs?mb=${LOG_MB}`, USER_HEADER),
        };
    return formatSection(rows, stream, upstream.info.podListBytes, loadAtStart);
  } finally {
    for (const child of children.processes) child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Each path is measured this many times (all cells); the table shows the medians. */
const ROUNDS = Number(process.env.TUNNEL_BENCH_ROUNDS ?? '3');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The median of each figure over the rounds (figure by figure, not the median round). */
function medianRow(runs: BenchRow[]): BenchRow {
  const m = (pick: (r: BenchRow) => number) => median(runs.map(pick));
  const load = (pick: (r: BenchRow) => LoadResult): LoadResult => ({
    rps: median(runs.map((r) => pick(r).rps)),
    p50: median(runs.map((r) => pick(r).p50)),
    p99: median(runs.map((r) => pick(r).p99)),
    errors: runs.reduce((sum, r) => sum + pick(r).errors, 0),
    requests: median(runs.map((r) => pick(r).requests)),
  });
  const cpu = (pick: (r: BenchRow) => CpuPerRequest | undefined): CpuPerRequest | undefined =>
    runs[0] && pick(runs[0])
      ? { kasMs: median(runs.map((r) => pick(r)!.kasMs)), agentkMs: median(runs.map((r) => pick(r)!.agentkMs)) }
      : undefined;
  return {
    name: runs[0]!.name,
    c1: load((r) => r.c1),
    c50: load((r) => r.c50),
    latency: { p50: m((r) => r.latency.p50), p99: m((r) => r.latency.p99), requests: runs[0]!.latency.requests },
    cpu50: cpu((r) => r.cpu50),
    cpuSequential: cpu((r) => r.cpuSequential),
  };
}

interface BenchRow {
  name: string;
  c1: LoadResult;
  c50: LoadResult;
  latency: LatencyResult;
  cpu50?: CpuPerRequest;
  cpuSequential?: CpuPerRequest;
}

function formatSection(
  rows: BenchRow[],
  stream: { direct: number; tunnel: number; ws: number; v2: number },
  bytes: number,
  load: number[],
): string {
  const named = (prefix: string) => rows.find((r) => r.name.startsWith(prefix));
  const [direct, kubectl, tunnel] = [named('(a)'), named('(b)'), named('(c)')];
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const lines = [
    '## Kubernetes API through the tunnel (kas + agentk) vs direct and kubectl proxy',
    '',
    `Upstream: a local node:http server answering GET /api/v1/pods with a fixed 50-pod PodList (${(bytes / 1024).toFixed(1)} KiB), not the dev cluster, so the path is measured. ` +
      `Each server runs in its own process; autocannon runs ${DURATION_S} s per cell after a 1 s warm-up; every path is measured ${ROUNDS} times and each figure is the median. Proxy listener: plain HTTP on loopback. ` +
      `Load average at the start: ${load.map((l) => l.toFixed(1)).join(' / ')} (other work on the machine skews every figure alike).`,
    '',
    `p50/p99 @1: ${LATENCY_SAMPLES} sequential requests on one keep-alive connection, timed with hrtime (sub-millisecond); @50: autocannon's histogram (whole milliseconds).`,
    '',
    '| path | req/s @1 | p50 @1 | p99 @1 | req/s @50 | p50 @50 | p99 @50 | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${fmt(r.c1.rps)} | ${fmt(r.latency.p50, 3)} ms | ${fmt(r.latency.p99, 3)} ms | ${fmt(r.c50.rps)} | ${r.c50.p50} ms | ${r.c50.p99} ms | ${r.c1.errors + r.c50.errors} |`,
    ),
    '',
  ];
  if (direct && kubectl && tunnel) {
    lines.push(
      `Ratios (requests/s): (c)/(a) ${ratio(tunnel.c1.rps, direct.c1.rps)} at 1 connection, ${ratio(tunnel.c50.rps, direct.c50.rps)} at 50; ` +
        `(c)/(b) ${ratio(tunnel.c1.rps, kubectl.c1.rps)} at 1, ${ratio(tunnel.c50.rps, kubectl.c50.rps)} at 50. ` +
        `p50 added by the tunnel at 1 connection: ${(tunnel.latency.p50 - direct.latency.p50).toFixed(3)} ms over direct ` +
        `(kubectl proxy adds ${(kubectl.latency.p50 - direct.latency.p50).toFixed(3)} ms).`,
      '',
    );
  }
  const floor = rows.find((r) => r.name.startsWith('(d)'));
  if (floor && kubectl && tunnel) {
    lines.push(
      `The floor of this process layout in Node, (d): (c)/(d) ${ratio(tunnel.c1.rps, floor.c1.rps)} at 1 connection, ${ratio(tunnel.c50.rps, floor.c50.rps)} at 50; ` +
        `(d)/(b) ${ratio(floor.c1.rps, kubectl.c1.rps)} at 1, ${ratio(floor.c50.rps, kubectl.c50.rps)} at 50 ` +
        `(two Node hops with an HTTP/2 stream per request, before any tunnel logic, against kubectl proxy's one Go hop).`,
      '',
    );
  }
  const cpuRows = rows.filter((r) => r.cpu50 && r.cpuSequential);
  if (cpuRows.length > 0) {
    const cell = (c: CpuPerRequest, row: BenchRow) =>
      row === floor
        ? `front ${fmt(c.kasMs, 3)} ms, back ${fmt(c.agentkMs, 3)} ms`
        : row === kubectl
          ? `kubectl ${fmt(c.kasMs, 3)} ms`
          : `kas ${fmt(c.kasMs, 3)} ms, agentk ${fmt(c.agentkMs, 3)} ms (sum ${fmt(c.kasMs + c.agentkMs, 3)} ms)`;
    lines.push(
      'CPU per request (utime+stime from /proc, during the measured runs; 10 ms ticks, so read them as ±0.01 ms):',
      '',
      '| path | sequential (the p50/p99 @1 run) | 50 connections |',
      '| --- | --- | --- |',
      ...cpuRows.map((r) => `| ${r.name} | ${cell(r.cpuSequential!, r)} | ${cell(r.cpu50!, r)} |`),
      '',
    );
  }
  const v2 = rows.find((r) => r.name.startsWith('(e)'));
  const v2ws = rows.find((r) => r.name.startsWith("(e')"));
  if (v2 && v2ws && kubectl) {
    const cpuSum = (r: BenchRow) => (r.cpu50 ? r.cpu50.kasMs + r.cpu50.agentkMs : NaN);
    lines.push(
      `Transport v2 (reverse HTTP/1.1, module http_tunnel) against kubectl proxy, requests/s: (e)/(b) ${ratio(v2.c1.rps, kubectl.c1.rps)} at 1 connection (target ≥ 1.0×), ` +
        `${ratio(v2.c50.rps, kubectl.c50.rps)} at 50 (target ≥ 1.2×); kas+agentk CPU per request at 50: ${fmt(cpuSum(v2), 3)} ms against kubectl proxy's ${fmt(kubectl.cpu50?.kasMs ?? NaN, 3)} ms (target ≤). ` +
        `v2 over ws:// against over tcp: ${ratio(v2ws.c1.rps, v2.c1.rps)} at 1, ${ratio(v2ws.c50.rps, v2.c50.rps)} at 50 (target ≥ 0.8×). ` +
        `p50 added at 1 connection over direct: ${(v2.latency.p50 - (direct?.latency.p50 ?? NaN)).toFixed(3)} ms.`,
      '',
    );
  }
  const baseline = rows.find((r) => r.name.startsWith('(e0)'));
  if (v2 && baseline) {
    const cpuSum = (r: BenchRow) => (r.cpu50 ? r.cpu50.kasMs + r.cpu50.agentkMs : NaN);
    lines.push(
      `This build against the baseline build, v2 over tcp: (e)/(e0) ${ratio(v2.c1.rps, baseline.c1.rps)} requests/s at 1 connection, ` +
        `${ratio(v2.c50.rps, baseline.c50.rps)} at 50; p50 @1 ${fmt(v2.latency.p50, 3)} against ${fmt(baseline.latency.p50, 3)} ms; ` +
        `CPU per request at 50 ${fmt(cpuSum(v2), 3)} against ${fmt(cpuSum(baseline), 3)} ms.`,
      '',
    );
  }
  lines.push(
    `Load average at the end: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')}.`,
    '',
    `logs -f style streaming, one ${LOG_MB} MiB response: direct ${fmt(stream.direct)} MB/s, through the tunnel (grpc://) ${fmt(stream.tunnel)} MB/s (${ratio(stream.tunnel, stream.direct)}), over ws:// ${fmt(stream.ws)} MB/s, ` +
      `v2 over tcp ${fmt(stream.v2)} MB/s (${ratio(stream.v2, stream.direct)}).`,
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------- entry

const role = process.env[ROLE_ENV];
if (role) {
  process.once('SIGTERM', () => process.exit(0)); // a clean exit (lets --cpu-prof write its profile)
  const roles: Record<string, () => Promise<void>> = {
    upstream: runUpstreamRole,
    kas: runKasRole,
    agentk: runAgentkRole,
    'floor-back': runFloorBackRole,
    'floor-front': runFloorFrontRole,
    'layout-front': runLayoutFrontRole,
    'layout-back': runLayoutBackRole,
  };
  roles[role]!().catch((err: unknown) => {
    process.stderr.write(`tunnel bench ${role} failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
} else if (require.main === module) {
  run().then(
    (text) => process.stdout.write(`${text}\n`),
    (err: unknown) => {
      process.stderr.write(`tunnel bench failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
