// agentk's memory: RSS (from /proc) of agentk run as a deployment runs it, right after start, idle,
// at the peak of a load of 50 concurrent GETs through kas, and a minute after that load. agentk is
// the production bundle (dist/agentk.js: build it with `node esbuild.mjs --production`, as `npm run
// bench` does) in its own process, with the image's environment (the ENV lines of
// Dockerfile.agentk, nothing of this shell's) and the deploy manifest's arguments and downward-API
// variables (deploy/agentk/agentk.yaml): wss:// to kas, leader election on its Lease, the
// observability listener, transport v2 with the pool's defaults. Only what a cluster provides
// differently is replaced: kas's address (a TLS front on loopback with kas's CA, where the cluster
// has kas's TLS listener), the token file, the kubeconfig (the dev cluster's, where the pod has its
// service account; leader election is on in a cluster, so it is turned on here) and the
// observability port (a free one). The rest of the system is the fault suite's (test/chaos/system.ts):
// the dev cluster and kas as separate processes on the local pair's data. Peer: a bare `node`
// process, the floor every Node program starts from. Budgets (issue 13): under 64 MiB idle, under
// 96 MiB a minute after a load.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { Load } from '../test/chaos/load';
import { Proc, freePort, sampleProc, sleep, waitFor } from '../test/chaos/procs';
import { ChaosSystem, REPO_ROOT } from '../test/chaos/system';
import { median } from './stats';

const IDLE_BUDGET_MIB = 64;
const AFTER_LOAD_BUDGET_MIB = 96;
const LOAD_MS = 30_000;
const RUNS = Number(process.env.AGENTK_MEMORY_RUNS ?? 3);
const DOCKERFILE = path.join(REPO_ROOT, 'Dockerfile.agentk');
const MANIFEST = path.join(REPO_ROOT, 'deploy', 'agentk', 'agentk.yaml');
/** The flags a cluster answers differently from this machine; the bench gives its own values. */
const REPLACED_FLAGS = ['--kas-address', '--token-file', '--observability-listen-address'];

const mib = (kib: number) => kib / 1024;

function rssMiB(proc: Proc): number {
  return mib(proc.sample()?.rssKiB ?? NaN);
}

/** The environment the image gives agentk: the ENV lines of Dockerfile.agentk's last stage (KEY=value pairs). */
export function imageEnvironment(dockerfile: string): Record<string, string> {
  const lastStage = dockerfile.split(/^FROM\s/m).at(-1) ?? '';
  const env: Record<string, string> = {};
  for (const line of lastStage.split('\n')) {
    const m = /^ENV\s+(.+)$/.exec(line.trim());
    if (!m) continue;
    for (const pair of m[1]!.split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new Error(`Dockerfile.agentk: ENV ${pair} is not KEY=value (the bench reads that form only)`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

interface ManifestEnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

interface DeployedAgentk {
  namespace: string;
  serviceAccountName: string;
  args: string[];
  env: ManifestEnvVar[];
}

/** The agentk container of the deploy manifest's Deployment. */
function deployedAgentk(manifest: string): DeployedAgentk {
  for (const doc of parseAllDocuments(manifest)) {
    const obj = doc.toJS() as {
      kind?: string;
      metadata?: { namespace?: string };
      spec?: {
        template?: { spec?: { serviceAccountName?: string; containers?: { name: string; args?: string[]; env?: ManifestEnvVar[] }[] } };
      };
    };
    if (obj?.kind !== 'Deployment') continue;
    const pod = obj.spec?.template?.spec;
    const container = pod?.containers?.find((c) => c.name === 'agentk');
    if (!container) break;
    return {
      namespace: obj.metadata?.namespace ?? 'default',
      serviceAccountName: pod?.serviceAccountName ?? 'default',
      args: container.args ?? [],
      env: container.env ?? [],
    };
  }
  throw new Error(`${MANIFEST}: no Deployment with an agentk container`);
}

/** The downward API's values for this one pod. */
function podEnvironment(deployed: DeployedAgentk, podName: string): Record<string, string> {
  const fields: Record<string, string> = {
    'metadata.name': podName,
    'metadata.namespace': deployed.namespace,
    'spec.serviceAccountName': deployed.serviceAccountName,
  };
  const env: Record<string, string> = {};
  for (const v of deployed.env) {
    const value = v.value ?? fields[v.valueFrom?.fieldRef?.fieldPath ?? ''];
    if (value === undefined) throw new Error(`${MANIFEST}: the bench cannot fill env ${v.name}`);
    env[v.name] = value;
  }
  return env;
}

/** kas's agent listener behind TLS, as the cluster reaches it (kascfg sets a certificate there); the front lives in the bench's process, not agentk's. */
async function tlsFront(certDir: string, kasAgentPort: number): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    { cert: readFileSync(path.join(certDir, 'tls.crt')), key: readFileSync(path.join(certDir, 'tls.key')) },
    (client) => {
      const upstream = net.connect(kasAgentPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.once('close', () => sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    },
  );
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** agentk as the deployment runs it (see the file header), against this system's kas through `frontPort`. */
function deployedAgentkProc(system: ChaosSystem, frontPort: number, logDir: string): Proc {
  const deployed = deployedAgentk(readFileSync(MANIFEST, 'utf8'));
  const kept = deployed.args.filter((a) => !REPLACED_FLAGS.includes(a.split('=')[0]!));
  const kasPath = new URL(deployed.args.find((a) => a.startsWith('--kas-address='))!.slice('--kas-address='.length)).pathname;
  return new Proc({
    name: 'agentk',
    command: process.execPath,
    args: [
      path.join(REPO_ROOT, 'dist', 'agentk.js'),
      `--kas-address=wss://127.0.0.1:${frontPort}${kasPath}`,
      `--ca-cert-file=${system.caFile}`,
      `--token-file=${path.join(system.dataDir, 'agentk-token')}`,
      '--observability-listen-address=127.0.0.1:0',
      `--kubeconfig=${system.adminKubeconfig}`,
      '--leader-election=on',
      ...kept,
    ],
    // A container's environment: the image's and the manifest's, none of this shell's (no proxies, no NODE_OPTIONS).
    env: { ...imageEnvironment(readFileSync(DOCKERFILE, 'utf8')), ...podEnvironment(deployed, 'agentk-bench-0') },
    logFile: path.join(logDir, 'agentk-deployed.log'),
    readyLine: /"msg":"became the leader"/,
  });
}

/**
 * Where a process's RSS lies, from /proc/<pid>/smaps (MiB): node's own code and read-only data,
 * malloc's main arena ([heap]), anonymous mappings (V8's heap, malloc's thread arenas, stacks),
 * shared libraries, the rest.
 */
function smapsBreakdown(pid: number): string {
  const totals = new Map<string, number>();
  let kind = 'other';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+\s+(\S+)\s+\S+\s+\S+\s+\S+\s*(.*)$/.exec(line);
    if (mapping) {
      const [, perms, file] = mapping as unknown as [string, string, string];
      if (file === process.execPath) kind = perms.includes('x') ? 'node text' : 'node data';
      else if (file === '[heap]') kind = 'malloc main arena';
      else if (file === '') kind = 'anonymous (V8 heap, thread arenas, stacks)';
      else if (/\.so(\.|$)/.test(file)) kind = 'shared libraries';
      else kind = 'other';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) totals.set(kind, (totals.get(kind) ?? 0) + Number(rss[1]));
  }
  return [...totals].map(([k, kib]) => `${k} ${mib(kib).toFixed(1)}`).join(', ');
}

/** Samples `proc`'s RSS once a second for `ms`; returns the median and the maximum. */
async function sampleFor(proc: Proc, ms: number): Promise<{ median: number; max: number }> {
  const values: number[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    values.push(rssMiB(proc));
    await sleep(1_000);
  }
  return { median: median(values), max: Math.max(...values) };
}

/** A bare node process that only waits: the RSS floor. */
async function bareNodeMiB(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
  await sleep(2_000);
  const rss = mib(sampleProc(child.pid!)?.rssKiB ?? NaN);
  child.kill('SIGKILL');
  return rss;
}

interface Run {
  atStart: number;
  idle: number;
  loadPeak: number;
  requests: number;
  afterMinute: number;
  kasIdle: number;
}

async function oneRun(): Promise<Run> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agentk-memory-'));
  const system = new ChaosSystem({ dir, replicas: false });
  let load: Load | undefined;
  let front: Awaited<ReturnType<typeof tlsFront>> | undefined;
  try {
    await system.start();
    // The suite's agentk (grpc://, a kubeconfig, no leader election) makes way for the deployed one.
    await system.agentk.stop();
    system.agentk.closeLog();
    const deployed = deployedAgentk(readFileSync(MANIFEST, 'utf8'));
    await promisify(execFile)('kubectl', ['--kubeconfig', system.adminKubeconfig, 'create', 'namespace', deployed.namespace]);
    front = await tlsFront(path.join(system.dataDir, 'kas-tls'), system.kasPorts[0]!.agent);
    system.agentk = deployedAgentkProc(system, front.port, dir);
    await system.agentk.start();
    const atStart = rssMiB(system.agentk);
    load = new Load({
      url: `${system.k8sProxyUrl}api/v1/namespaces/demo/pods`,
      token: system.tokens.proxyToken,
      caFile: system.caFile,
      concurrency: 50,
      deadlineMs: 25_000,
    });
    const probe = load;
    await waitFor('a request through the tunnel', async () => ((await probe.probe()) === 200 ? true : undefined), 60_000);
    await sleep(10_000);
    const idle = (await sampleFor(system.agentk, 10_000)).median;
    const kasIdle = rssMiB(system.kas[0]!);
    process.stderr.write(`bench: agentk idle, smaps (MiB): ${smapsBreakdown(system.agentk.pid!)}\n`);
    load.start();
    const peak = await sampleFor(system.agentk, LOAD_MS);
    await load.stop();
    const requests = load.records.filter((r) => r.outcome === 200).length;
    load = undefined;
    const series: number[] = [];
    for (let s = 0; s < 6; s++) {
      await sleep(10_000);
      series.push(rssMiB(system.agentk));
    }
    process.stderr.write(`bench: agentk a minute after the load, smaps (MiB): ${smapsBreakdown(system.agentk.pid!)}\n`);
    const run = { atStart, idle, loadPeak: peak.max, requests, afterMinute: series.at(-1)!, kasIdle };
    process.stderr.write(
      `bench: agentk run: start ${atStart.toFixed(1)}, idle ${idle.toFixed(1)}, peak ${run.loadPeak.toFixed(1)} MiB (${requests} requests); ` +
        `every 10 s after the load: ${series.map((v) => v.toFixed(1)).join(', ')} MiB\n`,
    );
    return run;
  } finally {
    await load?.stop();
    await system.stop();
    await front?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function run(): Promise<string> {
  const loadAtStart = os.loadavg();
  const floor = await bareNodeMiB();
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await oneRun());
  const loadAtEnd = os.loadavg();
  const f = (v: number) => `${v.toFixed(1)} MiB`;
  const m = (pick: (r: Run) => number) => median(runs.map(pick));
  const cell = (pick: (r: Run) => number) => `${f(m(pick))} [${runs.map((r) => pick(r).toFixed(1)).join(' ')}]`;
  const idle = m((r) => r.idle);
  const after = m((r) => r.afterMinute);
  const loads = (l: number[]) => l.map((v) => v.toFixed(1)).join(' / ');
  return [
    '## agentk memory',
    '',
    `RSS of agentk run as the deployment runs it (\`bench/agentk_memory.bench.ts\`): the production bundle \`dist/agentk.js\` ` +
      "in its own process, the image's environment (Dockerfile.agentk's ENV), the deploy manifest's arguments and pod variables " +
      '(wss:// to kas, leader election on, the observability listener, transport v2), against the dev cluster through kas. ' +
      `Median of ${RUNS} runs [each run]. Load: 50 concurrent GETs of the demo namespace's pods through the kas k8s proxy for ` +
      `${LOAD_MS / 1000} s (${Math.round(m((r) => r.requests))} requests answered per run). ` +
      `Load average at the start ${loads(loadAtStart)}, at the end ${loads(loadAtEnd)} (2 cores shared with other work).`,
    '',
    '| measurement | agentk RSS | budget |',
    '| --- | ---: | --- |',
    `| right after start | ${cell((r) => r.atStart)} | |`,
    `| idle (median over 10 s, from 10 s after the first request) | ${cell((r) => r.idle)} | < ${IDLE_BUDGET_MIB} MiB: ${idle < IDLE_BUDGET_MIB ? 'met' : '**not met**'} |`,
    `| peak under load | ${cell((r) => r.loadPeak)} | |`,
    `| a minute after the load | ${cell((r) => r.afterMinute)} | < ${AFTER_LOAD_BUDGET_MIB} MiB: ${after < AFTER_LOAD_BUDGET_MIB ? 'met' : '**not met**'} |`,
    `| peer: a bare \`node\` process | ${f(floor)} | |`,
    `| for comparison: kas idle | ${cell((r) => r.kasIdle)} | |`,
  ].join('\n');
}
