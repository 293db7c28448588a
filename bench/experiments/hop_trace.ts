// Experiment (issue 14): where a sequential request's time goes at 1 connection, hop by hop.
// Starts the tunnel bench's upstream, kubectl proxy, v2 over tcp (and the baseline's, and the
// bare reverse pairs), warms each path up, then traces a few sequential requests spaced apart
// with `perf trace` on every process of the path and the client (this process): each request's
// syscalls in order, per process, with the time since the client's write, and the count of
// syscalls and wake-ups (returns from epoll_wait) per request per process.
// Run: npx tsx bench/experiments/hop_trace.ts [path-regex]   (TUNNEL_BENCH_BASELINE as the bench's)
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { cpuMs } from '../bench_processes';
import {
  baselineRoles,
  prepareRoles,
  spawnRole,
  startKubectlProxy,
  startLayout,
  startTunnel,
  writeKubeconfig,
  USER_HEADER,
  type Children,
  type TunnelProcesses,
} from '../tunnel.bench';

const TRACED = Number(process.env.HOP_TRACE_REQUESTS ?? '30');
const SPACING_MS = 20;
const IDLE_MS = 3_000;
const ROUNDS = Number(process.env.HOP_TRACE_ROUNDS ?? '1');
/** HOP_TRACE_AUTOCANNON=1: no trace; autocannon at 1 connection, with its latency distribution. */
const AUTOCANNON = process.env.HOP_TRACE_AUTOCANNON === '1';
// autocannon ships no types; the slice used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (options: {
  url: string;
  connections: number;
  duration: number;
  headers: Record<string, string>;
}) => Promise<{ requests: { average: number }; latency: { mean: number; p50: number; p90: number; p99: number; max: number } }>;

interface Traced {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** pid → role name */
  roles: Map<number, string>;
}

function get(agent: http.Agent, url: string, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve());
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

interface Event {
  t: number;
  pid: number;
  tid: number;
  call: string;
  ret: string;
  dur: number;
  text: string;
}

// perf trace lines: "   12.345 ( 0.012 ms): node/1234 epoll_wait(epfd: 3, ...) = 1"
const LINE = /^\s*([\d.]+) \(\s*([\d.]*) ms\): [^/]*\/(\d+) (\w+)\((.*)\)\s+= (.*)$/;

function parse(file: string, tidToPid: (tid: number) => number): Event[] {
  const out: Event[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const tid = Number(m[3]);
    out.push({ t: Number(m[1]), dur: Number(m[2] || 0), pid: tidToPid(tid), tid, call: m[4]!, text: m[5]!, ret: m[6]! });
  }
  return out;
}

function threadsOf(pid: number): number[] {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

/** HOP_TRACE_SEQUENTIAL=<n>: no trace, n sequential requests (with BENCH_CPU_PROF_DIR: a profile of the 1-connection path). */
const SEQUENTIAL = Number(process.env.HOP_TRACE_SEQUENTIAL ?? '0');

async function trace(p: Traced): Promise<string> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 300; i++) await get(agent, p.url, p.headers); // JIT, pools
  if (AUTOCANNON) {
    agent.destroy();
    const out: string[] = [`### ${p.name}: autocannon, 1 connection, 3 s (load ${os.loadavg()[0]!.toFixed(1)})`];
    for (let round = 0; round < 2; round++) {
      const r = await autocannon({ url: p.url, connections: 1, duration: 3, headers: p.headers });
      const l = r.latency;
      out.push(
        `- ${r.requests.average.toFixed(0)} req/s; latency ms: mean ${l.mean.toFixed(3)}, p50 ${l.p50}, p90 ${l.p90}, p99 ${l.p99}, max ${l.max}`,
      );
    }
    return out.join('\n');
  }
  if (SEQUENTIAL > 0) {
    // What each process spends with no request at all (timers, the gRPC tunnel's streams and pings).
    const idleBefore = [...p.roles.keys()].map(cpuMs);
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const idle = [...p.roles.keys()].map((pid, i) => ((cpuMs(pid) - idleBefore[i]!) / IDLE_MS) * 1000);
    // perf stat per process: CPU time, context switches (each wake-up of a process blocked in
    // epoll_wait is one) and migrations per request.
    const stats = [...p.roles].map(([pid, name]) => {
      const file = path.join(os.tmpdir(), `hop-stat-${pid}.txt`);
      const child = spawn('perf', ['stat', '-x', ',', '-o', file, '-e', 'task-clock,context-switches,cpu-migrations', '-p', String(pid)], {
        stdio: 'ignore',
      });
      return { pid, name, file, child };
    });
    // HOP_TRACE_RECORD=<dir>: also `perf record` each process (kernel and user time by symbol).
    const recordDir = process.env.HOP_TRACE_RECORD;
    const records = recordDir
      ? [...p.roles].map(([pid, name]) =>
          spawn('perf', ['record', '-q', '-g', '-o', path.join(recordDir, `${p.name.slice(0, 4)}-${name}.data`), '-p', String(pid)], {
            stdio: 'ignore',
          }),
        )
      : [];
    await new Promise((r) => setTimeout(r, 500));
    const started = performance.now();
    for (let i = 0; i < SEQUENTIAL; i++) await get(agent, p.url, p.headers);
    const each = ((performance.now() - started) / SEQUENTIAL) * 1000;
    agent.destroy();
    const lines = [
      `### ${p.name}: ${SEQUENTIAL} sequential requests, ${each.toFixed(0)} µs each on average (load ${os.loadavg()[0]!.toFixed(1)})`,
    ];
    for (const record of records) {
      record.kill('SIGINT');
      await new Promise((r) => record.once('exit', r));
    }
    for (const stat of stats) {
      stat.child.kill('SIGINT');
      await new Promise((r) => stat.child.once('exit', r));
      const values = new Map<string, number>();
      for (const line of fs.readFileSync(stat.file, 'utf8').split('\n')) {
        const [value, , event] = line.split(',');
        if (event && value && !Number.isNaN(Number(value))) values.set(event, Number(value));
      }
      fs.rmSync(stat.file, { force: true });
      const per = (event: string) => (values.get(event) ?? NaN) / SEQUENTIAL;
      const idleMsPerS = idle[[...p.roles.keys()].indexOf(stat.pid)]!;
      lines.push(
        `- ${stat.name}: idle ${idleMsPerS.toFixed(0)} ms CPU/s; ${(per('task-clock') * 1000).toFixed(0)} µs CPU, ${per('context-switches').toFixed(2)} context switches, ${per('cpu-migrations').toFixed(2)} migrations per request (perf stat, while the requests ran and 0.5 s before)`,
      );
    }
    return lines.join('\n');
  }
  const pids = [process.pid, ...p.roles.keys()];
  const tidOwner = new Map<number, number>();
  for (const pid of pids) for (const tid of threadsOf(pid)) tidOwner.set(tid, pid);
  const file = path.join(os.tmpdir(), `hop-trace-${process.pid}.txt`);
  const perf = spawn('perf', ['trace', '-o', file, '-p', pids.join(',')], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise((r) => setTimeout(r, 1500)); // perf attaches
  const starts: number[] = [];
  for (let i = 0; i < TRACED; i++) {
    await new Promise((r) => setTimeout(r, SPACING_MS));
    starts.push(performance.now());
    await get(agent, p.url, p.headers);
  }
  await new Promise((r) => setTimeout(r, 300));
  perf.kill('SIGINT');
  await new Promise((r) => perf.once('exit', r));
  agent.destroy();
  const events = parse(file, (tid) => tidOwner.get(tid) ?? tid);
  fs.rmSync(file, { force: true });
  const role = (pid: number) => (pid === process.pid ? 'client' : (p.roles.get(pid) ?? `?${pid}`));
  // Requests: from the client's write of the request to its read of the answer. The client's
  // timers between requests split the trace; a request is the client's first write after a gap.
  const clientWrites = events.filter((e) => e.pid === process.pid && /^(write|writev|sendto)$/.test(e.call));
  const windows: Array<{ from: number; to: number }> = [];
  for (const w of clientWrites) {
    if (windows.length && w.t - windows[windows.length - 1]!.from < SPACING_MS / 2) continue;
    windows.push({ from: w.t, to: w.t + SPACING_MS / 2 });
  }
  const lines: string[] = [`### ${p.name}`];
  const perRequest: Array<{ span: number; calls: Map<string, number>; wakes: Map<string, number> }> = [];
  for (const [i, w] of windows.entries()) {
    const inside = events.filter((e) => e.t >= w.from && e.t < w.to);
    // The answer's end: the client's last read that returned bytes.
    const reads = inside.filter((e) => e.pid === process.pid && /^(read|recvfrom)$/.test(e.call) && Number(e.ret) > 0);
    const end = reads.length ? reads[reads.length - 1]!.t + reads[reads.length - 1]!.dur : w.from;
    const span = end - w.from;
    const calls = new Map<string, number>();
    const wakes = new Map<string, number>();
    for (const e of inside) {
      if (e.t > end) continue;
      const r = role(e.pid);
      calls.set(r, (calls.get(r) ?? 0) + 1);
      if (/^epoll_p?wait$/.test(e.call) && e.ret !== '0') wakes.set(r, (wakes.get(r) ?? 0) + 1);
    }
    perRequest.push({ span, calls, wakes });
    if (i === Math.floor(windows.length / 2)) {
      lines.push(`request ${i} (${(span * 1000).toFixed(0)} µs, client write → client's last read):`);
      for (const e of inside) {
        if (e.t > end + 0.2) break;
        const at = ((e.t - w.from) * 1000).toFixed(0).padStart(5);
        const took = (e.dur * 1000).toFixed(0).padStart(4);
        lines.push(
          `  +${at} µs ${took} µs ${role(e.pid).padEnd(8)} ${e.tid === e.pid ? '' : `[t${e.tid}] `}${e.call}(${e.text.slice(0, 60)}) = ${e.ret.slice(0, 30)}`,
        );
      }
    }
  }
  perRequest.sort((a, b) => a.span - b.span);
  const mid = perRequest[Math.floor(perRequest.length / 2)];
  if (mid) {
    const roles = [...new Set(perRequest.flatMap((r) => [...r.calls.keys()]))];
    const avg = (pick: (r: (typeof perRequest)[number]) => number) =>
      (perRequest.reduce((s, r) => s + pick(r), 0) / perRequest.length).toFixed(1);
    lines.push(
      `median span ${(mid.span * 1000).toFixed(0)} µs over ${perRequest.length} requests (traced: perf trace adds its own cost per syscall); per request, syscalls / epoll wake-ups: ` +
        roles.map((r) => `${r} ${avg((x) => x.calls.get(r) ?? 0)} / ${avg((x) => x.wakes.get(r) ?? 0)}`).join(', '),
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  prepareRoles();
  const only = process.argv[2] ? new RegExp(process.argv[2]) : undefined;
  const children: Children = { processes: [] };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hop-trace-'));
  const pids = new Map<string, TunnelProcesses>();
  try {
    const upstream = await spawnRole<{ url: string }>(children, 'upstream');
    const upstreamPid = children.processes[0]!.pid!;
    const kubeconfig = writeKubeconfig(dir, upstream.info.url);
    const starts: Array<[string, () => Promise<string>, Record<string, string>, [string, string]]> = [
      ['(b) kubectl proxy', () => startKubectlProxy(children, kubeconfig, pids), {}, ['kubectl', '']],
      ['(e) v2 over tcp', () => startTunnel(children, kubeconfig, 'grpc', pids, 'v2'), USER_HEADER, ['kas', 'agentk']],
      ['(f1) bare pair, undici Client', () => startLayout(children, upstream.info.url, 'undici', pids), {}, ['front', 'back']],
      [
        '(f1h) bare pair, undici Client, back upstream node:http Agent',
        () => startLayout(children, upstream.info.url, 'undici', pids, 'http'),
        {},
        ['front', 'back'],
      ],
      ['(f2) bare pair, node:http Agent front', () => startLayout(children, upstream.info.url, 'http', pids), {}, ['front', 'back']],
      ['(f3) bare pair, hand-written', () => startLayout(children, upstream.info.url, 'raw', pids), {}, ['front', 'back']],
    ];
    if (baselineRoles()) {
      const baseline = baselineRoles();
      starts.splice(2, 0, [
        '(e0) baseline, v2 over tcp',
        () => startTunnel(children, kubeconfig, 'grpc', pids, 'v2', undefined, baseline),
        USER_HEADER,
        ['kas', 'agentk'],
      ]);
    }
    const started: Traced[] = [];
    for (const [name, start, headers, [front, back]] of starts) {
      if (only && !only.test(name)) continue;
      const url = await start();
      const processes = pids.get(url)!;
      const roles = new Map<number, string>([[upstreamPid, 'upstream']]);
      roles.set(processes.kas, front);
      if (Number.isInteger(processes.agentk)) roles.set(processes.agentk, back);
      started.push({ name, url: `${url}/api/v1/pods`, headers, roles });
    }
    // Rounds outside, paths inside, as the tunnel bench: each round of every path sees about the same load.
    // The order turns around every other round: a path measured right after another is not always the same one.
    for (let round = 0; round < ROUNDS; round++) {
      for (const each of round % 2 ? [...started].reverse() : started) process.stdout.write(`${await trace(each)}\n\n`);
    }
  } finally {
    for (const child of children.processes) child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`hop trace failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
