// kill -9 of the replica holding an agent's tunnels: that replica runs as its own process (the
// bundled kas program), the other in-process; agentk reaches them through a TCP load balancer.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { runAgentk, type Agentk } from '../../../agent/agentk/index';
import { testLogger } from '../../kas/helpers';
import { startUpstream, writeKubeconfig, type Upstream } from '../reverse_tunnel/harness';
import * as net from 'node:net';
import { RedisServer, TcpBalancer, freePort, get, prepareFleet, waitFor, type Fleet } from './harness';

const KAS_PROGRAM = path.join('dist', 'kas.js');

interface KasProcess {
  child: ChildProcess;
  agentAddress: string;
}

/** Starts dist/kas.js and reads its listener addresses from its "kas started" log line. */
async function startKasProcess(configFile: string): Promise<KasProcess> {
  const child = spawn(process.execPath, [KAS_PROGRAM, '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = createInterface({ input: child.stderr! });
  const agentAddress = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; agentAddress?: string };
      if (entry.msg === 'kas started' && entry.agentAddress) resolve(entry.agentAddress);
    });
    child.once('exit', (code) => reject(new Error(`kas exited early (${code})`)));
  });
  return { child, agentAddress };
}

/**
 * The crashing replica's advertised private API: forwards until the kill, then accepts and stays
 * silent (a replica whose host vanished: no refusal, no reset), for new and open connections.
 */
class VanishingHost {
  vanished = false;
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((client) => {
    this.sockets.add(client);
    client.once('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    if (this.vanished) return;
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    this.sockets.add(upstream);
    upstream.on('error', () => undefined);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (!this.vanished) client.write(chunk);
    });
    client.on('data', () => this.vanished && client.unpipe(upstream));
  });
  url = '';
  constructor(private readonly targetPort: number) {}
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('kas replicas: kill -9 of the replica holding the tunnels', function () {
  this.timeout(90_000);
  let redis: RedisServer;
  let fleet: Fleet;
  let upstream: Upstream;
  let balancer: TcpBalancer | undefined;
  let agentk: Agentk | undefined;
  let crashing: KasProcess | undefined;
  let host: VanishingHost | undefined;

  before(function () {
    if (!existsSync(KAS_PROGRAM)) this.skip(); // npm test builds dist/ first
  });

  after(async () => {
    await agentk?.stop();
    await balancer?.stop();
    if (crashing && crashing.child.exitCode === null) crashing.child.kill('SIGKILL');
    for (const kas of fleet?.replicas ?? []) await kas.stop();
    await upstream?.stop();
    await host?.stop();
    await redis?.kill();
    fleet?.remove();
  });

  it('agentk reconnects to the surviving replica and no request waits longer than that reconnect plus a notification', async () => {
    redis = await RedisServer.start();
    fleet = prepareFleet(redis);
    const survivor = await fleet.startReplica();
    const privateApiPort = await freePort();
    host = new VanishingHost(privateApiPort);
    await host.start();
    const configFile = path.join(fleet.dir, 'kascfg.yaml');
    writeFileSync(
      configFile,
      stringify({
        agent: { listen: { address: '127.0.0.1:0', listen_grace_period: '0s' }, kubernetes_api: { listen: { address: '127.0.0.1:0' } } },
        observability: { listen: { address: '127.0.0.1:0' } },
        api: { listen: { address: '127.0.0.1:0' } },
        registry: { config_repository: fleet.repo.dir, data_dir: path.join(fleet.dir, 'data'), project_id: 'team/agents' },
        redis: { server: { address: redis.address }, key_prefix: 'kas-test', tracker_refresh_period: '1m', tracker_ttl: '2m' },
        private_api: {
          listen: { address: `127.0.0.1:${privateApiPort}` },
          advertise_url: host.url,
          authentication_secret_file: path.join(fleet.dir, 'private-api.secret'),
        },
      }),
    );
    crashing = await startKasProcess(configFile);
    const agentId = survivor.registry.watcher.agentByName('alpha')!.id;
    const userToken = (await survivor.registry.userTokens.create({ kind: 'user', username: 'ada', groups: ['platform'], projects: [] }))
      .token;
    const agentToken = (await survivor.registry.agentTokens.create('alpha')).token;
    upstream = await startUpstream();
    balancer = new TcpBalancer([crashing.agentAddress]);
    await balancer.start();
    agentk = await runAgentk({
      kasAddress: `grpc://${balancer.address}`,
      token: agentToken,
      kubeconfig: await writeKubeconfig(fleet.dir, upstream.url),
      observabilityAddress: null,
      podName: 'alpha-1',
      podNamespace: 'agents',
      logger: testLogger(),
    });
    const request = () => get(`${survivor.k8sProxyUrl}api/v1/namespaces`, `pat:${agentId}:${userToken}`);
    await waitFor('alpha served by the survivor through the other process', async () =>
      (await request()).status === 200 ? true : undefined,
    );
    assert.equal(survivor.tunnels.connectedAgents().length, 0, 'the survivor holds no tunnel of its own yet: the request was routed');

    // Requests run without pause from before the kill until agentk is served by the survivor.
    let firstLocalTunnelAt: number | undefined;
    const stopWatching = survivor.tunnels.onRegister((identity) => {
      if (identity.agentId === String(agentId)) firstLocalTunnelAt ??= Date.now();
    });
    const samples: Array<{ start: number; end: number; status: number }> = [];
    let running = true;
    const loops = Array.from({ length: 4 }, async () => {
      while (running) {
        const start = Date.now();
        const status = await request().then(
          (r) => r.status,
          () => 0,
        );
        samples.push({ start, end: Date.now(), status });
      }
    });
    await waitFor('requests in flight before the kill', () => samples.length >= 8 || undefined);
    balancer.backends = [survivor.agentAddress];
    const killedAt = Date.now();
    host.vanished = true;
    crashing.child.kill('SIGKILL');
    await waitFor('a tunnel of agentk on the survivor', () => firstLocalTunnelAt, 60_000);
    await waitFor(
      'requests after the reconnect',
      () => samples.filter((s) => s.start > firstLocalTunnelAt!).length >= 8 || undefined,
      60_000,
    );
    running = false;
    await Promise.all(loops);
    stopWatching();
    const reconnectedAt = firstLocalTunnelAt!;
    console.log(`      agentk's tunnel reached the survivor ${reconnectedAt - killedAt} ms after kill -9 of its replica`);
    // Defect 8's rule: no request waits past agentk's reconnect plus a notification. The allowance
    // (1.5 s) covers one tracker write and pub/sub delivery and the proxy's own hop on a loaded
    // 2-core machine, well below the old stall (~7 s on a dead replica's record).
    const ALLOWANCE_MS = 1_500;
    assert.deepEqual(
      samples.filter((s) => s.status !== 200),
      [],
      'no request failed',
    );
    const late = samples.filter((s) => s.end > Math.max(s.start, reconnectedAt) + ALLOWANCE_MS);
    assert.deepEqual(late, [], `no request ended later than ${ALLOWANCE_MS} ms after the reconnect (or after its own start)`);
    assert.equal(survivor.tunnels.connectedAgents()[0]?.agentId, String(agentId), 'agentk now holds tunnels to the survivor');
    for (let i = 0; i < 5; i++)
      assert.equal((await request()).status, 200, 'requests keep working despite the dead replica’s records in Redis');
  });
});
