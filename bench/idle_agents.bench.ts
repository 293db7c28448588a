// Idle agents on one kas: what each connected, idle agent costs kas (RSS and V8 heap, after a
// full GC), how long a batch of agents takes to connect, and whether a proxied request to one of
// them slows down while the rest idle. Transport v2 (module http_tunnel, agentk's default): each
// load agent is agentk's own v2 client code (dialer, pool, server of agent/modules/http_tunnel/agent)
// with its own token (one token per agent, one agent per token); pool rules: minIdle 2 (the default;
// see the open-file limit below) and scaleUpStep = minIdle (LOAD_POOL). The gRPC tunnel a real
// agentk also keeps (its configuration stream) is not opened here: the figures are the v2 connections' cost.
// Processes: kas (its v2 server, the gRPC agent listener it shares, the Kubernetes API proxy), one
// load process holding every agent, and this one (upstream and the measured requests). Agents are
// added in steps (1, 100, 1,000, 10,000 in all) to the same kas, dialed in batches: kas drops
// connections beyond 500 unauthenticated at once (connection_guard.ts maxUnauthenticated).
// Open files: every connection is a socket in kas and in the load process; when the largest step's
// connections at the default minIdle 2 would not fit the (hard) open-file limit, the load agents keep 1.
// Run alone: npx tsx bench/idle_agents.bench.ts  (IDLE_AGENTS_MAX=1000 stops at 1,000)
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLogger } from '../agent/internal/log';
import { KubernetesApiUpstream } from '../agent/modules/kubernetes_api/agent/upstream';
import { DEFAULT_POOL_SETTINGS } from '../agent/modules/reverse_tunnel/agent/pool';
import { HttpTunnelPool } from '../agent/modules/http_tunnel';
import { httpTunnelDialer } from '../agent/modules/http_tunnel/agent/dial';
import { createHttpTunnelServer } from '../agent/modules/http_tunnel/agent/serve';
import { writeKubeconfig } from '../test/modules/reverse_tunnel/harness';
import { bundleRoles, cpuMs, profileArgs, startBenchKas } from './bench_processes';
import { formatMs, percentile, timeRuns } from './stats';

const ROLE_ENV = 'IDLE_AGENTS_ROLE';
const STEPS = [1, 100, 1_000, 10_000].filter((n) => n <= Number(process.env.IDLE_AGENTS_MAX ?? 10_000));
/** The open-file limit this process and its children have (a hard limit; no CAP_SYS_RESOURCE to raise it). */
const NOFILE = Number(/^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 1024);
/**
 * Idle connections an agent keeps: the default pool rule (2) unless the largest step would not
 * fit the open-file limit (each connection is a socket in kas and one in the load process).
 */
const MIN_IDLE = Number(
  process.env.IDLE_AGENTS_MIN_IDLE ?? (2 * STEPS[STEPS.length - 1]! + 500 < NOFILE ? DEFAULT_POOL_SETTINGS.minIdle : 1),
);
/**
 * The load agents' pool rules. By default a pool below minIdle dials scaleUpStep (10) connections,
 * also at start, and kas closes the surplus after idleTimeoutMs (60 s): a just-started agent holds
 * 10. An idle agent's steady state is minIdle; scaleUpStep = minIdle reaches it at once.
 */
const LOAD_POOL = { minIdle: MIN_IDLE, scaleUpStep: MIN_IDLE };
/** Agents started at once: their connections stay under kas's 500 unauthenticated connections. */
const BATCH = Math.floor(400 / MIN_IDLE);
const REQUESTS = 1_000;
/** kas's CPU with every agent idle is read over two liveness periods (kas probes a silent agentk every 5 s). */
const IDLE_WINDOW_MS = 10_000;
const USER_TOKEN = 'bench-user-token';
const agentToken = (i: number) => `bench-agent-token-${i}`;

interface KasStats {
  connections: number;
  agents: number;
  rss: number;
  heapUsed: number;
  external: number;
}

// ---------------------------------------------------------------- roles (child processes)

async function runKasRole(): Promise<void> {
  const kas = await startBenchKas(async (t) => {
    const match = /^bench-agent-token-(\d+)$/.exec(t);
    // Agent ids start at 1 (proxy credentials refuse 0).
    return match ? { agentId: String(Number(match[1]) + 1), agentName: `bench-${match[1]}` } : undefined;
  });
  const { httpTunnels } = kas;
  process.on('message', (message) => {
    if (message !== 'stats') return;
    (globalThis as { gc?: () => void }).gc?.();
    const counts = httpTunnels.registry.counts();
    const memory = process.memoryUsage();
    const stats: KasStats = {
      connections: counts.reduce((sum, c) => sum + c.idle + c.busy, 0),
      agents: counts.length,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      external: memory.external,
    };
    process.send?.(stats);
  });
  report({ agentAddress: kas.agentAddress, proxyUrl: kas.proxyUrl });
}

async function runLoadRole(): Promise<void> {
  const logger = createLogger({}, { level: 'error' });
  const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(process.env.BENCH_KUBECONFIG!);
  // One upstream client for every agent: its cost is the load process's, not kas's.
  const upstream = new KubernetesApiUpstream(kubeConfig);
  const pools: HttpTunnelPool[] = [];
  const startAgent = (i: number): HttpTunnelPool => {
    // As the agentk module http_tunnel starts its transport (agentk_module.ts).
    const dialer = httpTunnelDialer(
      { address: `grpc://${process.env.KAS_AGENT_ADDRESS!}`, token: agentToken(i), transport: 'v2' },
      {
        version: 'bench',
        podName: `load-${i}`,
        podNamespace: 'agents',
        instanceId: `load-${i}`,
        minIdle: MIN_IDLE,
        idleTimeoutMs: DEFAULT_POOL_SETTINGS.idleTimeoutMs,
      },
    );
    const pool = new HttpTunnelPool(dialer, createHttpTunnelServer({ upstream, logger }), LOAD_POOL, logger);
    pool.start();
    return pool;
  };
  const connected = (pool: HttpTunnelPool) => pool.stats().idle >= MIN_IDLE;
  process.on('message', (message: { add: number }) => {
    void (async () => {
      const started = process.hrtime.bigint();
      const target = pools.length + message.add;
      while (pools.length < target) {
        const batch: HttpTunnelPool[] = [];
        while (pools.length < target && batch.length < BATCH) batch.push((pools[pools.length] = startAgent(pools.length)));
        while (!batch.every(connected)) await new Promise((r) => setTimeout(r, 5));
      }
      process.send?.({ ms: Number(process.hrtime.bigint() - started) / 1e6 });
    })();
  });
  report({ ready: true });
}

/** A role's first IPC message says it is up (and where). */
function report(value: unknown): void {
  process.send?.(value);
}

// ---------------------------------------------------------------- orchestration

/** Set by run(): the bundle of this file the roles run from. */
let rolesBundle = '';

function spawnRole<T>(children: ChildProcess[], role: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; info: T }> {
  const child = spawn(process.execPath, [...profileArgs(), '--expose-gc', rolesBundle], {
    env: { ...process.env, ...env, [ROLE_ENV]: role },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('message', (info) => resolve({ child, info: info as T }));
    child.once('exit', (code) => reject(new Error(`${role} exited early (${code})`)));
  });
}

function ask<T>(child: ChildProcess, message: unknown): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (answer) => resolve(answer as T));
    child.send(message as string);
  });
}

function startUpstream(): Promise<http.Server> {
  const body = Buffer.from(JSON.stringify({ kind: 'NamespaceList', apiVersion: 'v1', items: [{ metadata: { name: 'default' } }] }));
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function requester(url: string): () => Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return () =>
    new Promise((resolve, reject) => {
      const req = http.get(url, { agent, headers: { authorization: `Bearer pat:1:${USER_TOKEN}` } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on('error', reject);
    });
}

interface Row {
  agents: number;
  stats: KasStats;
  addedMs: number;
  added: number;
  /** kas CPU time per wall-clock time while every agent idles (1 = one core). */
  idleCpu: number;
  p50: number;
  p99: number;
  load: number[];
}

export default async function run(): Promise<string> {
  const loadAtStart = os.loadavg();
  const children: ChildProcess[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idle-agents-'));
  const upstream = await startUpstream();
  try {
    rolesBundle = bundleRoles(__filename, 'idle_agents_bench_roles');
    const kubeconfig = await writeKubeconfig(dir, `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    const kas = await spawnRole<{ agentAddress: string; proxyUrl: string }>(children, 'kas');
    const load = await spawnRole(children, 'load', { KAS_AGENT_ADDRESS: kas.info.agentAddress, BENCH_KUBECONFIG: kubeconfig });
    const request = requester(`${kas.info.proxyUrl}/api/v1/namespaces`);
    const rows: Row[] = [];
    let agents = 0;
    for (const step of STEPS) {
      const added = step - agents;
      const { ms } = await ask<{ ms: number }>(load.child, { add: added });
      agents = step;
      let stats = await ask<KasStats>(kas.child, 'stats');
      while (stats.connections < MIN_IDLE * agents) stats = await ask<KasStats>(kas.child, 'stats');
      const cpuBefore = cpuMs(kas.child.pid!);
      await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
      const idleCpu = (cpuMs(kas.child.pid!) - cpuBefore) / IDLE_WINDOW_MS;
      const runs = await timeRuns(request, REQUESTS, 50);
      stats = await ask<KasStats>(kas.child, 'stats');
      rows.push({ agents, stats, addedMs: ms, added, idleCpu, p50: percentile(runs, 50), p99: percentile(runs, 99), load: os.loadavg() });
      process.stderr.write(`idle agents: ${agents} connected, kas RSS ${(stats.rss / 2 ** 20).toFixed(0)} MiB\n`);
    }
    return formatSection(rows, loadAtStart);
  } finally {
    for (const child of children) child.kill();
    await new Promise((resolve) => upstream.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function formatSection(rows: Row[], load: number[]): string {
  const kib = (bytes: number) => (bytes / 1024).toFixed(1);
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
  // The first step (one agent, after its requests) is the base: what kas costs warmed up, less its agents.
  const baseline = rows[0]!;
  const base = baseline.stats;
  const table = rows.map((r) => {
    const perAgent = (value: number, baseValue: number) => (r === baseline ? '–' : kib((value - baseValue) / (r.agents - baseline.agents)));
    return (
      `| ${r.agents.toLocaleString('en-US')} | ${r.stats.connections.toLocaleString('en-US')} | ${mib(r.stats.rss)} MiB | ${perAgent(r.stats.rss, base.rss)} | ` +
      `${perAgent(r.stats.heapUsed, base.heapUsed)} | ${perAgent(r.stats.external, base.external)} | ` +
      `${r.added.toLocaleString('en-US')} in ${(r.addedMs / 1000).toFixed(2)} s | ${(r.idleCpu * 100).toFixed(1)} % | ${formatMs(r.p50)} | ${formatMs(r.p99)} | ${r.load.map((l) => l.toFixed(1)).join(' / ')} |`
    );
  });
  const last = rows[rows.length - 1]!;
  return [
    '## Idle agents on one kas (transport v2)',
    '',
    `One kas process; one load process holding every agent with agentk's own v2 client code (agent/modules/http_tunnel/agent: dialer, pool, server), ` +
      `one token per agent (one agent per token), the pool rules minIdle ${MIN_IDLE} ` +
      `(${MIN_IDLE === DEFAULT_POOL_SETTINGS.minIdle ? 'the default' : `the default is ${DEFAULT_POOL_SETTINGS.minIdle}, lowered so that the largest step fits the open-file limit`}) and scaleUpStep ${MIN_IDLE} ` +
      `(the default ${DEFAULT_POOL_SETTINGS.scaleUpStep} makes a just-started agent dial ${DEFAULT_POOL_SETTINGS.scaleUpStep} connections, of which kas closes the surplus after idleTimeoutMs, ` +
      `${DEFAULT_POOL_SETTINGS.idleTimeoutMs / 1000} s; an idle agent's steady state is minIdle connections; ` +
      'the gRPC tunnel a real agentk also keeps for its configuration is not opened). ' +
      `Agents are added in steps to the same kas, started ${BATCH} at a time (kas admits at most 500 unauthenticated connections at once). ` +
      'Memory: process.memoryUsage() in kas after a full GC; per agent = (figure − figure with one agent) / (agents − 1). ' +
      `kas CPU, all idle: its CPU time over ${IDLE_WINDOW_MS / 1000} s with no request (100 % = one core). ` +
      `Latency: ${REQUESTS} sequential GETs of a small list through kas's Kubernetes API proxy to the first agent over one keep-alive connection, the others idle. ` +
      `Open-file limit of both processes: ${NOFILE.toLocaleString('en-US')} (hard limit, cannot be raised here). Load average at the start: ${load.map((l) => l.toFixed(1)).join(' / ')}; ` +
      'the table gives it after each step.',
    '',
    '| agents | kas v2 connections | kas RSS | RSS KiB/agent | heap KiB/agent | external KiB/agent | connect (added agents) | kas CPU, all idle | p50 | p99 | load average |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...table,
    '',
    `With ${last.agents.toLocaleString('en-US')} idle agents: p50 ${formatMs(last.p50)} against ${formatMs(baseline.p50)} with one agent, p99 ${formatMs(last.p99)} against ${formatMs(baseline.p99)}.`,
  ].join('\n');
}

const role = process.env[ROLE_ENV];
if (role) {
  const roles: Record<string, () => Promise<void>> = { kas: runKasRole, load: runLoadRole };
  process.once('SIGTERM', () => process.exit(0)); // a clean exit (lets --cpu-prof write its profile)
  roles[role]!().catch((err: unknown) => {
    process.stderr.write(`idle agents bench ${role} failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
} else if (require.main === module) {
  run().then(
    (text) => process.stdout.write(`${text}\n`),
    (err: unknown) => {
      process.stderr.write(`idle agents bench failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
