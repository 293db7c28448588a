// Several kas replicas: what a request costs when it enters a replica that does not hold the
// agent's tunnels (routed through the other replica's private API) compared with one that does,
// and how many Redis commands each proxied request costs in steady state (INFO commandstats).
// In-process, like the tests: 2 kas replicas, 1 agentk connected to the first, a real redis-server.
import * as http from 'node:http';
import os from 'node:os';
import { runAgentk, type Agentk } from '../agent/agentk/index';
import { testLogger } from '../test/kas/helpers';
import { RedisServer, prepareFleet, type Fleet } from '../test/modules/replicas/harness';
import { startUpstream, writeKubeconfig, type Upstream } from '../test/modules/reverse_tunnel/harness';
import { formatMs, percentile, timeRuns } from './stats';

const ITERATIONS = 1_000;

function requester(url: string, token: string): () => Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return () =>
    new Promise((resolve, reject) => {
      const req = http.get(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on('error', reject);
    });
}

export default async function run(): Promise<string> {
  const loadAtStart = os.loadavg();
  let redis: RedisServer | undefined;
  let fleet: Fleet | undefined;
  let upstream: Upstream | undefined;
  let agentk: Agentk | undefined;
  try {
    redis = await RedisServer.start();
    fleet = prepareFleet(redis);
    const [holder, router] = [await fleet.startReplica(), await fleet.startReplica()];
    const agentId = holder.registry.watcher.agentByName('alpha')!.id;
    const userToken = (await holder.registry.userTokens.create({ kind: 'user', username: 'ada', groups: ['platform'], projects: [] }))
      .token;
    upstream = await startUpstream();
    const kubeconfig = await writeKubeconfig(fleet.dir, upstream.url);
    const agentToken = (await holder.registry.agentTokens.create('alpha')).token;
    agentk = await runAgentk({
      kasAddress: `grpc://${holder.agentAddress}`,
      token: agentToken,
      kubeconfig,
      observabilityAddress: null,
      podName: 'bench',
      podNamespace: 'agents',
      logger: testLogger(),
    });
    const credential = `pat:${agentId}:${userToken}`;
    const same = requester(`${holder.k8sProxyUrl}api/v1/namespaces`, credential);
    const cross = requester(`${router.k8sProxyUrl}api/v1/namespaces`, credential);
    await timeRuns(cross, 50, 50); // warm-up; also lets the router learn the holder from Redis
    const callsBefore = await redis.commandCalls();
    const connectionsBefore = holder.privateApiConnectionsAccepted?.() ?? 0;
    const sameRuns = await timeRuns(same, ITERATIONS);
    const crossRuns = await timeRuns(cross, ITERATIONS);
    const callsAfter = await redis.commandCalls();
    const connectionsOpened = (holder.privateApiConnectionsAccepted?.() ?? 0) - connectionsBefore;
    const requests = 2 * (ITERATIONS + Math.min(20, ITERATIONS));
    return formatSection(sameRuns, crossRuns, (callsAfter - callsBefore) / requests, connectionsOpened, loadAtStart);
  } finally {
    await agentk?.stop();
    for (const kas of fleet?.replicas ?? []) await kas.stop();
    await upstream?.stop();
    await redis?.kill();
    fleet?.remove();
  }
}

function formatSection(same: number[], cross: number[], commandsPerRequest: number, connectionsOpened: number, load: number[]): string {
  const row = (name: string, runs: number[]) => `| ${name} | ${formatMs(percentile(runs, 50))} | ${formatMs(percentile(runs, 99))} |`;
  return [
    '## Several kas replicas: cross-replica routing',
    '',
    `Two kas replicas and one agentk (connected to the first) in one process, a real redis-server, an echo upstream; ${ITERATIONS} sequential GETs per path over one keep-alive connection. ` +
      `Load average at the start: ${load.map((l) => l.toFixed(1)).join(' / ')}.`,
    '',
    '| path | p50 | p99 |',
    '| --- | ---: | ---: |',
    row('same replica (holds the tunnels)', same),
    row('other replica (routed through the private API)', cross),
    '',
    `Extra latency of a cross-replica request: p50 ${formatMs(percentile(cross, 50) - percentile(same, 50))}, p99 ${formatMs(percentile(cross, 99) - percentile(same, 99))}. ` +
      `Redis commands per proxied request in steady state (INFO commandstats delta over both runs): ${commandsPerRequest.toFixed(3)}. ` +
      'Routing reads memory only; what remains is the shared rate limit adding its local count in Redis (MULTI/INCRBY/PEXPIRE/EXEC per active token every 10 s), ' +
      'which does not grow with the request rate. ' +
      `Private API connections opened for the ${ITERATIONS} measured cross-replica requests: ${connectionsOpened} (the routing replica reuses a pool of WebSockets per peer; ` +
      'before pooling every request opened its own, at about +0.6-0.7 ms p50).',
  ].join('\n');
}

if (require.main === module) {
  run().then(
    (text) => process.stdout.write(`${text}\n`),
    (err: unknown) => {
      process.stderr.write(`multi_kas bench failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
