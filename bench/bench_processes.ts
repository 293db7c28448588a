// What the tunnel benchmarks' processes share (tunnel.bench.ts, idle_agents.bench.ts): each bench
// bundles its own file with esbuild and runs its roles from that bundle (as dist/ ships kas and
// agentk: no tsx loader thread in the profiles), reads CPU time from /proc, and runs the same kas.
import { buildSync } from 'esbuild';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { createLogger } from '../agent/internal/log';
import type { AuthenticatedAgent } from '../agent/modules/agent_registry/agent_tokens';
import { createKubernetesApiProxy } from '../agent/modules/kubernetes_api';
import { httpTunnelUpgrades, startHttpTunnelServer, type HttpTunnelServer } from '../agent/modules/http_tunnel';
import { reverseTunnelService, startAgentServer, TunnelRegistry } from '../agent/modules/reverse_tunnel';

/** Where a bench's roles bundle goes (dist/ is not committed); not minified, so profiles read. */
export function bundleRoles(entry: string, name: string): string {
  const outfile = path.join(__dirname, '..', 'dist', 'bench', `${name}.js`);
  buildSync({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    legalComments: 'none',
    logLevel: 'error',
    external: ['esbuild'],
  });
  return outfile;
}

/**
 * The environment kas's image sets for its process (Dockerfile.kas, deploy/systemd/kas.service):
 * a bench's kas role runs with it, as kas runs. BENCH_KAS_TRIM=<bytes> measures another glibc trim
 * threshold (131072 is glibc's default).
 */
export const KAS_PROCESS_ENV: Record<string, string> = {
  MALLOC_TRIM_THRESHOLD_: process.env.BENCH_KAS_TRIM ?? String(64 * 1024 * 1024),
};

/** BENCH_CPU_PROF_DIR=<dir>: each role process writes a CPU profile there when it stops. */
export function profileArgs(): string[] {
  return process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [];
}

/** utime + stime of a process in milliseconds, from /proc (Linux; USER_HZ is 100 there); NaN when unreadable. */
export function cpuMs(pid: number): number {
  if (!Number.isInteger(pid)) return NaN;
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/**
 * CPU time of all a process's threads in milliseconds, from /proc/<pid>/task/<tid>/schedstat
 * (nanoseconds: fine enough for one request, unlike cpuMs's 10 ms ticks); NaN when unreadable.
 * A thread that ended in between takes its time with it (Node's threads live as long as the process).
 */
export function cpuMsFine(pid: number): number {
  if (!Number.isInteger(pid)) return NaN;
  try {
    let ns = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // a thread that ended since the listing
      }
    }
    return ns / 1e6;
  } catch {
    return NaN;
  }
}

/** Minor page faults of a process so far (/proc/<pid>/stat field 10); NaN when unreadable. */
export function minorPageFaults(pid: number): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[7]);
  } catch {
    return NaN;
  }
}

export interface BenchKas {
  tunnels: TunnelRegistry;
  httpTunnels: HttpTunnelServer;
  agentAddress: string;
  proxyUrl: string;
}

// One access_as object, as kas's authorizer returns its agent config's (agent_registry/authorize.ts).
const ALLOWED = { allowed: true, accessAs: { agent: {} } } as const;

/** A kas as the kas modules assemble it (both transports, the Kubernetes API proxy), every user allowed. */
export async function startBenchKas(authenticateAgent: (token: string) => Promise<AuthenticatedAgent | undefined>): Promise<BenchKas> {
  const logger = createLogger({}, { level: 'error' });
  const tunnels = new TunnelRegistry();
  const httpTunnels = startHttpTunnelServer({ authenticateAgent, serverName: 'kas-bench', logger });
  const agentServer = await startAgentServer({
    address: '127.0.0.1:0',
    services: [reverseTunnelService({ registry: tunnels, logger, authenticateAgent })],
    upgrades: httpTunnelUpgrades(httpTunnels),
    logger,
  });
  const proxy = createKubernetesApiProxy({
    tunnels,
    serverName: 'kas-bench',
    logger,
    authorizeUser: async () => ALLOWED,
    directRoute: httpTunnels.route,
  });
  const server = http.createServer(proxy);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    tunnels,
    httpTunnels,
    agentAddress: agentServer.address,
    proxyUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/k8s-proxy`,
  };
}
