// Experiment (issue 14): what one big body costs kas and agentk on transport v2, by how the
// upstream sends it. No relay: the tunnel bench's kas and agentk roles on loopback, an upstream in
// this process serving the same ~14 MB pod list as content-length or chunked, all at once or in
// 16 KiB pieces. Prints CPU ms (from /proc) of kas and agentk per GET, median of ROUNDS x GETS.
// Run: npx tsx bench/experiments/big_body.ts
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { cpuMsFine, minorPageFaults } from '../bench_processes';
import { median } from '../stats';
import { podList, prepareRoles, startTunnel, USER_HEADER, writeKubeconfig, type Children, type TunnelProcesses } from '../tunnel.bench';

const GETS = Number(process.env.BIG_BODY_GETS ?? '10');
const ROUNDS = Number(process.env.BIG_BODY_ROUNDS ?? '3');
const PIECE = 16 * 1024;

/** How the upstream sends the body: content-length or chunked, one write or 16 KiB pieces. */
const VARIANTS = (process.env.BIG_BODY_VARIANTS ?? 'cl-once,chunked-once,cl-16k,chunked-16k').split(',');

function startUpstream(big: Buffer): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const variant = req.url!.split('/').pop()!;
    const head: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
    if (variant.startsWith('cl-')) head['content-length'] = big.length;
    res.writeHead(200, head);
    if (variant.endsWith('-once')) return void res.end(big);
    let offset = 0;
    const pump = () => {
      while (offset < big.length) {
        const piece = big.subarray(offset, offset + PIECE);
        offset += piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  server.keepAliveTimeout = 600_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function get(url: string, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    http
      .get(url, { agent, headers: USER_HEADER }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`${url}: status ${res.statusCode}`));
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => resolve(bytes));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function main(): Promise<void> {
  const big = Buffer.from(podList(22_000));
  const upstream = await startUpstream(big);
  const children: Children = { processes: [] };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-body-'));
  const pids = new Map<string, TunnelProcesses>();
  prepareRoles();
  try {
    const kubeconfig = writeKubeconfig(dir, `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    const url = await startTunnel(children, kubeconfig, 'grpc', pids, 'v2');
    const { kas, agentk } = pids.get(url)!;
    process.stdout.write(`kas pid ${kas}, agentk pid ${agentk}\n`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const figures = new Map(VARIANTS.map((v) => [v, { kas: [] as number[], agentk: [] as number[], ms: [] as number[] }]));
    // BIG_BODY_FIRST=n: the first n GETs one by one (is the cost a warm-up?); BIG_BODY_IDLE_MS=a,b:
    // then, after each idle pause, n more (does the cost come back after kas and agentk idle?).
    const series = async (label: string) => {
      for (let i = 0; i < Number(process.env.BIG_BODY_FIRST); i++) {
        const before = [cpuMsFine(kas), cpuMsFine(agentk)];
        const faults = [minorPageFaults(kas), minorPageFaults(agentk)];
        const started = performance.now();
        await get(`${url}/api/v1/pods/${VARIANTS[0]!}`, agent);
        process.stdout.write(
          `${label} GET ${i}: ${(performance.now() - started).toFixed(0)} ms, CPU kas ${(cpuMsFine(kas) - before[0]!).toFixed(1)} ms, agentk ${(cpuMsFine(agentk) - before[1]!).toFixed(1)} ms, ` +
            `page faults kas ${minorPageFaults(kas) - faults[0]!} agentk ${minorPageFaults(agentk) - faults[1]!}\n`,
        );
      }
    };
    if (process.env.BIG_BODY_FIRST) {
      await series('cold');
      for (const idleMs of (process.env.BIG_BODY_IDLE_MS ?? '').split(',').filter(Boolean).map(Number)) {
        await new Promise((resolve) => setTimeout(resolve, idleMs));
        await series(`after ${idleMs} ms idle`);
      }
    }
    for (const v of VARIANTS) await get(`${url}/api/v1/pods/${v}`, agent); // warm
    for (let round = 0; round < ROUNDS; round++) {
      for (const v of VARIANTS) {
        const before = [cpuMsFine(kas), cpuMsFine(agentk)];
        const started = performance.now();
        for (let i = 0; i < GETS; i++) {
          const bytes = await get(`${url}/api/v1/pods/${v}`, agent);
          if (bytes !== big.length) throw new Error(`${v}: ${bytes} bytes`);
        }
        const f = figures.get(v)!;
        f.ms.push((performance.now() - started) / GETS);
        f.kas.push((cpuMsFine(kas) - before[0]!) / GETS);
        f.agentk.push((cpuMsFine(agentk) - before[1]!) / GETS);
      }
    }
    agent.destroy();
    process.stdout.write(
      `load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' / ')}, ${(big.length / 1e6).toFixed(1)} MB body\n`,
    );
    for (const [v, f] of figures) {
      process.stdout.write(
        `${v.padEnd(14)} ${median(f.ms).toFixed(0).padStart(5)} ms/GET  CPU per GET kas ${median(f.kas).toFixed(0)} ms + agentk ${median(f.agentk).toFixed(0)} ms` +
          `  (kas ${f.kas.map((n) => n.toFixed(0)).join(',')}; agentk ${f.agentk.map((n) => n.toFixed(0)).join(',')})\n`,
      );
    }
  } finally {
    for (const child of children.processes) child.kill('SIGTERM');
    upstream.close();
    upstream.closeAllConnections();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
