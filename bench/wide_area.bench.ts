// Benchmark: each Kubernetes API path with a delay relay on its long link, as across a wide-area
// network: client→upstream for direct, kubectl proxy→upstream for kubectl proxy, agentk→kas for
// the tunnel (grpc://, gRPC over ws://, v2 over tcp and over ws://). The relay (its own process)
// is a userspace TCP relay that holds every chunk for N ms in each direction, in order, and reads
// no further ahead than its destination drains; connection set-up is not delayed (every link is
// warm before it is timed). Its two TCP legs are loopback, so TCP windows see no delay: what the
// relay models is a long link with unlimited bandwidth, where what costs time is round trips the
// protocols wait for (HTTP/2 WINDOW_UPDATEs, request/answer turns), not the kernel's windows.
// Measured per one-way delay: one GET of a ~14 MB pod list (median of 5 on a warm connection)
// and 20 sequential small GETs on one keep-alive connection.
// Run alone: npx tsx bench/wide_area.bench.ts
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  prepareRoles,
  firstLine,
  podList,
  startKubectlProxy,
  startTunnel,
  USER_HEADER,
  writeKubeconfig,
  type Children,
  type TunnelProcesses,
} from './tunnel.bench';
import { cpuMsFine, minorPageFaults } from './bench_processes';
import { median } from './stats';

const ROLE_ENV = 'WIDE_AREA_BENCH_ROLE';
/** One-way delays measured (round trips of 50, 100 and 200 ms). */
const DELAYS_MS = (process.env.WIDE_AREA_DELAYS_MS ?? '25,50,100').split(',').map(Number);
/** ~14.1 MB, the issue's `get pods -A` list. */
const BIG_PODS = 22_000;
const BIG_RUNS = 5;
/**
 * Big GETs before the timed ones (WIDE_AREA_WARMUP): a fresh kas or agentk spends 100-380 ms of
 * CPU on each of its first few (its heap grows: ~8,000 page faults, and the JIT) and is still
 * 2× its warm cost after 4 (measured: 28-41 ms of kas CPU per GET after 4, 9-23 ms after 25),
 * which a running kas has long paid.
 */
const BIG_WARMUP = Number(process.env.WIDE_AREA_WARMUP ?? '25');
const SMALL_GETS = 20;
const BIG_PATH = '/api/v1/pods';
const SMALL_PATH = '/api/v1/namespaces/default/pods/web-0';

// ---------------------------------------------------------------- roles (child processes)

async function runUpstreamRole(): Promise<void> {
  const big = Buffer.from(podList(BIG_PODS));
  const small = Buffer.from(JSON.stringify((JSON.parse(podList(1)) as { items: unknown[] }).items[0]));
  const server = http.createServer((req, res) => {
    const body = req.url === BIG_PATH ? big : small;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 600_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  report({ address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, bigBytes: big.length, smallBytes: small.length });
}

interface RelayMessage {
  id: number;
  listen?: string;
  delayMs?: number;
}

/** The delay relay: listeners on demand (IPC `{listen: "host:port"}`), one delay for all of them (`{delayMs}`). */
async function runRelayRole(): Promise<void> {
  let delayMs = 0;
  process.on('message', (message: RelayMessage) => {
    if (message.delayMs !== undefined) {
      delayMs = message.delayMs;
      return void process.send?.({ id: message.id });
    }
    const [host, port] = message.listen!.split(':');
    const server = net.createServer({ noDelay: true }, (inbound) => {
      const outbound = net.connect({ host: host!, port: Number(port), noDelay: true });
      const both = () => {
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on('error', both).on('close', both);
      outbound.on('error', both).on('close', both);
      delayLine(inbound, outbound, () => delayMs);
      delayLine(outbound, inbound, () => delayMs);
    });
    server.listen(0, '127.0.0.1', () =>
      process.send?.({ id: message.id, address: `127.0.0.1:${(server.address() as net.AddressInfo).port}` }),
    );
  });
  report({ started: true });
}

/**
 * Copies `from` to `to`, each chunk written `delay()` ms after it was read, in order (a chunk is
 * never due before the one read before it). Reading pauses while `to` does not drain, so the relay
 * holds what is in flight on the delayed link and nothing more.
 */
function delayLine(from: net.Socket, to: net.Socket, delay: () => number): void {
  const queue: Array<{ due: number; chunk: Buffer }> = [];
  let lastDue = 0;
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.due <= now) {
      if (!to.write(queue.shift()!.chunk) && !from.isPaused()) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    }
    if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - now);
    else if (ended) to.end();
  };
  from.on('data', (chunk: Buffer) => {
    const due = Math.max(performance.now() + delay(), lastDue);
    lastDue = due;
    queue.push({ due, chunk });
    timer ??= setTimeout(flush, due - performance.now());
  });
  from.on('end', () => {
    ended = true;
    if (queue.length === 0 && !timer) to.end();
  });
}

function report(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

// ---------------------------------------------------------------- orchestration

async function spawnOwnRole<T>(children: Children, role: string): Promise<{ child: ChildProcess; info: T }> {
  const child = spawn(process.execPath, ['--import', 'tsx', __filename], {
    env: { ...process.env, [ROLE_ENV]: role },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  children.processes.push(child);
  return { child, info: JSON.parse(await firstLine(child, role)) as T };
}

class Relay {
  private nextId = 0;
  constructor(private readonly child: ChildProcess) {}

  /** A relay listener in front of `target` (host:port); its host:port. */
  async listen(target: string): Promise<string> {
    return (await this.ask({ listen: target })).address!;
  }

  async setDelay(delayMs: number): Promise<void> {
    await this.ask({ delayMs });
  }

  private ask(message: Omit<RelayMessage, 'id'>): Promise<{ address?: string }> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const onMessage = (answer: { id: number; address?: string }) => {
        if (answer.id !== id) return;
        this.child.off('message', onMessage);
        resolve(answer);
      };
      this.child.on('message', onMessage);
      this.child.send({ ...message, id });
    });
  }
}

/** One GET to the end of its body on `agent`'s connection; ms and bytes. */
function get(url: string, agent: http.Agent, headers: Record<string, string>): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    let bytes = 0;
    http
      .get(url, { agent, headers }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`${url}: status ${res.statusCode}`));
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, bytes }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

interface Measured {
  bigMs: number;
  smallMs: number;
  /** CPU ms and minor page faults of kas and agentk per big GET (a tunnel path; NaN for kubectl proxy's agentk). */
  bigCpu?: { kasMs: number; agentkMs: number; kasFaults: number; agentkFaults: number };
}

interface PathResult {
  name: string;
  /** Per one-way delay: median ms of the big GET, and ms of the 20 small GETs in all. */
  byDelay: Map<number, Measured>;
}

async function measurePath(url: string, headers: Record<string, string>, processes?: TunnelProcesses): Promise<Measured> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await get(`${url}${SMALL_PATH}`, agent, headers); // the connection, and the path's pools, warm
    for (let i = 0; i < BIG_WARMUP; i++) await get(`${url}${BIG_PATH}`, agent, headers);
    const big: number[] = [];
    // CPU per big GET: what a hop's per-byte work costs, which the machine's load does not change;
    // page faults: a hop that faults ~1 per 4 KiB of body reads into memory the OS had taken back.
    const sample = (pid: number) => [cpuMsFine(pid), minorPageFaults(pid)];
    const before = processes && [sample(processes.kas), sample(processes.agentk)];
    for (let i = 0; i < BIG_RUNS; i++) big.push((await get(`${url}${BIG_PATH}`, agent, headers)).ms);
    const per = (pid: number, was: number[]) => sample(pid).map((v, i) => (v - was[i]!) / BIG_RUNS);
    const [kas, agentk] = processes && before ? [per(processes.kas, before[0]!), per(processes.agentk, before[1]!)] : [];
    const bigCpu = kas && agentk && { kasMs: kas[0]!, agentkMs: agentk[0]!, kasFaults: kas[1]!, agentkFaults: agentk[1]! };
    const started = process.hrtime.bigint();
    for (let i = 0; i < SMALL_GETS; i++) await get(`${url}${SMALL_PATH}`, agent, headers);
    return { bigMs: median(big), smallMs: Number(process.hrtime.bigint() - started) / 1e6, bigCpu };
  } finally {
    agent.destroy();
  }
}

export default async function run(): Promise<string> {
  const loadAtStart = os.loadavg();
  const children: Children = { processes: [] };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wide-area-bench-'));
  const pids = new Map<string, TunnelProcesses>();
  prepareRoles(); // startTunnel's kas and agentk run from the tunnel bench's roles bundle
  try {
    const upstream = await spawnOwnRole<{ address: string; bigBytes: number; smallBytes: number }>(children, 'upstream');
    const relay = new Relay((await spawnOwnRole(children, 'relay')).child);
    const upstreamViaRelay = await relay.listen(upstream.info.address);
    const localKubeconfig = writeKubeconfig(fs.mkdtempSync(path.join(dir, 'local-')), `http://${upstream.info.address}`);
    const relayedKubeconfig = writeKubeconfig(fs.mkdtempSync(path.join(dir, 'relayed-')), `http://${upstreamViaRelay}`);
    const viaRelay = (address: string) => relay.listen(address);
    // WIDE_AREA_PATHS=<regex>: only the paths whose name matches, and direct (profiling runs).
    const only = process.env.WIDE_AREA_PATHS ? new RegExp(process.env.WIDE_AREA_PATHS) : undefined;
    const wanted = (name: string) => !only || only.test(name);
    const candidates: Array<{ name: string; start: () => Promise<string>; headers?: Record<string, string> }> = [
      { name: 'kubectl proxy (kubectl → relay → upstream)', start: () => startKubectlProxy(children, relayedKubeconfig, pids) },
      {
        name: 'tunnel grpc:// (agentk → relay → kas)',
        start: () => startTunnel(children, localKubeconfig, 'grpc', pids, 'grpc', viaRelay),
        headers: USER_HEADER,
      },
      {
        name: 'tunnel gRPC over ws://',
        start: () => startTunnel(children, localKubeconfig, 'ws', pids, 'grpc', viaRelay),
        headers: USER_HEADER,
      },
      {
        name: 'tunnel v2 over tcp',
        start: () => startTunnel(children, localKubeconfig, 'grpc', pids, 'v2', viaRelay),
        headers: USER_HEADER,
      },
      {
        name: 'tunnel v2 over ws://',
        start: () => startTunnel(children, localKubeconfig, 'ws', pids, 'v2', viaRelay),
        headers: USER_HEADER,
      },
    ];
    const paths: Array<{ name: string; url: string; headers?: Record<string, string> }> = [
      { name: 'direct (client → relay → upstream)', url: `http://${upstreamViaRelay}` },
    ];
    for (const c of candidates) if (wanted(c.name)) paths.push({ name: c.name, url: await c.start(), headers: c.headers });
    const results: PathResult[] = paths.map((p) => ({ name: p.name, byDelay: new Map() }));
    for (const delayMs of DELAYS_MS) {
      await relay.setDelay(delayMs);
      for (const [i, p] of paths.entries()) {
        process.stderr.write(`wide-area bench: ${delayMs} ms each way, ${p.name}\n`);
        results[i]!.byDelay.set(delayMs, await measurePath(p.url, p.headers ?? {}, pids.get(p.url)));
      }
    }
    return formatSection(results, upstream.info.bigBytes, upstream.info.smallBytes, loadAtStart, os.loadavg());
  } finally {
    for (const child of children.processes) child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function cpuText(m: Measured): string {
  if (!m.bigCpu) return '';
  const { kasMs, agentkMs, kasFaults, agentkFaults } = m.bigCpu;
  return Number.isNaN(agentkMs)
    ? `${kasMs.toFixed(0)} ms (one process), ${kasFaults.toFixed(0)} faults`
    : `${kasMs.toFixed(0)} + ${agentkMs.toFixed(0)} ms, ${kasFaults.toFixed(0)} + ${agentkFaults.toFixed(0)} faults`;
}

function formatSection(results: PathResult[], bigBytes: number, smallBytes: number, loadStart: number[], loadEnd: number[]): string {
  const direct = results[0]!;
  const load = (l: number[]) => l.map((v) => v.toFixed(1)).join(' / ');
  const lines = [
    '## Wide-area link: a delay relay on the long link of each path',
    '',
    `A userspace TCP relay (its own process) holds every chunk N ms in each direction, in order, reading no further ahead than its destination drains, on the long link of each path: ` +
      'client → upstream (direct), kubectl proxy → upstream, agentk → kas (the tunnel; agentk → upstream and client → kas stay local). ' +
      `Upstream: a node:http server; big GET: a ${(bigBytes / 1e6).toFixed(1)} MB pod list (${BIG_PODS} pods), median of ${BIG_RUNS} on a warm keep-alive connection after ${BIG_WARMUP} untimed; ` +
      `small: ${SMALL_GETS} sequential GETs of one pod (${smallBytes} B) on one keep-alive connection. Connection set-up is not delayed and every connection is warm before it is timed. ` +
      `The relay's TCP legs are loopback, so the kernel's TCP windows see no delay: this is a long link of unlimited bandwidth, where only the round trips a protocol waits for cost time. ` +
      `Load average at the start ${load(loadStart)}, at the end ${load(loadEnd)}.`,
    '',
    '| path | delay each way (RTT) | big GET | × direct | CPU, page faults per big GET (kas + agentk) | 20 small GETs | per request | round trips per request |',
    '| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |',
  ];
  for (const delayMs of DELAYS_MS) {
    const base = direct.byDelay.get(delayMs)!;
    for (const r of results) {
      const m = r.byDelay.get(delayMs)!;
      const perRequest = m.smallMs / SMALL_GETS;
      lines.push(
        `| ${r.name} | ${delayMs} ms (${2 * delayMs} ms) | ${m.bigMs.toFixed(0)} ms | ${(m.bigMs / base.bigMs).toFixed(2)}× | ${cpuText(m)} | ${m.smallMs.toFixed(0)} ms | ` +
          `${perRequest.toFixed(1)} ms | ${delayMs > 0 ? (perRequest / (2 * delayMs)).toFixed(2) : '–'} |`,
      );
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- entry

const role = process.env[ROLE_ENV];
if (role) {
  process.once('SIGTERM', () => process.exit(0));
  const roles: Record<string, () => Promise<void>> = { upstream: runUpstreamRole, relay: runRelayRole };
  roles[role]!().catch((err: unknown) => {
    process.stderr.write(`wide-area bench ${role} failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
} else if (require.main === module) {
  run().then(
    (text) => process.stdout.write(`${text}\n`),
    (err: unknown) => {
      process.stderr.write(`wide-area bench failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
